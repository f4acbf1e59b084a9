"""The sandbox's privileged launcher, run as ``python -S -E -B _isolate.py CONFIG_JSON`` by root.

It runs outside the package (no ``site``, no imports beyond the standard library) because it is the
process that enters the namespaces. Steps, each failing closed:

1. ``unshare`` new mount, network, PID, IPC and UTS namespaces; check that the only network
   interface is the (down) loopback.
2. Fork the namespace's PID 1 ("init"). Init builds a new root on a small tmpfs: read-only binds
   of the system library folders, the interpreter's folders, the engine (``/engine``) and the
   inputs (``/input``); a writable bind of the output folder (``/output``); private tmpfs
   ``/scratch`` (the cwd), ``/tmp`` and ``/dev/shm``; the device nodes null/zero/random/urandom; a
   fresh ``/proc`` that shows only the sandbox's processes. Then ``pivot_root`` and detach the old
   root, so nothing of the host's file system (the loader's scratch, keys, the repository) is
   reachable any more.
3. Init forks the engine: rlimits (CPU, address space, file size, processes, no core), drop to
   uid/gid 65534 with no supplementary groups (all capabilities gone), ``no_new_privs``, empty
   environment except ``ENCLAVA_*`` and the interpreter's needs, exec the interpreter on the
   bootstrap. Init reaps, kills whatever is left in the namespace, and writes a JSON status file.
"""

import ctypes
import json
import os
import platform
import resource
import signal
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS = 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
SETUP_FAILED = 121
EXEC_FAILED = 122

libc = ctypes.CDLL(None, use_errno=True)


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _b(text):
    return None if text is None else text.encode()


def mount(src, target, fstype, flags, data=None):
    _check(libc.mount(_b(src), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)), f"mount {target}")


def bind(src, target, writable=False, noexec=False, device=False):
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


def write_status(path, payload):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(payload, handle)


def build_root(cfg):
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
    owned = f"mode=0700,uid={uid},gid={uid}"
    for name, size in (("/scratch", cfg["tmp_bytes"]), ("/tmp", cfg["tmp_bytes"])):
        os.makedirs(root + name)
        mount("tmpfs", root + name, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, f"size={size},{owned}")
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
    os.makedirs(root + "/dev/shm")
    mount("tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, f"size={cfg['tmp_bytes']},{owned}")
    os.makedirs(root + "/proc")
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def pivot(root):
    os.chdir(root)
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(0, f"pivot_root: unsupported machine {platform.machine()}")
    _check(libc.syscall(number, b".", b"."), "pivot_root")
    _check(libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")


def exec_engine(cfg, marker_fd):
    try:
        os.dup2(marker_fd, 3)
        os.closerange(4, 65536)
        limits = cfg["limits"]
        cpu = limits["cpu_seconds"]
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 2))
        resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits["output_bytes"] + 1, limits["output_bytes"] + 1))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
        resource.setrlimit(resource.RLIMIT_NPROC, (cfg["max_processes"], cfg["max_processes"]))
        os.setgroups([])
        os.setgid(cfg["uid"])
        os.setuid(cfg["uid"])
        _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        os.chdir("/scratch")
        os.execve(cfg["python"], cfg["argv"], cfg["env"])
    except BaseException as exc:  # noqa: BLE001 - the child must never return into init
        os.write(2, f"enclava sandbox: cannot start the engine: {type(exc).__name__}\n".encode())
    os._exit(EXEC_FAILED)


def run_init(cfg):
    """PID 1 of the sandbox: build the root, run the engine, reap, report."""
    status_fd = os.open(cfg["status_path"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        build_root(cfg)
        pivot(cfg["root"])
    except OSError as exc:
        os.write(status_fd, json.dumps({"setup_error": "filesystem", "detail": str(exc)}).encode())
        os._exit(SETUP_FAILED)
    read_end, write_end = os.pipe()
    engine = os.fork()
    if engine == 0:
        os.close(read_end)
        exec_engine(cfg, write_end)
    os.close(write_end)
    while True:
        pid, status, usage = os.wait4(-1, 0)
        if pid == engine:
            break
    try:
        os.kill(-1, signal.SIGKILL)  # everything else left in this PID namespace
    except ProcessLookupError:
        pass
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
    os.write(status_fd, json.dumps(result).encode())
    os.close(status_fd)
    os._exit(0)


def main():
    cfg = json.loads(sys.argv[1])
    try:
        _check(libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
        with open("/proc/self/net/dev") as handle:
            interfaces = [line.split(":")[0].strip() for line in handle.readlines()[2:]]
        if interfaces != ["lo"]:
            raise OSError(0, f"network namespace is not empty: {interfaces}")
        mount(None, "/", None, MS_REC | MS_PRIVATE)
    except OSError as exc:
        write_status(cfg["status_path"], {"setup_error": "namespaces", "detail": str(exc)})
        os._exit(SETUP_FAILED)
    child = os.fork()
    if child == 0:
        try:
            run_init(cfg)
        finally:
            os._exit(SETUP_FAILED)
    _, status = os.waitpid(child, 0)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


if __name__ == "__main__":
    main()
