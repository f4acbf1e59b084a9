"""The sandbox's privileged launcher, run as ``python -S -E -B _isolate.py CONFIG_JSON`` by root.

It runs outside the package (no ``site``, no imports beyond the standard library) because it is the
process that enters the namespaces. Steps, each failing closed (a JSON status on ``status_fd``):

1. ``unshare`` new mount, network, PID, IPC and UTS namespaces; check that the only network
   interface is the (down) loopback.
2. Fork the namespace's PID 1 ("init"). Init opens the run cgroup's ``cgroup.procs`` files, then
   builds a new root on a small tmpfs: read-only binds of the system library folders, the
   interpreter's folders, the engine (``/engine``) and the inputs (``/input``); a writable bind of
   the output tmpfs (``/output``); private size-capped tmpfs ``/scratch`` (the cwd), ``/tmp`` and
   ``/dev/shm``; the device nodes null/zero/random/urandom, plus exactly the GPU nodes the config
   lists (``gpu_devices``, validated by ``devices.py``; each bound node is checked again to be a
   character device with the validated number and an NVIDIA name); a fresh ``/proc`` that shows
   only the sandbox's processes, with ``/proc/driver`` hidden when no GPU node is given. Then
   ``pivot_root`` and detach the old root, so nothing of the host's file system (the loader's
   scratch, keys, the repository) is reachable any more.
3. Init forks the engine process, which: joins the run cgroup (memory is limited there, not by
   address space); sets rlimits (CPU, file size, open files, no core); joins a fresh session
   keyring; drops supplementary groups; enters a fresh user namespace, in which init maps only
   uid/gid 65534 (so nothing it owns — a keyring above all — outlives the run); takes uid/gid 65534
   there; drops every capability (bounding, ambient, effective, permitted, inheritable) and locks
   the securebits; sets ``no_new_privs``; installs the seccomp filter (built by ``seccomp.py``); and
   execs the interpreter on the bootstrap. A failure in any of these steps is reported on a
   close-on-exec pipe, so it reads as a setup error, never as the engine's. Init reaps, kills
   whatever is left in the namespace, and writes the status.
"""

import ctypes
import fcntl
import json
import os
import platform
import re
import resource
import signal
import stat
import sys
from collections.abc import Mapping
from typing import Any, TypedDict

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_CAPBSET_DROP, PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP = 24, 28, 38, 22
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
SECCOMP_MODE_FILTER = 2
# SECBIT_NOROOT, _NO_SETUID_FIXUP, _KEEP_CAPS_LOCKED, _NO_CAP_AMBIENT_RAISE and their locks.
SECUREBITS_LOCKED = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80
LINUX_CAPABILITY_VERSION_3 = 0x20080522
SYS_PIVOT_ROOT = {"x86_64": 155}
SYS_KEYCTL = {"x86_64": 250}
KEYCTL_JOIN_SESSION_KEYRING = 1
SETUP_FAILED = 121
EXEC_FAILED = 122
HIGH_FD = 100
# The same names as devices.NVIDIA_NODE (this launcher imports nothing of the package).
NVIDIA_NODE = re.compile(
    r"nvidia(?:0|[1-9][0-9]{0,2})|nvidiactl|nvidia-uvm|nvidia-uvm-tools|nvidia-modeset"
    r"|nvidia-caps/nvidia-cap(?:0|[1-9][0-9]{0,5})"
)

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _b(text: str | None) -> bytes | None:
    return None if text is None else text.encode()


def mount(
    src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    _check(
        libc.mount(_b(src), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)),
        f"mount {target}",
    )


def bind(
    src: str, target: str, writable: bool = False, noexec: bool = False, device: bool = False
) -> None:
    """Bind ``src`` at ``target`` (created as a folder or an empty file) and make it read-only."""
    if os.path.isdir(src):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    mount(src, target, None, MS_BIND)
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID
    flags |= 0 if device else MS_NODEV
    flags |= 0 if writable else MS_RDONLY
    flags |= MS_NOEXEC if noexec else 0
    mount(None, target, None, flags)


def write_status(fd: int, payload: Mapping[str, object]) -> None:
    data = json.dumps(payload).encode()
    while data:
        data = data[os.write(fd, data) :]


def build_root(cfg: dict[str, Any]) -> None:
    root = cfg["root"]
    uid = cfg["uid"]
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755")
    for path in cfg["system_paths"]:
        if os.path.islink(path):
            os.symlink(os.readlink(path), root + path)
        elif os.path.isdir(path):
            bind(path, root + path)
    # The private /scratch and /tmp first: an interpreter that lives under /tmp (a checkout there)
    # is then bound on top of the private /tmp instead of being hidden by it.
    owned = f"mode=0700,uid={uid},gid={uid},nr_inodes=16384"
    for name, size in (("/scratch", cfg["tmp_bytes"]), ("/tmp", cfg["tmp_bytes"])):
        os.makedirs(root + name)
        mount(
            "tmpfs", root + name, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, f"size={size},{owned}"
        )
    for path in cfg["python_paths"]:
        bind(path, root + path)
    for path in cfg["etc_files"]:
        if os.path.isfile(path):
            bind(path, root + path)
    os.makedirs(root + "/etc", exist_ok=True)
    with open(root + "/etc/passwd", "w") as handle:
        handle.write(f"root:x:0:0::/:/bin/false\nsandbox:x:{uid}:{uid}::/scratch:/bin/false\n")
    with open(root + "/etc/group", "w") as handle:
        handle.write(f"root:x:0:\nsandbox:x:{uid}:\n")
    bind(cfg["engine_dir"], root + "/engine", noexec=True)
    bind(cfg["input_dir"], root + "/input", noexec=True)
    bind(cfg["output_dir"], root + "/output", writable=True, noexec=True)
    os.makedirs(root + "/dev")
    for dev in ("null", "zero", "random", "urandom"):
        bind("/dev/" + dev, root + "/dev/" + dev, writable=True, noexec=True, device=True)
    bind_gpu_devices(root, cfg["gpu_devices"])
    os.makedirs(root + "/dev/shm")
    mount(
        "tmpfs",
        root + "/dev/shm",
        "tmpfs",
        MS_NOSUID | MS_NODEV | MS_NOEXEC,
        f"size={cfg['tmp_bytes']},{owned}",
    )
    os.makedirs(root + "/proc")
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    if not cfg["gpu_devices"] and os.path.isdir(root + "/proc/driver"):
        flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
        mount("tmpfs", root + "/proc/driver", "tmpfs", flags, "size=4k,mode=0555")
    mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def bind_gpu_devices(root: str, nodes: list[dict[str, Any]]) -> None:
    """Bind each GPU node at ``/dev/<name>`` and check what got mounted: the bind follows links in
    its source, so the mounted node itself must be a character device with the validated number."""
    for node in nodes:
        name = node["name"]
        if not isinstance(name, str) or not NVIDIA_NODE.fullmatch(name):
            raise OSError(0, f"GPU device {name!r}: not an NVIDIA node name")
        target = root + "/dev/" + name
        bind(node["source"], target, writable=True, noexec=True, device=True)
        info = os.lstat(target)
        if not stat.S_ISCHR(info.st_mode) or info.st_rdev != node["rdev"]:
            raise OSError(0, f"GPU device {name!r}: the mounted node is not the validated one")


def pivot(root: str) -> None:
    os.chdir(root)
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(0, f"pivot_root: unsupported machine {platform.machine()}")
    _check(libc.syscall(number, b".", b"."), "pivot_root")
    _check(libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")


def prctl(option: int, arg2: int = 0, arg3: int = 0, what: str = "prctl") -> None:
    _check(
        libc.prctl(
            option, ctypes.c_ulong(arg2), ctypes.c_ulong(arg3), ctypes.c_ulong(0), ctypes.c_ulong(0)
        ),
        what,
    )


def limit_capabilities() -> None:
    """Empty the bounding and ambient sets and lock the securebits (needs CAP_SETPCAP: before the
    uid change)."""
    for cap in range(64):
        try:
            prctl(PR_CAPBSET_DROP, cap, what=f"drop capability {cap} from the bounding set")
        except OSError as exc:
            if exc.errno != 22:  # EINVAL: past the kernel's last capability
                raise
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, what="clear ambient capabilities")
    prctl(PR_SET_SECUREBITS, SECUREBITS_LOCKED, what="lock securebits")


def clear_capabilities() -> None:
    """Clear the effective, permitted and inheritable sets."""
    header = CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (CapData * 2)()
    _check(libc.capset(ctypes.byref(header), data), "capset")


def install_seccomp(program: bytes) -> None:
    if not program or len(program) % 8:
        raise OSError(0, "no seccomp filter")
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = SockFprog(len(program) // 8, ctypes.addressof(buffer))
    ret = libc.prctl(
        PR_SET_SECCOMP,
        ctypes.c_ulong(SECCOMP_MODE_FILTER),
        ctypes.byref(fprog),
        ctypes.c_ulong(0),
        ctypes.c_ulong(0),
    )
    _check(ret, "seccomp filter")


def read_exact(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            break
        data += chunk
    return data


class _EngineFds(TypedDict):
    """The descriptors init hands to the engine process."""

    cgroup: list[int]
    marker: int
    setup: int
    to_init: int
    from_init: int


def exec_engine(cfg: dict[str, Any], fds: _EngineFds) -> None:
    """The engine process (in init's namespaces, still root): isolate itself, then exec the
    engine."""
    step = "start"
    try:
        step = "cgroup"
        for fd in fds["cgroup"]:
            os.write(fd, b"0")
            os.close(fd)
        step = "rlimits"
        limits = cfg["limits"]
        cpu = limits["cpu_seconds"]
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))
        resource.setrlimit(
            resource.RLIMIT_FSIZE, (limits["output_bytes"] + 1, limits["output_bytes"] + 1)
        )
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
        step = "keyring"
        joined = libc.syscall(SYS_KEYCTL[platform.machine()], KEYCTL_JOIN_SESSION_KEYRING, None)
        if joined < 0 and ctypes.get_errno() != 38:  # ENOSYS: no keyrings in this kernel
            _check(-1, "join a fresh session keyring")
        step = "user namespace"
        os.setgroups([])
        _check(libc.unshare(CLONE_NEWUSER), "unshare user namespace")
        os.write(fds["to_init"], b"u")
        if read_exact(fds["from_init"], 1) != b"m":
            raise OSError(0, "init did not map the user namespace")
        step = "capabilities"
        limit_capabilities()
        step = "ids"
        uid = cfg["uid"]
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        step = "capabilities"
        clear_capabilities()
        step = "no_new_privs"
        prctl(PR_SET_NO_NEW_PRIVS, 1, what="no_new_privs")
        step = "seccomp"
        install_seccomp(bytes.fromhex(cfg["seccomp_filter"]))
        step = "descriptors"
        os.dup2(fds["marker"], 3)
        setup = fds["setup"]
        os.closerange(4, setup)
        os.closerange(setup + 1, 65536)
        step = "exec"
        os.chdir("/scratch")
        os.execve(cfg["python"], cfg["argv"], cfg["env"])
    except BaseException as exc:  # noqa: BLE001 - the child must never return into init
        try:
            os.write(fds["setup"], f"{step}: {type(exc).__name__}: {exc}"[:1000].encode())
        except OSError:
            pass
    os._exit(EXEC_FAILED)


def map_user_namespace(pid: int, uid: int) -> None:
    """Map only ``uid`` (and the same gid) of the engine's new user namespace onto the host's
    ``uid``."""
    for name, text in (
        ("setgroups", "deny"),
        ("uid_map", f"{uid} {uid} 1\n"),
        ("gid_map", f"{uid} {uid} 1\n"),
    ):
        fd = os.open(f"/proc/{pid}/{name}", os.O_WRONLY)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)


def _high(fd: int) -> int:
    """Move ``fd`` above the range the engine's descriptors are closed in, close-on-exec."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD)
    os.close(fd)
    return moved


def run_init(cfg: dict[str, Any], status_fd: int) -> None:
    """PID 1 of the sandbox: build the root, run the engine, reap, report."""
    try:
        cgroup_fds = [os.open(path, os.O_WRONLY | os.O_CLOEXEC) for path in cfg["cgroup_procs"]]
        if not cgroup_fds:
            raise OSError(0, "no cgroup for the run")
    except OSError as exc:
        write_status(status_fd, {"setup_error": "cgroup", "detail": str(exc)})
        os._exit(SETUP_FAILED)
    try:
        build_root(cfg)
        pivot(cfg["root"])
    except OSError as exc:
        write_status(status_fd, {"setup_error": "filesystem", "detail": str(exc)})
        os._exit(SETUP_FAILED)
    read_end, write_end = os.pipe()
    setup_r, setup_w = os.pipe2(os.O_CLOEXEC)
    init_r, to_init = os.pipe2(os.O_CLOEXEC)
    from_init, init_w = os.pipe2(os.O_CLOEXEC)
    setup_w = _high(setup_w)
    engine = os.fork()
    if engine == 0:
        for fd in (read_end, setup_r, init_r, init_w, status_fd):
            os.close(fd)
        exec_engine(
            cfg,
            {
                "cgroup": cgroup_fds,
                "marker": write_end,
                "setup": setup_w,
                "to_init": to_init,
                "from_init": from_init,
            },
        )
    for fd in (write_end, setup_w, to_init, from_init, *cgroup_fds):
        os.close(fd)
    mapping_error = None
    if read_exact(init_r, 1) == b"u":
        try:
            map_user_namespace(engine, cfg["uid"])
            os.write(init_w, b"m")
        except OSError as exc:
            mapping_error = str(exc)
    os.close(init_w)
    os.close(init_r)
    while True:
        pid, status, usage = os.wait4(-1, 0)
        if pid == engine:
            break
    try:
        os.kill(-1, signal.SIGKILL)  # everything else left in this PID namespace
    except ProcessLookupError:
        pass
    setup_failure = read_exact(setup_r, 1000).decode("utf-8", "replace")
    if mapping_error or setup_failure:
        write_status(
            status_fd, {"setup_error": "engine process", "detail": mapping_error or setup_failure}
        )
        os._exit(SETUP_FAILED)
    os.set_blocking(read_end, False)
    try:
        marker = os.read(read_end, 4096).decode("utf-8", "replace")
    except BlockingIOError:
        marker = ""
    result = {
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "max_rss_kb": usage.ru_maxrss,
        "marker": marker[:4096],
    }
    write_status(status_fd, result)
    os.close(status_fd)
    os._exit(0)


def main() -> None:
    cfg = json.loads(sys.argv[1])
    status_fd = cfg["status_fd"]
    try:
        _check(
            libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS),
            "unshare",
        )
        with open("/proc/self/net/dev") as handle:
            interfaces = [line.split(":")[0].strip() for line in handle.readlines()[2:]]
        if interfaces != ["lo"]:
            raise OSError(0, f"network namespace is not empty: {interfaces}")
        mount(None, "/", None, MS_REC | MS_PRIVATE)
    except OSError as exc:
        write_status(status_fd, {"setup_error": "namespaces", "detail": str(exc)})
        os._exit(SETUP_FAILED)
    child = os.fork()
    if child == 0:
        try:
            run_init(cfg, status_fd)
        finally:
            os._exit(SETUP_FAILED)
    os.close(status_fd)
    _, status = os.waitpid(child, 0)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


if __name__ == "__main__":
    main()
