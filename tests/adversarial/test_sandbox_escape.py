"""Malicious engines against the real sandbox: what one run leaves must not reach the next run, the
host, or the loader's disk, and limits hold for every process an engine starts.

Each test runs a hostile engine through ``run_engine`` (namespaces, cgroup, seccomp, tmpfs) and
checks the attack is refused with its typed reason. Before the fix (issue 13, break 5) a run's
``add_key`` was readable by a later run, a symlink in ``/output`` made the root wipe chmod a host
folder, four children used 7.8 s of CPU under a 2 s limit and 631 MiB resident under a 256 MB limit
(and the runs passed), 40 MB of output landed on the host's file system, a 12 s engine finished on a
3 s order, and stdout/stderr were written under the host's ``/tmp``.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import shutil
import stat
import subprocess
import textwrap
import threading
import time
from pathlib import Path

import pytest

from enclava.protocol.engine import (
    EngineCpuExceeded,
    EngineFailed,
    EngineManifest,
    EngineMemoryExceeded,
    EngineTimeout,
    Reason,
    load_manifest,
)
from tests.engines.fixture_engine import write_engine
from trusted_loader.sandbox import EngineRun, run_engine
from trusted_loader.scratch import Scratch

PRELUDE = '''
import ctypes, errno, json, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def sc(number, *args):
    """A raw syscall: (return value, errno)."""
    ctypes.set_errno(0)
    conv = [a if isinstance(a, (bytes, type(None))) else ctypes.c_long(a) for a in args]
    ret = libc.syscall(ctypes.c_long(number), *conv)
    return ret, (ctypes.get_errno() if ret == -1 else 0)

def emit(payload):
    with open(os.path.join(os.environ["ENCLAVA_OUTPUT_DIR"], "out.json"), "w") as handle:
        json.dump(payload, handle)
'''

#: Host-side places the issue names: nothing an engine prints or writes may appear there.
HOST_TEMP = ("/tmp", "/dev/shm", "/var/tmp")
#: The scratch of the canary test lives outside HOST_TEMP, as a loader's should.
CANARY_SCRATCH_ROOT = Path("/run/enclava-adversarial")
#: (engine folder, manifest, input folder, output folder)
Case = tuple[Path, EngineManifest, Path, Path]


@pytest.fixture
def scratch(tmp_path):
    with Scratch(tmp_path / "scratch-root") as area:
        yield area


def engine_case(
    scratch: Scratch,
    body: str,
    *,
    cpu: int = 20,
    memory: int = 1024,
    wall: int = 60,
    output: int = 100_000,
    data: bytes = b"customer data",
) -> Case:
    """An engine around ``body`` (after PRELUDE), one customer input, and an output folder in the
    scratch."""
    engine = write_engine(
        scratch.sub("engine", mode=0o755),
        PRELUDE + textwrap.dedent(body),
        cpu=cpu,
        memory=memory,
        wall=wall,
        output=output,
    )
    inputs = scratch.sub("inputs")
    (inputs / "data").mkdir()
    (inputs / "data" / "000").write_bytes(data)
    return engine, load_manifest(engine), inputs, scratch.sub("outputs")


def sandbox_run(case: Case, scratch: Scratch, **kwargs: float) -> EngineRun:
    engine, manifest, inputs, outputs = case
    return run_engine(
        engine, manifest, inputs, outputs, seed=7, order_id="0xad", scratch=scratch, **kwargs
    )


def read_out(case: Case) -> dict:
    return json.loads((case[3] / "out.json").read_text())


# -- keyring and namespaces ------------------------------------------------------------------------

KEY_WRITER = """
KEY_SPEC_SESSION, KEY_SPEC_USER = -3, -4
result = {}
for name, ring in (("user", KEY_SPEC_USER), ("session", KEY_SPEC_SESSION)):
    payload = b"{CANARY}"
    result[name] = sc(248, b"user", b"enclava-canary", payload, len(payload), ring)  # add_key
emit(result)
"""

KEY_READER = """
KEY_SPEC_SESSION, KEY_SPEC_USER = -3, -4
KEYCTL_SEARCH, KEYCTL_READ = 10, 11
found = {}
for name, ring in (("user", KEY_SPEC_USER), ("session", KEY_SPEC_SESSION)):
    key, err = sc(250, KEYCTL_SEARCH, ring, b"user", b"enclava-canary", 0)  # keyctl
    if key < 0:
        found[name] = {"search_errno": err}
        continue
    buf = ctypes.create_string_buffer(256)
    size, err = sc(250, KEYCTL_READ, key, ctypes.addressof(buf), 256)
    found[name] = {"payload": buf.raw[:max(size, 0)].decode("latin-1"), "read_errno": err}
emit(found)
"""


def test_keyring_data_of_one_run_is_not_readable_by_a_later_run(tmp_path):
    canary = secrets.token_hex(16)
    with Scratch(tmp_path / "first") as first:
        writer = engine_case(first, KEY_WRITER.replace("{CANARY}", canary))
        sandbox_run(writer, first)
        written = read_out(writer)
    with Scratch(tmp_path / "second") as second:
        reader = engine_case(second, KEY_READER)
        sandbox_run(reader, second)
        found = read_out(reader)
    assert canary not in json.dumps(found), "a later run read the key an earlier run stored"
    assert written == {"user": [-1, errno.EPERM], "session": [-1, errno.EPERM]}
    assert found == {
        "user": {"search_errno": errno.EPERM},
        "session": {"search_errno": errno.EPERM},
    }


USERNS_PROBE = """
with open("/proc/self/uid_map") as handle:
    uid_map = handle.read().split()
with open("/proc/self/gid_map") as handle:
    gid_map = handle.read().split()
userns = os.readlink("/proc/self/ns/user")
time.sleep(2)  # stay alive while the other run starts: a freed namespace's number may be reused
emit({"userns": userns, "uid_map": uid_map, "gid_map": gid_map, "uid": os.getuid()})
"""


def test_each_run_has_a_user_namespace_of_its_own(tmp_path):
    seen: dict[int, dict] = {}

    def one(index: int) -> None:
        with Scratch(tmp_path / f"run{index}") as area:
            case = engine_case(area, USERNS_PROBE)
            sandbox_run(case, area)
            seen[index] = read_out(case)

    runs = [threading.Thread(target=one, args=(index,)) for index in range(2)]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join()
    host = os.readlink("/proc/self/ns/user")
    assert seen[0]["userns"] != host and seen[1]["userns"] != host
    assert seen[0]["userns"] != seen[1]["userns"], "two runs at once shared a user namespace"
    for probe in seen.values():
        assert probe["uid"] == 65534
        assert probe["uid_map"] == ["65534", "65534", "1"] and probe["gid_map"] == [
            "65534",
            "65534",
            "1",
        ]


# -- seccomp ---------------------------------------------------------------------------------------

#: name -> (x86_64 number, harmless arguments). Without the filter each gives something other than
#: EPERM (success, EFAULT, E2BIG, EBADF, ...) or EPERM from missing capabilities; with it, EPERM.
REFUSED = {
    "keyctl": (250, (0, -4, 0)),
    "add_key": (248, (b"user", b"x", b"y", 1, -4)),
    "request_key": (249, (b"user", b"x", None, -4)),
    "ptrace": (101, (2, 1, 0, 0)),  # PEEKDATA on init: ESRCH without the filter
    "bpf": (321, (0, 0, 8192)),  # E2BIG without the filter
    "mount": (165, (None, 1, None, 0, None)),  # bad pointer: EFAULT without the filter
    "umount2": (166, (b"/nonexistent", 0)),
    "unshare": (272, (0,)),  # a no-op that succeeds without the filter
    "setns": (308, (-1, 0)),  # EBADF without the filter
    "perf_event_open": (298, (0, 0, -1, -1, 0)),  # EFAULT without the filter
    "kexec_load": (246, (0, 0, 0, 0)),
    "init_module": (175, (0, 0, b"")),
    "finit_module": (313, (-1, b"", 0)),
    "process_vm_readv": (310, ("PID", 0, 0, 0, 0, 0)),  # count 0 succeeds without the filter
    "process_vm_writev": (311, ("PID", 0, 0, 0, 0, 0)),
    "userfaultfd": (323, (1,)),  # UFFD_USER_MODE_ONLY
    "pivot_root": (155, (b"/", b"/")),
    "chroot": (161, (b"/",)),
    "swapon": (167, (b"/nonexistent", 0)),
}

SYSCALL_PROBE = """
calls = json.loads(bytes.fromhex("{CALLS}").decode())
result = {}
for name, (number, args) in calls.items():
    args = [os.getpid() if a == "PID" else (a.encode() if isinstance(a, str) else a) for a in args]
    result[name] = sc(number, *args)
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
result["Seccomp"] = status["Seccomp"].strip()
result["NoNewPrivs"] = status["NoNewPrivs"].strip()
result["CapEff"] = status["CapEff"].strip()
result["CapBnd"] = status["CapBnd"].strip()
result["clone3"] = sc(435, 0, 0)
emit(result)
"""


@pytest.fixture(scope="module")
def syscall_probe(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("syscalls")
    calls = json.dumps(
        {
            name: [number, [a.decode() if isinstance(a, bytes) else a for a in args]]
            for name, (number, args) in REFUSED.items()
        }
    )
    with Scratch(tmp_path) as area:
        case = engine_case(area, SYSCALL_PROBE.replace("{CALLS}", calls.encode().hex()))
        sandbox_run(case, area)
        return read_out(case)


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_syscall_fails_with_eperm(syscall_probe, name):
    assert syscall_probe[name] == [-1, errno.EPERM], f"{name} was not refused by the filter"


def test_filter_is_installed_with_no_new_privs_and_no_capabilities(syscall_probe):
    assert syscall_probe["Seccomp"] == "2" and syscall_probe["NoNewPrivs"] == "1"
    assert int(syscall_probe["CapEff"], 16) == 0 and int(syscall_probe["CapBnd"], 16) == 0
    assert syscall_probe["clone3"] == [
        -1,
        errno.ENOSYS,
    ]  # so that libc falls back to an inspectable clone


PTRACE_CHILD = """
child = os.fork()
if child == 0:
    time.sleep(30)
    os._exit(0)
attach = sc(101, 16, child, 0, 0)  # PTRACE_ATTACH to our own child
os.kill(child, 9)
os.waitpid(child, 0)
emit({"attach": attach})
"""


def test_engine_cannot_ptrace_its_own_child(scratch, tmp_path):
    case = engine_case(scratch, PTRACE_CHILD)
    sandbox_run(case, scratch)
    assert read_out(case)["attach"] == [-1, errno.EPERM]


NAMESPACE_ESCAPE = """
CLONE_NEWNS, CLONE_NEWUSER, SIGCHLD = 0x00020000, 0x10000000, 17
read_end, write_end = os.pipe()
child = os.fork()
if child == 0:  # try to become root of a fresh user namespace and mount there
    unshare = sc(272, CLONE_NEWUSER | CLONE_NEWNS)
    mounted = sc(165, b"none", b"/tmp", b"tmpfs", 0, None)
    os.write(write_end, json.dumps({"unshare": unshare, "mount": mounted}).encode())
    os._exit(0)
os.waitpid(child, 0)
result = json.loads(os.read(read_end, 4096))
cloned = sc(56, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)  # raw clone into a new user namespace
if cloned[0] == 0:
    os._exit(0)
if cloned[0] > 0:
    os.waitpid(cloned[0], 0)
result["clone_newuser"] = cloned
import threading
box = []
worker = threading.Thread(target=lambda: box.append(1))
worker.start(); worker.join()
plain = os.fork()
if plain == 0:
    os._exit(5)
result["threads_and_fork_work"] = bool(box) and os.waitpid(plain, 0)[1] >> 8 == 5
emit(result)
"""


def test_engine_cannot_enter_new_namespaces_or_mount(scratch, tmp_path):
    case = engine_case(scratch, NAMESPACE_ESCAPE)
    sandbox_run(case, scratch)
    result = read_out(case)
    assert result["unshare"] == [-1, errno.EPERM]
    assert result["mount"] == [-1, errno.EPERM]
    assert result["clone_newuser"] == [-1, errno.EPERM]
    assert result["threads_and_fork_work"] is True


# -- the wipe never follows a link -----------------------------------------------------------------

SYMLINKS = """
out = os.environ["ENCLAVA_OUTPUT_DIR"]
os.symlink("{VICTIM}", os.path.join(out, "evil"))
os.symlink("{VICTIM}/keep.txt", os.path.join(out, "evil-file"))
os.mkdir(os.path.join(out, "sub"))
os.symlink("{VICTIM}", os.path.join(out, "sub", "evil"))
emit({"planted": 3})
"""


def test_symlink_in_output_does_not_make_the_wipe_touch_a_host_folder(tmp_path):
    victim = tmp_path / "host-folder"
    victim.mkdir()
    (victim / "keep.txt").write_text("host data")
    os.chmod(victim, 0o755)
    os.chmod(victim / "keep.txt", 0o644)
    before = os.stat(victim)
    with Scratch(tmp_path / "scratch-root") as area:
        case = engine_case(area, SYMLINKS.replace("{VICTIM}", str(victim)))
        with pytest.raises(EngineFailed) as caught:
            sandbox_run(case, area)
        assert "not plain files" in str(caught.value)
    after = os.stat(victim)
    assert stat.S_IMODE(after.st_mode) == 0o755, "the wipe chmod-ed a host folder through a link"
    assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
    assert (victim / "keep.txt").read_text() == "host data"
    assert stat.S_IMODE(os.stat(victim / "keep.txt").st_mode) == 0o644


# -- limits cover every child ----------------------------------------------------------------------

CPU_CHILDREN = """
children = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        while True:
            pass
    children.append(pid)
statuses = [os.waitpid(pid, 0)[1] for pid in children]
emit({"children": statuses})
"""


def test_children_cannot_share_out_more_cpu_than_the_limit(scratch, tmp_path):
    case = engine_case(scratch, CPU_CHILDREN, cpu=2, wall=120)
    with pytest.raises(EngineCpuExceeded) as caught:
        sandbox_run(case, scratch)
    run = caught.value.run
    assert caught.value.reason_code == Reason.CPU_EXCEEDED
    assert 2.0 <= run.cpu_seconds < 3.5, f"the group used {run.cpu_seconds:.2f} s of CPU"


MEMORY_CHILDREN = """
SIZE = 150 * 1024 * 1024
children = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        block = bytearray(SIZE)
        block[::4096] = b"\\1" * len(range(0, SIZE, 4096))
        time.sleep(4)
        os._exit(0)
    children.append(pid)
statuses = [os.waitpid(pid, 0)[1] for pid in children]
emit({"children": statuses})
"""


def test_children_cannot_share_out_more_memory_than_the_limit(scratch, tmp_path):
    case = engine_case(scratch, MEMORY_CHILDREN, memory=256, wall=120)
    with pytest.raises(EngineMemoryExceeded) as caught:
        sandbox_run(case, scratch)
    assert caught.value.reason_code == Reason.MEMORY_EXCEEDED
    peak = caught.value.run.memory_peak_bytes
    assert peak is not None and peak <= 256 * 1024 * 1024


FORK_MANY = """
read_end, write_end = os.pipe()
started, error = 0, None
for _ in range(700):
    try:
        pid = os.fork()
    except OSError as exc:
        error = exc.errno
        break
    if pid == 0:
        os.close(write_end)
        os.read(read_end, 1)
        os._exit(0)
    started += 1
os.close(write_end)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
emit({"started": started, "errno": error})
"""


def test_process_count_is_capped_for_the_whole_run(scratch, tmp_path):
    case = engine_case(scratch, FORK_MANY, memory=2048, wall=120)
    sandbox_run(case, scratch)
    result = read_out(case)
    assert result["errno"] == errno.EAGAIN and result["started"] < 512


# -- outputs and logs on a capped tmpfs ------------------------------------------------------------

FLOOD_OUTPUT = """
out = os.environ["ENCLAVA_OUTPUT_DIR"]
written, names, error = 0, [], None
for index in range(4000):  # 40 MB in files of 10 kB, each under the per-file size limit
    name = os.path.join(out, f"flood{index:04d}")
    try:
        with open(name, "wb") as handle:
            handle.write(b"x" * 10_000)
        written += 10_000
    except OSError as exc:
        error = exc.errno
        break
    finally:
        names.append(name)
for name in names:
    if os.path.exists(name):
        os.unlink(name)
sizes = {}
for place in ("/output", "/tmp", "/dev/shm", "/scratch"):
    info = os.statvfs(place)
    sizes[place] = info.f_blocks * info.f_frsize
emit({"written": written, "errno": error, "sizes": sizes})
"""


def test_output_flood_stops_at_a_capped_tmpfs_in_the_scratch(scratch, tmp_path):
    case = engine_case(scratch, FLOOD_OUTPUT, output=100_000, memory=1024)
    sandbox_run(case, scratch)
    result = read_out(case)
    cap = 100_000 + 4 * 1024 * 1024 + 4096
    assert result["written"] <= cap, f"{result['written']} bytes of output were accepted"
    assert result["errno"] == errno.ENOSPC
    assert result["sizes"]["/output"] <= cap
    assert all(result["sizes"][p] <= 64 * 1024 * 1024 for p in ("/tmp", "/dev/shm", "/scratch"))
    mounts = _mounts_under(case[3])
    assert mounts and mounts[0][1] == "tmpfs" and "size=" in mounts[0][2]


def _mounts_under(folder: Path) -> list[tuple[str, str, str]]:
    """(mount point, file system type, super options) of every mount at or below ``folder``."""
    found = []
    prefix = os.path.realpath(folder)
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            left, right = line.split(" - ", 1)
            point = left.split()[4].replace("\\040", " ")
            fstype, _source, options = right.split()[:3]
            if point == prefix or point.startswith(prefix + "/"):
                found.append((point, fstype, options))
    return found


# -- time -----------------------------------------------------------------------------------------

SLEEPER = """
time.sleep(12)
emit({"slept": 12})
"""


def test_order_remaining_time_caps_the_wall_limit(scratch, tmp_path):
    case = engine_case(scratch, SLEEPER, wall=30)
    started = time.monotonic()
    with pytest.raises(EngineTimeout) as caught:
        sandbox_run(case, scratch, wall_limit_s=3.0)
    assert caught.value.reason_code == Reason.TIMEOUT
    assert time.monotonic() - started < 9
    assert not (case[3] / "out.json").exists()


def test_manifest_wall_limit_still_applies_under_a_long_order(scratch, tmp_path):
    case = engine_case(scratch, SLEEPER, wall=2)
    with pytest.raises(EngineTimeout):
        sandbox_run(case, scratch, wall_limit_s=600.0)


def test_order_without_time_left_does_not_start_the_engine(scratch, tmp_path):
    case = engine_case(scratch, SLEEPER, wall=30)
    started = time.monotonic()
    with pytest.raises(EngineTimeout):
        sandbox_run(case, scratch, wall_limit_s=0.0)
    assert time.monotonic() - started < 2


# -- nothing an engine prints or writes reaches the host's temp folders ----------------------------

CANARY_ENGINE = """
canary = open("/input/data/000").read().strip()
print("stdout", canary, flush=True)
print("stderr", canary, file=sys.stderr, flush=True)
for place in ("/tmp/canary", "/dev/shm/canary", "/scratch/canary"):
    with open(place, "w") as handle:
        handle.write(canary)
import hashlib
out = os.environ["ENCLAVA_OUTPUT_DIR"]
open(os.path.join(out, "ready"), "w").close()
deadline = time.monotonic() + 60
while not os.path.exists("/input/data/go") and time.monotonic() < deadline:
    time.sleep(0.05)
os.unlink(os.path.join(out, "ready"))
emit({"digest": hashlib.sha256(canary.encode()).hexdigest()})
"""


def _grep(canary: str, *places: str | Path, exclude_dir: str | None = None) -> list[str]:
    command = ["grep", "-rlF", "-D", "skip", "--no-messages"]
    command += [f"--exclude-dir={exclude_dir}"] if exclude_dir else []
    command += ["--", canary, *[str(p) for p in places if os.path.exists(p)]]
    # Exit status 2 may only mean a file vanished while grep walked /tmp: the matches still count.
    return subprocess.run(
        command, capture_output=True, text=True, timeout=300, check=False
    ).stdout.split()


@pytest.fixture
def canary_root():
    CANARY_SCRATCH_ROOT.mkdir(mode=0o700, exist_ok=True)
    root = CANARY_SCRATCH_ROOT / secrets.token_hex(4)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_engine_output_never_reaches_the_host_temp_folders(canary_root, tmp_path):
    canary = "CANARY-" + secrets.token_hex(16)
    found: dict[str, object] = {}
    with Scratch(canary_root) as area:
        case = engine_case(area, CANARY_ENGINE, data=canary.encode())

        def watch() -> None:
            deadline = time.monotonic() + 60
            while not (case[3] / "ready").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            found["during"] = _grep(canary, *HOST_TEMP)
            found["mounts"] = _mounts_under(area.path)
            (case[2] / "data" / "go").touch()

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            sandbox_run(case, area)
        finally:
            (case[2] / "data" / "go").touch()
            watcher.join()
        assert read_out(case)["digest"] == hashlib.sha256(canary.encode()).hexdigest()
        assert _grep(canary, case[2]) == [
            str(case[2] / "data" / "000")
        ]  # grep does find the canary where it is
        found["after_run"] = _grep(canary, *HOST_TEMP)
        found["in_scratch"] = _grep(canary, area.path, exclude_dir="inputs")
    found["after_wipe"] = _grep(canary, *HOST_TEMP, canary_root)
    assert found["during"] == [], f"engine output in the host's temp folders: {found['during']}"
    assert found["after_run"] == [] and found["in_scratch"] == [] and found["after_wipe"] == []
    # While it ran, the captured stdout/stderr and the outputs were size-capped tmpfs mounts in the
    # scratch.
    mounts = found["mounts"]
    assert len(mounts) >= 2 and all(
        fstype == "tmpfs" and "size=" in options for _, fstype, options in mounts
    )
