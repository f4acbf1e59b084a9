"""``run_engine``: run one engine in the sandbox and turn what happened into a result or a typed error.

What is enforced (Linux, as root; anything that cannot be set up fails closed with
``SandboxUnavailable``): fresh network namespace with only a down loopback; fresh mount, PID, IPC and
UTS namespaces; a new root holding only system libraries, the interpreter, ``/engine`` (read-only),
``/input`` (read-only), ``/output`` (writable) and private tmpfs ``/scratch`` (cwd), ``/tmp``,
``/dev/shm``; uid/gid 65534 without capabilities and with ``no_new_privs``; RLIMIT_CPU, RLIMIT_AS
(``memory_mb`` counts address space, which torch alone reserves ~3 GiB of), RLIMIT_FSIZE, RLIMIT_NPROC;
a wall-clock limit after which the whole process group (and with it the PID namespace) is killed;
an environment of ``ENCLAVA_*`` plus ``PATH``/``HOME``/``TMPDIR``/``LANG`` only.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from enclava.engine.errors import (
    EngineCpuExceeded,
    EngineFailed,
    EngineMemoryExceeded,
    EngineNetworkDenied,
    EngineTimeout,
    OutputMissing,
    OutputTooLarge,
    SandboxUnavailable,
)
from enclava.engine.manifest import EngineManifest, Limits
from enclava.logs import get_logger

__all__ = ["EngineRun", "run_engine", "SANDBOX_UID", "INPUT_DIR", "OUTPUT_DIR", "ENGINE_DIR"]

SANDBOX_UID = 65534
ENGINE_DIR, INPUT_DIR, OUTPUT_DIR = "/engine", "/input", "/output"
_HERE = Path(__file__).resolve().parent
_SYSTEM_PATHS = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"]
_ETC_FILES = ["/etc/ld.so.cache"]
_TMP_BYTES = 64 * 1024 * 1024
_KILL_GRACE_S = 5.0
_TAIL_LINES, _TAIL_LINE_CHARS = 20, 200
_log = get_logger(__name__)


@dataclass(frozen=True)
class EngineRun:
    """What one sandboxed run did. No content of inputs or outputs, only sizes and resources."""

    exit_code: int | None
    signal: int | None
    wall_seconds: float
    cpu_seconds: float
    peak_rss_bytes: int | None
    output_bytes: int
    outputs: dict[str, int] = field(default_factory=dict)  # relative path -> size


def _python_paths() -> list[str]:
    """The interpreter's folders the engine needs, minus anything already under a system path."""
    candidates = [sys.base_prefix, sys.prefix]
    candidates += [p for p in sys.path if p and ("site-packages" in p or "dist-packages" in p)]
    chosen: list[str] = []
    for path in sorted({os.path.realpath(p) for p in candidates} | {os.path.abspath(p) for p in candidates}):
        if not os.path.isdir(path) or any(path == s or path.startswith(s + "/") for s in _SYSTEM_PATHS):
            continue
        if any(path.startswith(c + "/") for c in chosen):
            continue
        chosen.append(path)
    return chosen


def _prepare_dirs(input_dir: Path, output_dir: Path) -> None:
    """Let the sandbox user read the inputs (by group) and own the empty output folder."""
    for root, dirs, files in os.walk(input_dir):
        for name in [root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)]:
            info = os.lstat(name)
            os.lchown(name, -1, SANDBOX_UID)
            if not os.path.islink(name):
                extra = 0o050 if os.path.isdir(name) else 0o040
                os.chmod(name, (info.st_mode & 0o700) | extra)
    output_dir.mkdir(parents=True, exist_ok=True)
    if any(output_dir.iterdir()):
        raise SandboxUnavailable(f"output folder {output_dir} must be empty")
    os.chown(output_dir, SANDBOX_UID, SANDBOX_UID)
    os.chmod(output_dir, 0o700)


def _scan_outputs(output_dir: Path) -> tuple[dict[str, int], list[str]]:
    sizes: dict[str, int] = {}
    odd: list[str] = []
    for root, dirs, files in os.walk(output_dir):
        for name in dirs + files:
            full = Path(root) / name
            rel = full.relative_to(output_dir).as_posix()
            if full.is_symlink() or not (full.is_file() or full.is_dir()):
                odd.append(rel)
            elif full.is_file():
                sizes[rel] = full.stat().st_size
    return sizes, odd


_NUMBER = re.compile(r"[-+]?\d[\d.eE+-]{2,}")
_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{32,}")


def _stderr_tail(path: Path) -> str:
    """The last lines of stderr, bounded, with numbers and long tokens masked (they may be data)."""
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - 8192))
        text = handle.read().decode("utf-8", "replace")
    lines = text.splitlines()[-_TAIL_LINES:]
    masked = [_TOKEN.sub("<redacted>", _NUMBER.sub("<n>", line))[:_TAIL_LINE_CHARS] for line in lines]
    return "\n".join(masked)


def run_engine(
    engine_dir: str | Path,
    manifest: EngineManifest,
    input_dir: str | Path,
    output_dir: str | Path,
    *,
    seed: int,
    order_id: str,
    limits: Limits | None = None,
    scratch: str | Path | None = None,
) -> EngineRun:
    """Run ``manifest``'s entrypoint in the sandbox; raise a typed ``EngineRunError`` on failure.

    ``scratch`` is where the run's private bookkeeping (mount point, status, stderr) goes; it should
    be the loader's private tmpfs. Nothing of it is visible to the engine.
    """
    limits = limits or manifest.limits
    engine_dir, input_dir, output_dir = (Path(p).resolve() for p in (engine_dir, input_dir, output_dir))
    _prepare_dirs(input_dir, output_dir)
    run_dir = Path(tempfile.mkdtemp(prefix="enclava-sandbox-", dir=scratch))
    (run_dir / "root").mkdir()
    status_path = run_dir / "status.json"
    entry = f"{ENGINE_DIR}/{manifest.engine.entrypoint}"
    config = {
        "root": str(run_dir / "root"),
        "status_path": str(status_path),
        "uid": SANDBOX_UID,
        "system_paths": _SYSTEM_PATHS,
        "python_paths": _python_paths(),
        "etc_files": _ETC_FILES,
        "engine_dir": str(engine_dir),
        "input_dir": str(input_dir),
        "output_dir": str(output_dir),
        "tmp_bytes": _TMP_BYTES,
        "max_processes": 512,
        "limits": {
            "cpu_seconds": limits.cpu_seconds,
            "memory_bytes": limits.memory_mb * 1024 * 1024,
            "output_bytes": limits.output_bytes,
        },
        "python": sys.executable,
        "argv": [sys.executable, "-E", "-s", "-B", "-c", (_HERE / "_bootstrap.py").read_text(), entry],
        "env": {
            "ENCLAVA_INPUT_DIR": INPUT_DIR,
            "ENCLAVA_OUTPUT_DIR": OUTPUT_DIR,
            "ENCLAVA_SEED": str(int(seed)),
            "ENCLAVA_ORDER_ID": str(order_id),
            "PATH": "/usr/bin:/bin",
            "HOME": "/scratch",
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1",
        },
    }
    launcher = [sys.executable, "-S", "-E", "-B", str(_HERE / "_isolate.py"), json.dumps(config)]
    started = time.perf_counter()
    timed_out = False
    with open(run_dir / "stdout", "wb") as out, open(run_dir / "stderr", "wb") as err:
        try:
            proc = subprocess.Popen(
                launcher, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                env={}, close_fds=True, start_new_session=True, cwd=str(run_dir),
            )
        except OSError as exc:
            raise SandboxUnavailable(f"cannot start the sandbox launcher: {exc}") from exc
        try:
            proc.wait(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=_KILL_GRACE_S)
    wall = time.perf_counter() - started
    try:
        status = json.loads(status_path.read_text()) if status_path.exists() else {}
    except ValueError:
        status = {}
    sizes, odd = _scan_outputs(output_dir)
    max_rss = status.get("max_rss_kb")
    run = EngineRun(
        exit_code=status.get("exit_code"),
        signal=status.get("signal"),
        wall_seconds=wall,
        cpu_seconds=float(status.get("cpu_seconds") or 0.0),
        peak_rss_bytes=int(max_rss) * 1024 if max_rss is not None else None,
        output_bytes=sum(sizes.values()),
        outputs=sizes,
    )
    try:
        _classify(run, status, timed_out, limits, manifest, odd, run_dir)
    finally:
        _cleanup(run_dir)
    _log.info("engine run finished", extra={"engine": manifest.name, "wall_s": round(wall, 3),
                                            "cpu_s": round(run.cpu_seconds, 3), "output_bytes": run.output_bytes})
    return run


def _classify(run: EngineRun, status: dict, timed_out: bool, limits: Limits, manifest: EngineManifest,
              odd: list[str], run_dir: Path) -> None:
    """Raise the one error that best explains a failed run; return quietly on success."""
    marker = status.get("marker") or ""
    if timed_out:
        raise EngineTimeout(f"engine ran past {limits.wall_seconds} s of wall-clock time", run=run)
    if "setup_error" in status or not status:
        detail = status.get("detail", "the launcher exited without a status")
        raise SandboxUnavailable(f"sandbox isolation could not be set up ({status.get('setup_error')}): {detail}")
    if "network:" in marker:
        raise EngineNetworkDenied("engine tried to use the network", run=run)
    if run.signal == signal.SIGXCPU or (run.signal == signal.SIGKILL and run.cpu_seconds >= limits.cpu_seconds):
        raise EngineCpuExceeded(f"engine used more than {limits.cpu_seconds} s of CPU time", run=run)
    if "memory:" in marker:
        raise EngineMemoryExceeded(f"engine needed more than {limits.memory_mb} MiB", run=run)
    if run.output_bytes > limits.output_bytes:
        raise OutputTooLarge(f"outputs are {run.output_bytes} bytes, over {limits.output_bytes}", run=run)
    if run.exit_code != 0:
        how = f"signal {run.signal}" if run.signal is not None else f"exit code {run.exit_code}"
        raise EngineFailed(f"engine failed with {how}", run=run, stderr_tail=_stderr_tail(run_dir / "stderr"))
    if odd:
        raise EngineFailed(f"outputs contain {len(odd)} entries that are not plain files", run=run)
    missing = [o.file for o in manifest.outputs if o.file not in run.outputs]
    if missing:
        raise OutputMissing(f"declared outputs missing: {', '.join(missing)}", run=run)


def _cleanup(run_dir: Path) -> None:
    for name in ("stdout", "stderr", "status.json"):
        (run_dir / name).unlink(missing_ok=True)
    for sub in ("root", ""):
        try:
            (run_dir / sub).rmdir()
        except OSError:
            pass
