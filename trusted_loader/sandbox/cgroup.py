"""A cgroup per engine run, so that limits cover the engine and every process it starts.

``create_run_cgroup`` makes a fresh group under the loader's own cgroup and sets: resident memory
(``memory.max`` / ``memory.limit_in_bytes``) with no swap (``memory.swap.max`` / ``memory.memsw.*``
where the file exists), a process count (``pids.max``) and a CPU quota (``cpu.max`` /
``cpu.cfs_quota_us``). It reads back the group's total CPU time, its peak memory and whether the
kernel OOM-killed in it. cgroup v2 is used when the unified hierarchy has the memory, pids and cpu
controllers for the loader's cgroup; otherwise cgroup v1 (memory, pids, cpu and cpuacct
hierarchies). If neither can be set up, ``SandboxCgroupUnavailable``: engines never run unlimited.

The engine process joins the group itself (it writes ``0`` to each ``cgroup.procs`` listed in
``procs_files``) before it drops privileges, so that all its children are born inside.
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from enclava.logs import get_logger
from enclava.protocol.engine.errors import SandboxCgroupUnavailable

__all__ = ["CgroupLimits", "RunCgroup", "create_run_cgroup"]

_V2_CONTROLLERS = ("memory", "pids", "cpu")
_V1_CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")
_CPU_PERIOD_US = 100_000
_EMPTY_WAIT_S = 10.0
_log = get_logger(__name__)


@dataclass(frozen=True)
class CgroupLimits:
    memory_bytes: int
    max_pids: int
    cpu_quota_cores: float


def _read(path: Path) -> str:
    return path.read_text()


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _keyed(text: str) -> dict[str, int]:
    """``key value`` lines (memory.events, cpu.stat, memory.oom_control) as a dict."""
    pairs = (line.split() for line in text.splitlines())
    return {p[0]: int(p[1]) for p in pairs if len(p) == 2 and p[1].lstrip("-").isdigit()}


class RunCgroup:
    """One run's group: ``dirs`` holds one folder per hierarchy (one for v2, up to four for v1)."""

    version: int = 0

    def __init__(self, dirs: list[Path]) -> None:
        self.dirs = dirs

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def cpu_seconds(self) -> float:
        raise NotImplementedError

    def oom_killed(self) -> bool:
        raise NotImplementedError

    def memory_peak_bytes(self) -> int | None:
        raise NotImplementedError

    def pids(self) -> set[int]:
        found: set[int] = set()
        for folder in self.dirs:
            try:
                found |= {int(p) for p in _read(folder / "cgroup.procs").split()}
            except OSError:
                pass
        return found

    def kill(self) -> None:
        """SIGKILL every process in the group (the PID namespace's init dying takes the rest)."""
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def close(self) -> None:
        """Kill what is left, wait until the group is empty, and remove it."""
        deadline = time.monotonic() + _EMPTY_WAIT_S
        while self.pids() and time.monotonic() < deadline:
            self.kill()
            time.sleep(0.02)
        for folder in reversed(self.dirs):
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # EBUSY while the last task is being reaped
                    time.sleep(0.02)
            else:
                _log.warning("sandbox cgroup could not be removed", extra={"cgroup": str(folder)})


class _V2(RunCgroup):
    version = 2

    def cpu_seconds(self) -> float:
        return _keyed(_read(self.dirs[0] / "cpu.stat")).get("usage_usec", 0) / 1e6

    def oom_killed(self) -> bool:
        events = _keyed(_read(self.dirs[0] / "memory.events"))
        return events.get("oom_kill", 0) > 0 or events.get("oom", 0) > 0

    def memory_peak_bytes(self) -> int | None:
        peak = self.dirs[0] / "memory.peak"
        return int(_read(peak).split()[0]) if peak.exists() else None

    def kill(self) -> None:
        kill_file = self.dirs[0] / "cgroup.kill"
        if kill_file.exists():
            try:
                _write(kill_file, "1")
            except OSError:
                pass
        super().kill()


class _V1(RunCgroup):
    version = 1

    def __init__(self, dirs: list[Path], by_controller: dict[str, Path]) -> None:
        super().__init__(dirs)
        self.by_controller = by_controller

    def cpu_seconds(self) -> float:
        return int(_read(self.by_controller["cpuacct"] / "cpuacct.usage").split()[0]) / 1e9

    def oom_killed(self) -> bool:
        memory = self.by_controller["memory"]
        control = _keyed(_read(memory / "memory.oom_control"))
        if "oom_kill" in control:
            return control["oom_kill"] > 0
        return int(_read(memory / "memory.failcnt").split()[0]) > 0  # kernels before 4.13

    def memory_peak_bytes(self) -> int | None:
        return int(_read(self.by_controller["memory"] / "memory.max_usage_in_bytes").split()[0])


@dataclass(frozen=True)
class _Mount:
    point: Path
    root: str
    fstype: str
    options: frozenset[str]


def _mounts(proc: Path) -> list[_Mount]:
    found = []
    for line in _read(proc / "self" / "mountinfo").splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        point = fields[4].replace("\\040", " ")
        found.append(_Mount(Path(point), fields[3], tail[0], frozenset(tail[2].split(","))))
    return found


def _own_cgroups(proc: Path) -> dict[str, str]:
    """Controller (``""`` for v2) -> this process's cgroup path, from /proc/self/cgroup."""
    own: dict[str, str] = {}
    for line in _read(proc / "self" / "cgroup").splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            own[name] = path
    return own


def _folder(mount: _Mount, path: str) -> Path:
    relative = os.path.relpath(path, mount.root) if mount.root != "/" else path.lstrip("/")
    if relative.startswith(".."):
        raise OSError(f"cgroup {path} is outside the mount {mount.point}")
    return mount.point / ("" if relative == "." else relative)


def _v2_base(proc: Path) -> Path:
    """The loader's own v2 cgroup, with memory, pids and cpu enabled for its children."""
    mount = next((m for m in _mounts(proc) if m.fstype == "cgroup2"), None)
    own = _own_cgroups(proc).get("")
    if mount is None or own is None:
        raise OSError("no cgroup v2 hierarchy")
    base = _folder(mount, own)
    available = set(_read(base / "cgroup.controllers").split())
    if not set(_V2_CONTROLLERS) <= available:
        raise OSError(f"cgroup v2 lacks controllers {sorted(set(_V2_CONTROLLERS) - available)}")
    enabled = set(_read(base / "cgroup.subtree_control").split())
    missing = [c for c in _V2_CONTROLLERS if c not in enabled]
    if missing:
        _enable_v2(base, missing)
    return base


def _enable_v2(base: Path, missing: list[str]) -> None:
    """Enable controllers for ``base``'s children. A cgroup that holds processes cannot (the "no
    internal processes" rule): when those are only this process, it first moves itself into a leaf
    ``loader``."""
    request = " ".join(f"+{c}" for c in missing)
    try:
        _write(base / "cgroup.subtree_control", request)
        return
    except OSError:
        pass
    members = {int(p) for p in _read(base / "cgroup.procs").split()}
    if members - {os.getpid()}:
        raise OSError(f"cgroup {base} holds other processes; delegate a subtree to the loader")
    leaf = base / "enclava-loader"
    if not leaf.is_dir():
        _new_group(leaf)
    _write(leaf / "cgroup.procs", str(os.getpid()))
    _write(base / "cgroup.subtree_control", request)


def _new_group(folder: Path) -> None:
    """Make a cgroup folder; the kernel fills it with its interface files."""
    folder.mkdir(mode=0o755)


def _create_v2(proc: Path, name: str, limits: CgroupLimits) -> RunCgroup:
    base = _v2_base(proc)
    folder = base / name
    _new_group(folder)
    group = _V2([folder])
    try:
        _write(folder / "memory.max", str(limits.memory_bytes))
        for optional, value in (("memory.swap.max", "0"), ("memory.oom.group", "1")):
            if (folder / optional).exists():
                _write(folder / optional, value)
        _write(folder / "pids.max", str(limits.max_pids))
        _write(
            folder / "cpu.max", f"{int(limits.cpu_quota_cores * _CPU_PERIOD_US)} {_CPU_PERIOD_US}"
        )
        if int(_read(folder / "memory.max").split()[0]) > limits.memory_bytes:
            raise OSError("memory.max did not take")
    except BaseException:
        group.close()
        raise
    return group


def _create_v1(proc: Path, name: str, limits: CgroupLimits) -> RunCgroup:
    own = _own_cgroups(proc)
    mounts = [m for m in _mounts(proc) if m.fstype == "cgroup"]
    by_controller: dict[str, Path] = {}
    dirs: list[Path] = []
    group = _V1(dirs, by_controller)
    try:
        for controller in _V1_CONTROLLERS:
            mount = next((m for m in mounts if controller in m.options), None)
            if mount is None or controller not in own:
                raise OSError(f"no cgroup v1 {controller} hierarchy")
            folder = _folder(mount, own[controller]) / name
            if folder not in dirs:
                _new_group(folder)
                dirs.append(folder)
            by_controller[controller] = folder
        memory = by_controller["memory"]
        _write(memory / "memory.limit_in_bytes", str(limits.memory_bytes))
        if (memory / "memory.memsw.limit_in_bytes").exists():
            _write(memory / "memory.memsw.limit_in_bytes", str(limits.memory_bytes))
        if (memory / "memory.swappiness").exists():
            _write(memory / "memory.swappiness", "0")
        if int(_read(memory / "memory.limit_in_bytes").split()[0]) > limits.memory_bytes:
            raise OSError("memory.limit_in_bytes did not take")
        _write(by_controller["pids"] / "pids.max", str(limits.max_pids))
        _write(by_controller["cpu"] / "cpu.cfs_period_us", str(_CPU_PERIOD_US))
        _write(
            by_controller["cpu"] / "cpu.cfs_quota_us",
            str(int(limits.cpu_quota_cores * _CPU_PERIOD_US)),
        )
    except BaseException:
        group.close()
        raise
    return group


def create_run_cgroup(
    limits: CgroupLimits, *, proc: Path = Path("/proc"), name: str | None = None
) -> RunCgroup:
    """A fresh, empty cgroup with ``limits``: v2 if it can be set up, else v1, else fail closed."""
    name = name or f"enclava-run-{secrets.token_hex(6)}"
    reasons = []
    for version, create in ((2, _create_v2), (1, _create_v1)):
        try:
            return create(proc, name, limits)
        except (OSError, ValueError, IndexError, KeyError) as exc:
            reasons.append(f"v{version}: {exc}")
    raise SandboxCgroupUnavailable("no cgroup for the engine run (" + "; ".join(reasons) + ")")
