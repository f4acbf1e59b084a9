"""The serving engine as a long-running process: ``engines.chat_server`` on a Unix socket.

The loader may not import the engine (it is a sibling layer, and it runs sandboxed anyway); it
copies the engine's package out of its own measured image into the scratch area and starts it.

Sandboxed (the default; Linux, as root): the very isolation of an order's engine
(``trusted_loader.sandbox.run_engine``: empty network namespace, private root, seccomp, uid 65534,
a cgroup with a memory cap), run in a thread with a ``stop`` event. The model folder is
``/input`` (read-only); the engine creates its socket in ``/output`` (a private tmpfs in the
scratch area), which is the only way in or out. The run's wall-clock limit is the service's
remaining lifetime, its CPU limit that many seconds on every core it may use.

Unsandboxed (``sandboxed=False``, the setting ``insecure_unsandboxed_engine``, for development on
a machine without root): a plain child process, with the socket in a 0700 scratch folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from enclava.logs import get_logger
from enclava.protocol.engine.errors import EngineRunError, SandboxUnavailable
from enclava.protocol.engine.manifest import EngineInfo, EngineManifest, Limits, OutputSpec
from trusted_loader.sandbox import OUTPUT_DIR, DeviceNode, EngineRun, run_engine
from trusted_loader.scratch import Scratch
from trusted_loader.serving.errors import EngineUnavailable

__all__ = ["EngineProcess", "engine_package_root"]

log = get_logger("trusted_loader.serving.engine")

_PACKAGE = ("engines", "chat_server")
_SOCKET = "engine.sock"
_ENTRY = "serve.py"
_POLL_S = 0.1
_STOP_GRACE_S = 10.0
_MAX_LIFETIME_S = 10 * 365 * 86_400
_SUN_PATH_MAX = 107  # sockaddr_un's path, less its terminating NUL
#: The entry the sandbox runs: the engine's package as ``__main__`` with fixed arguments.
_WRAPPER = """\
import os, runpy, sys
os.environ.update({env!r})
sys.argv = {argv!r}
runpy.run_module("engines.chat_server", run_name="__main__", alter_sys=True)
"""


def engine_package_root() -> Path:
    """The folder that holds ``engines/chat_server`` beside ``trusted_loader`` (the loader's
    image: a checkout or site-packages), found on disk without importing the engine."""
    return Path(__file__).resolve().parents[2]


def _copy_package(source_root: Path, dest_root: Path) -> None:
    """Copy ``engines/__init__.py`` and ``engines/chat_server`` (no caches, no hidden files),
    world-readable for the sandbox's uid."""
    source = source_root.joinpath(*_PACKAGE)
    if not (source / "__main__.py").is_file():
        raise EngineUnavailable(f"the serving engine is not in the image: {source}")
    os.makedirs(dest_root / "engines", mode=0o755, exist_ok=True)
    shutil.copyfile(source_root / "engines" / "__init__.py", dest_root / "engines" / "__init__.py")
    shutil.copytree(
        source,
        dest_root.joinpath(*_PACKAGE),
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"),
    )
    for folder, dirs, files in os.walk(dest_root):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)


class EngineProcess:
    """``start()`` the engine for ``model_dir``, ``socket_path`` to talk to it, ``stop()``.

    ``scratch`` is the service's entered scratch area; ``engine_args`` are extra command-line
    arguments (e.g. the served model's name); ``lifetime_s`` bounds the run.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        scratch: Scratch,
        lifetime_s: float,
        engine_args: tuple[str, ...] = (),
        memory_mb: int = 8192,
        threads: int | None = None,
        sandboxed: bool = True,
        gpu_devices: tuple[DeviceNode, ...] = (),
        startup_timeout_s: float = 600.0,
        source_root: Path | None = None,
    ) -> None:
        if scratch.path is None:
            raise EngineUnavailable("the engine needs an entered scratch area")
        self.model_dir = Path(model_dir).resolve()
        self.scratch = scratch
        self.lifetime_s = max(1.0, min(float(lifetime_s), _MAX_LIFETIME_S))
        self.engine_args = tuple(engine_args)
        self.memory_mb = int(memory_mb)
        self.threads = threads or max(1, len(os.sched_getaffinity(0)) - 1)
        self.sandboxed = sandboxed
        self.gpu_devices = gpu_devices
        self.startup_timeout_s = startup_timeout_s
        self.source_root = source_root or engine_package_root()
        self.socket_path: Path | None = None
        self._folder_fd: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._run: EngineRun | None = None
        self._error: BaseException | None = None

    # -- start -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the engine and wait until its ``/healthz`` answers 200."""
        engine_dir = self.scratch.sub("chat-engine", mode=0o755)
        _copy_package(self.source_root, engine_dir)
        env = {
            "OMP_NUM_THREADS": str(self.threads),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        if self.sandboxed:
            self._start_sandboxed(engine_dir, env)
        else:
            self._start_plain(engine_dir, env)
        self._wait_healthy()
        log.info("serving engine ready", extra={"sandboxed": self.sandboxed})

    def _start_sandboxed(self, engine_dir: Path, env: dict[str, str]) -> None:
        output_dir = self.scratch.path / "engine-socket"  # type: ignore[operator]
        argv = ["engines.chat_server", "--model", "/input", "--uds", f"{OUTPUT_DIR}/{_SOCKET}"]
        (engine_dir / _ENTRY).write_text(
            _WRAPPER.format(env={**env, "HOME": "/scratch"}, argv=[*argv, *self.engine_args])
        )
        os.chmod(engine_dir / _ENTRY, 0o644)
        cores = max(1, len(os.sched_getaffinity(0)))
        wall = int(self.lifetime_s)
        limits = Limits.model_construct(  # a service may outlive the one-day bound of an order
            cpu_seconds=wall * cores + 60,
            memory_mb=self.memory_mb,
            wall_seconds=wall,
            output_bytes=64 * 1024 * 1024,
        )
        manifest = EngineManifest(
            engine=EngineInfo(name="chat-server", version="1", kind="infer", entrypoint=_ENTRY),
            outputs=(OutputSpec(name="socket", file=_SOCKET),),
        )
        self.socket_path = output_dir / _SOCKET

        def run() -> None:
            try:
                self._run = run_engine(
                    engine_dir,
                    manifest,
                    self.model_dir,
                    output_dir,
                    seed=0,
                    order_id="service",
                    scratch=self.scratch,
                    limits=limits,
                    gpu_devices=self.gpu_devices,
                    stop=self._stop,
                )
            except BaseException as exc:  # noqa: BLE001 - reported by alive()/start()
                self._error = exc

        self._thread = threading.Thread(target=run, name="serving-engine", daemon=True)
        self._thread.start()

    def _start_plain(self, engine_dir: Path, env: dict[str, str]) -> None:
        folder = self.scratch.sub("engine-socket-plain", mode=0o700)
        self.socket_path = folder / _SOCKET
        command = [
            sys.executable,
            "-m",
            "engines.chat_server",
            "--model",
            str(self.model_dir),
            "--uds",
            _SOCKET,  # relative to its working folder: short whatever the scratch root
            *self.engine_args,
        ]
        child_env = {
            key: value
            for key, value in os.environ.items()
            if key in ("PATH", "LANG", "LC_ALL", "HOME")
        }
        child_env.update(env, PYTHONPATH=str(engine_dir), PYTHONNOUSERSITE="1")
        try:
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,  # never the host's log: it may hold request data
                env=child_env,
                cwd=str(folder),
                start_new_session=True,
            )
        except OSError as exc:
            raise EngineUnavailable(f"cannot start the serving engine: {exc}") from exc

    @property
    def socket_address(self) -> str:
        """The path to connect to: the socket's own, or, when that is longer than a Unix socket
        address holds (a deep scratch root), the same socket through an open descriptor of its
        folder (``/proc/self/fd/N/engine.sock``, valid in this process only)."""
        if self.socket_path is None:
            raise EngineUnavailable("the engine is not started")
        path = str(self.socket_path)
        if len(os.fsencode(path)) <= _SUN_PATH_MAX:
            return path
        if self._folder_fd is None:
            self._folder_fd = os.open(
                self.socket_path.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC
            )
        return f"/proc/self/fd/{self._folder_fd}/{self.socket_path.name}"

    def _wait_healthy(self) -> None:
        assert self.socket_path is not None
        deadline = time.monotonic() + self.startup_timeout_s
        client: httpx.Client | None = None
        try:
            while True:
                if not self.alive():
                    self.stop()
                    raise self._failure("the serving engine exited while starting")
                if client is None and self.socket_path.exists():  # folder mounted, socket bound
                    client = httpx.Client(
                        transport=httpx.HTTPTransport(uds=self.socket_address),
                        base_url="http://engine",
                        timeout=5.0,
                    )
                if client is not None:
                    try:
                        if client.get("/healthz").status_code == 200:
                            return
                    except httpx.HTTPError:
                        pass
                if time.monotonic() > deadline:
                    self.stop()
                    raise EngineUnavailable(
                        "the serving engine did not answer /healthz in "
                        f"{self.startup_timeout_s:g} s"
                    )
                time.sleep(_POLL_S)
        finally:
            if client is not None:
                client.close()

    def _failure(self, what: str) -> EngineUnavailable:
        error = self._error
        if isinstance(error, SandboxUnavailable):
            return EngineUnavailable(
                f"{what}: the sandbox is unavailable ({error.message})",
                hint="Run the loader as root on Linux, or set insecure_unsandboxed_engine for "
                "development.",
            )
        if isinstance(error, EngineRunError):
            failure = EngineUnavailable(f"{what}: {error.code}")
            failure.__cause__ = error
            return failure
        if self._proc is not None:
            return EngineUnavailable(f"{what} (exit code {self._proc.returncode})")
        return EngineUnavailable(what)

    # -- state and stop --------------------------------------------------------------------------

    def alive(self) -> bool:
        """Whether the engine process still runs."""
        if self._thread is not None:
            return self._thread.is_alive()
        if self._proc is not None:
            return self._proc.poll() is None
        return False

    def stop(self) -> None:
        """SIGTERM the engine, SIGKILL it after a grace period; safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2 * _STOP_GRACE_S + 10)
        if self._proc is not None and self._proc.poll() is None:
            try:
                os.killpg(self._proc.pid, signal.SIGTERM)
                self._proc.wait(timeout=_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
            except ProcessLookupError:
                pass
        if self._folder_fd is not None:
            os.close(self._folder_fd)
            self._folder_fd = None
        log.info("serving engine stopped", extra={"sandboxed": self.sandboxed})

    def __enter__(self) -> EngineProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
