"""``run_engine``: run one engine in the sandbox and turn what happened into a result or a typed
error.

What is enforced (Linux, as root; anything that cannot be set up fails closed with
``SandboxUnavailable`` or one of its subclasses): fresh network namespace with only a down loopback;
fresh mount, PID, IPC and UTS namespaces; a fresh user namespace per run in which only uid/gid 65534
exists, and a fresh session keyring (so keyrings and anything else the uid owns die with the run); a
new root holding only system libraries, the interpreter, ``/engine`` (read-only), ``/input``
(read-only), ``/output`` (writable) and private size-capped tmpfs ``/scratch`` (cwd), ``/tmp``,
``/dev/shm``; uid/gid 65534 without any capability (bounding and ambient sets empty, securebits
locked) and with ``no_new_privs``; a seccomp filter (``seccomp.py``: keyrings, ptrace, BPF, perf,
mounts, namespaces, modules, kexec, swap ... fail with EPERM; another architecture is killed, x32
refused); a cgroup per run (``cgroup.py``) that every process the engine starts is born in: resident
memory ``memory_mb`` with no swap (an OOM kill is ``EngineMemoryExceeded``; address space is not
limited), 512 processes, a CPU quota, and the group's total CPU time, past ``cpu_seconds`` of which
the run is killed (``EngineCpuExceeded``; RLIMIT_CPU also stops a single process); RLIMIT_FSIZE
(``output_bytes``), 1024 open files, no core; ``/output`` and the captured stdout/stderr on tmpfs
mounts of their own, size-capped, inside the order's scratch area (never the host's disk, nor the
host's ``/tmp`` or ``/dev/shm`` file systems), handled by root without following links; a wall-clock
limit, the smaller of the manifest's and the order's remaining time, after which the whole run is
killed; an environment of ``ENCLAVA_*`` plus ``PATH``/``HOME``/``TMPDIR``/``LANG`` only.

GPUs: no GPU device node exists in the sandbox unless ``gpu_devices`` names validated NVIDIA nodes
(``devices.py``: :func:`~trusted_loader.sandbox.devices.gpu_devices_for`), which are then bound at
their ``/dev`` names, and only they.

A long-running engine (the serving engine of a service enclave) runs under the very same isolation;
its caller passes a ``stop`` event and runs ``run_engine`` in a thread. Once the event is set, the
engine's processes get SIGTERM (to shut down cleanly), and SIGKILL after a grace period; a run the
loader stopped returns its ``EngineRun`` (``stopped=True``) instead of an error. It talks to the
loader only through a Unix socket it creates in ``/output``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enclava.logs import get_logger
from enclava.protocol.engine.errors import (
    EngineCpuExceeded,
    EngineFailed,
    EngineMemoryExceeded,
    EngineNetworkDenied,
    EngineRunError,
    EngineTimeout,
    OutputMissing,
    OutputTooLarge,
    SandboxUnavailable,
)
from enclava.protocol.engine.manifest import EngineManifest, Limits
from trusted_loader.sandbox.cgroup import CgroupLimits, RunCgroup, create_run_cgroup
from trusted_loader.sandbox.devices import NVIDIA_NODE, DeviceNode, GpuDeviceRefused
from trusted_loader.sandbox.files import scan_outputs, share_inputs
from trusted_loader.sandbox.seccomp import build_filter
from trusted_loader.scratch import Scratch

__all__ = [
    "ENGINE_DIR",
    "INPUT_DIR",
    "OUTPUT_DIR",
    "RAW_TAIL_BYTES",
    "SANDBOX_UID",
    "EngineRun",
    "run_engine",
]

SANDBOX_UID = 65534
ENGINE_DIR, INPUT_DIR, OUTPUT_DIR = "/engine", "/input", "/output"
_HERE = Path(__file__).resolve().parent
_SYSTEM_PATHS = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"]
_ETC_FILES = ["/etc/ld.so.cache"]
_TMP_BYTES = 64 * 1024 * 1024
_OUTPUT_SLACK_BYTES = 4 * 1024 * 1024  # room to see that outputs went over, counted in 4 KiB pages
_LOG_BYTES = 32 * 1024 * 1024  # stdout and stderr together
_MAX_PROCESSES = 512
_POLL_S = 0.05
_CPU_GRACE_S = 0.25  # lets RLIMIT_CPU (SIGXCPU) speak first for a single process
_KILL_GRACE_S = 5.0
_STOP_GRACE_S = 10.0  # how long a stopped engine may take to shut down before it is killed
_TAIL_LINES, _TAIL_LINE_CHARS = 20, 200
#: The most of the engine's stderr a run error keeps raw (its end), for the customer's eyes only.
RAW_TAIL_BYTES = 8192
_CGROUP_READ_ERRORS = (OSError, ValueError, IndexError, KeyError)
_log = get_logger(__name__)


@dataclass(frozen=True)
class EngineRun:
    """What one sandboxed run did. No content of inputs or outputs, only sizes and resources.

    ``cpu_seconds`` is the run cgroup's total (all processes); ``peak_rss_bytes`` the engine
    process's own peak; ``memory_peak_bytes`` the cgroup's peak charge (every process, plus tmpfs
    and caches)."""

    exit_code: int | None
    signal: int | None
    wall_seconds: float
    cpu_seconds: float
    peak_rss_bytes: int | None
    output_bytes: int
    outputs: dict[str, int] = field(default_factory=dict)  # relative path -> size
    memory_peak_bytes: int | None = None
    stopped: bool = False  # the loader stopped it (``stop``); not a failure


@dataclass
class _Watch:
    """What the loader saw while it waited: which limit, if any, it enforced by killing the run."""

    timed_out: bool = False
    cpu_killed: bool = False
    cpu_seconds: float = 0.0
    oom_killed: bool = False
    memory_peak_bytes: int | None = None
    stopped: bool = False


def _python_paths() -> list[str]:
    """The interpreter's folders the engine needs, minus anything already under a system path."""
    candidates = [sys.base_prefix, sys.prefix]
    candidates += [p for p in sys.path if p and ("site-packages" in p or "dist-packages" in p)]
    chosen: list[str] = []
    for path in sorted(
        {os.path.realpath(p) for p in candidates} | {os.path.abspath(p) for p in candidates}
    ):
        if not os.path.isdir(path) or any(
            path == s or path.startswith(s + "/") for s in _SYSTEM_PATHS
        ):
            continue
        if any(path.startswith(c + "/") for c in chosen):
            continue
        chosen.append(path)
    return chosen


def _cpu_quota_cores() -> float:
    """All CPUs the loader may use but one (at least one): the loader keeps a core to enforce
    limits."""
    return float(max(1, len(os.sched_getaffinity(0)) - 1))


_NUMBER = re.compile(r"[-+]?\d[\d.eE+-]{2,}")
_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{32,}")
#: What a failed allocation or mapping prints: Python's MemoryError, ENOMEM's strerror (an
#: ``import torch`` that cannot map libtorch), C++'s bad_alloc, torch's CPU allocator.
_OUT_OF_MEMORY = re.compile(
    r"MemoryError|Cannot allocate memory|failed to map segment from shared object|"
    r"std::bad_alloc|can't allocate memory|not enough memory|out of memory",
    re.IGNORECASE,
)


def _raw_tail(path: Path) -> str:
    """The last :data:`RAW_TAIL_BYTES` of stderr as written (for the customer only), cut at a
    character boundary."""
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - RAW_TAIL_BYTES))
            data = handle.read(RAW_TAIL_BYTES)
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    while len(text.encode("utf-8")) > RAW_TAIL_BYTES:  # a replacement char may grow the text
        text = text[1:]
    return text


def _redacted(raw: str) -> str:
    """The last lines of ``raw``, bounded, numbers and long tokens masked (they may be data)."""
    lines = raw.splitlines()[-_TAIL_LINES:]
    masked = [
        _TOKEN.sub("<redacted>", _NUMBER.sub("<n>", line))[:_TAIL_LINE_CHARS] for line in lines
    ]
    return "\n".join(masked)


def _effective_wall(limits: Limits, wall_limit_s: float | None) -> float:
    return (
        float(limits.wall_seconds)
        if wall_limit_s is None
        else min(float(limits.wall_seconds), wall_limit_s)
    )


def run_engine(
    engine_dir: str | Path,
    manifest: EngineManifest,
    input_dir: str | Path,
    output_dir: str | Path,
    *,
    seed: int,
    order_id: str,
    scratch: Scratch,
    limits: Limits | None = None,
    wall_limit_s: float | None = None,
    gpu_devices: tuple[DeviceNode, ...] = (),
    stop: threading.Event | None = None,
) -> EngineRun:
    """Run ``manifest``'s entrypoint in the sandbox; raise a typed ``EngineRunError`` on failure.

    ``scratch`` is the order's entered scratch area; ``output_dir`` must be an empty folder inside
    it. A size-capped tmpfs is mounted on ``output_dir`` (it stays, with the outputs, until the
    scratch is released) and another one holds the run's stdout and stderr (wiped and unmounted
    before this returns). ``wall_limit_s`` is the order's remaining time: the run is killed at the
    smaller of it and ``limits.wall_seconds``; zero or less fails at once with ``EngineTimeout``.
    ``gpu_devices`` are the GPU nodes the engine may open (default none; see ``devices.py``):
    anything but :class:`DeviceNode` values with NVIDIA names is refused with ``GpuDeviceRefused``
    before anything starts. ``stop``: set it to end a long-running engine (see the module's
    docstring); the run then returns with ``stopped=True``.
    """
    devices = _checked_devices(gpu_devices)
    limits = limits or manifest.limits
    wall = _effective_wall(limits, wall_limit_s)
    if wall <= 0:
        raise EngineTimeout("the order has no time left to run the engine")
    engine_dir, input_dir, output_dir = (
        Path(p).resolve() for p in (engine_dir, input_dir, output_dir)
    )
    if scratch.path is None or not scratch.contains(output_dir):
        raise SandboxUnavailable(
            "the output folder must be inside the order's entered scratch area"
        )
    program = build_filter()
    try:
        share_inputs(input_dir, SANDBOX_UID)
        scratch.mount_tmpfs(
            output_dir,
            size_bytes=limits.output_bytes + _OUTPUT_SLACK_BYTES,
            uid=SANDBOX_UID,
            gid=SANDBOX_UID,
            mode=0o700,
        )
        run_dir = scratch.mount_tmpfs(
            scratch.path / f".sandbox-{secrets.token_hex(6)}", size_bytes=_LOG_BYTES, max_inodes=64
        )
    except OSError as exc:
        raise SandboxUnavailable(f"cannot prepare the run's folders: {exc}") from exc
    try:
        group = create_run_cgroup(
            CgroupLimits(
                memory_bytes=limits.memory_mb * 1024 * 1024,
                max_pids=_MAX_PROCESSES,
                cpu_quota_cores=_cpu_quota_cores(),
            )
        )
        try:
            status, watch, wall_used = _launch(
                engine_dir,
                manifest,
                input_dir,
                output_dir,
                run_dir,
                seed,
                order_id,
                limits,
                wall,
                group,
                program,
                devices,
                stop,
            )
        finally:
            group.close()
        run, odd = _result(status, watch, wall_used, output_dir)
        raw_tail = _raw_tail(run_dir / "stderr")
        try:
            _classify(run, status, watch, limits, wall, manifest, odd, raw_tail)
        except EngineRunError as error:
            error.raw_stderr_tail, error.stderr_tail = raw_tail, _redacted(raw_tail)
            raise
    finally:
        scratch.release(run_dir)
    _log.info(
        "engine run finished",
        extra={
            "engine": manifest.name,
            "wall_s": round(run.wall_seconds, 3),
            "cpu_s": round(run.cpu_seconds, 3),
            "output_bytes": run.output_bytes,
        },
    )
    return run


def _checked_devices(gpu_devices: object) -> list[dict[str, Any]]:
    """``gpu_devices`` as the launcher's config: a tuple of distinct ``DeviceNode``s with NVIDIA
    names (the launcher checks each mounted node's type and number again)."""
    if not isinstance(gpu_devices, tuple) or not all(
        isinstance(node, DeviceNode) for node in gpu_devices
    ):
        raise GpuDeviceRefused(
            "gpu_devices must be a tuple of DeviceNode (DeviceNode.nvidia, discover_gpu_devices)"
        )
    names = [node.name for node in gpu_devices]
    if len(set(names)) != len(names):
        raise GpuDeviceRefused(f"gpu_devices names a node twice: {sorted(names)}")
    for node in gpu_devices:
        if not NVIDIA_NODE.fullmatch(node.name) or not node.source.startswith("/"):
            raise GpuDeviceRefused(f"{node.name!r} is not one of NVIDIA's device node names")
    return [{"source": n.source, "name": n.name, "rdev": n.rdev} for n in gpu_devices]


def _config(
    engine_dir: Path,
    manifest: EngineManifest,
    input_dir: Path,
    output_dir: Path,
    run_dir: Path,
    seed: int,
    order_id: str,
    limits: Limits,
    group: RunCgroup,
    program: bytes,
    status_fd: int,
    devices: list[dict[str, Any]],
) -> dict[str, Any]:
    (run_dir / "root").mkdir()
    entry = f"{ENGINE_DIR}/{manifest.engine.entrypoint}"
    return {
        "root": str(run_dir / "root"),
        "status_fd": status_fd,
        "uid": SANDBOX_UID,
        "system_paths": _SYSTEM_PATHS,
        "python_paths": _python_paths(),
        "etc_files": _ETC_FILES,
        "engine_dir": str(engine_dir),
        "input_dir": str(input_dir),
        "output_dir": str(output_dir),
        "tmp_bytes": _TMP_BYTES,
        "gpu_devices": devices,
        "cgroup_procs": group.procs_files,
        "seccomp_filter": program.hex(),
        "limits": {"cpu_seconds": limits.cpu_seconds, "output_bytes": limits.output_bytes},
        "python": sys.executable,
        "argv": [
            sys.executable,
            "-E",
            "-s",
            "-B",
            "-c",
            (_HERE / "_bootstrap.py").read_text(),
            entry,
        ],
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


def _launch(
    engine_dir: Path,
    manifest: EngineManifest,
    input_dir: Path,
    output_dir: Path,
    run_dir: Path,
    seed: int,
    order_id: str,
    limits: Limits,
    wall: float,
    group: RunCgroup,
    program: bytes,
    devices: list[dict[str, Any]],
    stop: threading.Event | None = None,
) -> tuple[dict[str, Any], _Watch, float]:
    """Start the launcher with stdout/stderr on the run's tmpfs, watch it, and read its status."""
    status_r, status_w = os.pipe()
    try:
        config = _config(
            engine_dir,
            manifest,
            input_dir,
            output_dir,
            run_dir,
            seed,
            order_id,
            limits,
            group,
            program,
            status_w,
            devices,
        )
        launcher = [
            sys.executable,
            "-S",
            "-E",
            "-B",
            str(_HERE / "_isolate.py"),
            json.dumps(config),
        ]
        started = time.perf_counter()
        with open(run_dir / "stdout", "wb") as out, open(run_dir / "stderr", "wb") as err:
            try:
                proc = subprocess.Popen(
                    launcher,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    env={},
                    close_fds=True,
                    pass_fds=(status_w,),
                    start_new_session=True,
                    cwd=str(run_dir),
                )
            except OSError as exc:
                raise SandboxUnavailable(f"cannot start the sandbox launcher: {exc}") from exc
            os.close(status_w)
            status_w = -1
            watch = _watch(proc, group, started + wall, limits, stop)
        wall_used = time.perf_counter() - started
        try:
            watch.cpu_seconds = group.cpu_seconds()
            watch.oom_killed = group.oom_killed()
            watch.memory_peak_bytes = group.memory_peak_bytes()
        except _CGROUP_READ_ERRORS as exc:
            raise SandboxUnavailable(f"cannot read the run cgroup's accounting: {exc}") from exc
        return _read_status(status_r), watch, wall_used
    finally:
        os.close(status_r)
        if status_w >= 0:
            os.close(status_w)


def _kill(proc: subprocess.Popen[bytes], group: RunCgroup) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # launcher and init: the PID namespace dies with init
    except ProcessLookupError:
        pass
    group.kill()
    proc.wait(timeout=_KILL_GRACE_S)


def _terminate(proc: subprocess.Popen[bytes], group: RunCgroup) -> None:
    """SIGTERM the engine's processes (the group holds them, not the launcher or init); SIGKILL
    the whole run if it has not ended after the grace period."""
    for pid in group.pids():
        try:
            os.kill(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        proc.wait(timeout=_STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        _kill(proc, group)


def _watch(
    proc: subprocess.Popen[bytes],
    group: RunCgroup,
    deadline: float,
    limits: Limits,
    stop: threading.Event | None = None,
) -> _Watch:
    """Wait for the launcher; kill the whole run at the deadline or past the group's CPU limit,
    end it when ``stop`` is set."""
    watch = _Watch()
    while True:
        try:
            proc.wait(timeout=_POLL_S)
            return watch
        except subprocess.TimeoutExpired:
            pass
        if stop is not None and stop.is_set():
            watch.stopped = True
            _terminate(proc, group)
            return watch
        try:
            over_cpu = group.cpu_seconds() > limits.cpu_seconds + _CPU_GRACE_S
        except _CGROUP_READ_ERRORS as exc:  # fail closed: a run we cannot measure does not go on
            _kill(proc, group)
            raise SandboxUnavailable(f"cannot read the run cgroup's CPU time: {exc}") from exc
        if time.perf_counter() >= deadline:
            watch.timed_out = True
        elif over_cpu:
            watch.cpu_killed = True
        else:
            continue
        _kill(proc, group)
        return watch


def _read_status(fd: int) -> dict[str, Any]:
    os.set_blocking(fd, False)
    data = b""
    try:
        while chunk := os.read(fd, 65536):
            data += chunk
    except BlockingIOError:
        pass
    try:
        status = json.loads(data) if data else {}
    except ValueError:
        status = {}
    return status if isinstance(status, dict) else {}


def _result(
    status: dict[str, Any], watch: _Watch, wall: float, output_dir: Path
) -> tuple[EngineRun, list[str]]:
    sizes, odd = scan_outputs(output_dir)
    max_rss = status.get("max_rss_kb")
    return EngineRun(
        exit_code=status.get("exit_code"),
        signal=status.get("signal"),
        wall_seconds=wall,
        cpu_seconds=max(watch.cpu_seconds, float(status.get("cpu_seconds") or 0.0)),
        peak_rss_bytes=int(max_rss) * 1024 if max_rss is not None else None,
        output_bytes=sum(sizes.values()),
        outputs=sizes,
        memory_peak_bytes=watch.memory_peak_bytes,
        stopped=watch.stopped,
    ), odd


def _classify(
    run: EngineRun,
    status: dict[str, Any],
    watch: _Watch,
    limits: Limits,
    wall: float,
    manifest: EngineManifest,
    odd: list[str],
    stderr: str,
) -> None:
    """Raise the one error that best explains a failed run; return quietly on success.

    A run that died of a signal the loader did not send after it filled its memory (the kernel's
    OOM killer, also when the cgroup's own counter missed it), or that exited non-zero saying an
    allocation or mapping failed (an ``import torch`` that cannot map libtorch), is memory, not a
    generic engine failure. ``stderr`` is read for that one decision only. A run the loader
    stopped is no failure, however it ended (its socket is in the outputs).
    """
    if watch.stopped and not status.get("setup_error"):
        return
    marker = status.get("marker") or ""
    if watch.timed_out:
        whose = (
            "the order's remaining time" if wall < limits.wall_seconds else "limits.wall_seconds"
        )
        raise EngineTimeout(f"engine ran past {wall:g} s of wall-clock time ({whose})", run=run)
    if "setup_error" in status or (not status and not watch.cpu_killed):
        detail = status.get("detail", "the launcher exited without a status")
        raise SandboxUnavailable(
            f"sandbox isolation could not be set up ({status.get('setup_error')}): {detail}"
        )
    if "network:" in marker:
        raise EngineNetworkDenied("engine tried to use the network", run=run)
    if watch.cpu_killed or run.signal == signal.SIGXCPU or run.cpu_seconds > limits.cpu_seconds:
        raise EngineCpuExceeded(
            f"engine and its children used more than {limits.cpu_seconds} s of CPU time", run=run
        )
    if watch.oom_killed or "memory:" in marker or _ran_out_of_memory(run, limits, stderr):
        raise EngineMemoryExceeded(
            f"engine and its children needed more than {limits.memory_mb} MiB", run=run
        )
    if run.output_bytes > limits.output_bytes:
        raise OutputTooLarge(
            f"outputs are {run.output_bytes} bytes, over {limits.output_bytes}", run=run
        )
    if run.exit_code != 0:
        how = f"signal {run.signal}" if run.signal is not None else f"exit code {run.exit_code}"
        raise EngineFailed(f"engine failed with {how}", run=run)
    if odd:
        raise EngineFailed(f"outputs contain {len(odd)} entries that are not plain files", run=run)
    missing = [o.file for o in manifest.outputs if o.file not in run.outputs]
    if missing:
        raise OutputMissing(f"declared outputs missing: {', '.join(missing)}", run=run)


def _ran_out_of_memory(run: EngineRun, limits: Limits, stderr: str) -> bool:
    """A failed run whose end says memory: killed by SIGKILL (which the loader sent only on a
    timeout or CPU kill, both decided before this) with the cgroup's peak at its limit, or a
    non-zero exit whose last stderr lines name a failed allocation or mapping."""
    if run.exit_code == 0 and run.signal is None:
        return False
    limit = limits.memory_mb * 1024 * 1024
    at_limit = run.memory_peak_bytes is not None and run.memory_peak_bytes >= limit * 0.98
    if run.signal == signal.SIGKILL and at_limit:
        return True
    last_lines = "\n".join(stderr.splitlines()[-_TAIL_LINES:])
    return run.exit_code not in (None, 0) and bool(_OUT_OF_MEMORY.search(last_lines))
