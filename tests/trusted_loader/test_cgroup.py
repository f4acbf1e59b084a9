"""The run cgroup: the real one this machine offers, and the v2 and fail-closed paths on a made-up
tree.

The made-up trees stand in for the kernel's: a fake ``/proc/self/{mountinfo,cgroup}`` pointing at a
folder, and ``_new_group`` filling a new group with the interface files the kernel would create.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from enclava.protocol.engine.errors import SandboxCgroupUnavailable, SandboxUnavailable
from trusted_loader.sandbox import cgroup
from trusted_loader.sandbox.cgroup import CgroupLimits, create_run_cgroup

LIMITS = CgroupLimits(memory_bytes=256 * 1024 * 1024, max_pids=512, cpu_quota_cores=1.0)
#: Interface files of a new group; the ones the loader writes start empty (a plain file is not
#: truncated).
V2_FILES = {
    "cgroup.procs": "",
    "memory.max": "",
    "memory.swap.max": "",
    "memory.oom.group": "",
    "pids.max": "",
    "cpu.max": "",
    "cpu.stat": "usage_usec 0\n",
    "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
    "memory.peak": "0\n",
}


def new_group(folder: Path) -> None:
    """What the kernel does on mkdir in a cgroup hierarchy: the folder with its interface files."""
    folder.mkdir(mode=0o755)
    for name, text in V2_FILES.items():
        (folder / name).write_text(text)


def fake_proc(tmp_path: Path, mountinfo: list[str], cgroups: list[str]) -> Path:
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "self" / "mountinfo").write_text("\n".join(mountinfo) + "\n")
    (proc / "self" / "cgroup").write_text("\n".join(cgroups) + "\n")
    return proc


@pytest.fixture
def v2_tree(tmp_path, monkeypatch):
    mount = tmp_path / "unified"
    base = mount / "loader.service"
    base.mkdir(parents=True)
    (base / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (base / "cgroup.subtree_control").write_text("cpu memory pids\n")
    (base / "cgroup.procs").write_text(f"{os.getpid()}\n")
    monkeypatch.setattr(cgroup, "_new_group", new_group)
    proc = fake_proc(
        tmp_path, [f"41 31 0:38 / {mount} rw,relatime - cgroup2 cgroup2 rw"], ["0::/loader.service"]
    )
    return proc, base


def test_v2_group_gets_memory_swap_pids_and_cpu_limits(v2_tree):
    proc, base = v2_tree
    group = create_run_cgroup(LIMITS, proc=proc, name="enclava-run-test")
    folder = base / "enclava-run-test"
    assert group.version == 2 and group.procs_files == [str(folder / "cgroup.procs")]
    assert (folder / "memory.max").read_text() == str(256 * 1024 * 1024)
    assert (folder / "memory.swap.max").read_text() == "0"
    assert (folder / "memory.oom.group").read_text() == "1"
    assert (folder / "pids.max").read_text() == "512"
    assert (folder / "cpu.max").read_text() == "100000 100000"


def test_v2_group_reads_cpu_oom_and_peak(v2_tree):
    proc, base = v2_tree
    group = create_run_cgroup(LIMITS, proc=proc, name="enclava-run-test")
    folder = base / "enclava-run-test"
    assert group.cpu_seconds() == 0 and not group.oom_killed() and group.memory_peak_bytes() == 0
    (folder / "cpu.stat").write_text("usage_usec 2345678\nuser_usec 2000000\nsystem_usec 345678\n")
    (folder / "memory.events").write_text("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n")
    (folder / "memory.peak").write_text("268435456\n")
    assert group.cpu_seconds() == pytest.approx(2.345678)
    assert group.oom_killed() and group.memory_peak_bytes() == 268435456


def test_v2_without_the_controllers_and_no_v1_fails_closed(tmp_path):
    mount = tmp_path / "unified"
    mount.mkdir()
    (mount / "cgroup.controllers").write_text("hugetlb\n")
    (mount / "cgroup.subtree_control").write_text("")
    proc = fake_proc(tmp_path, [f"41 31 0:38 / {mount} rw,relatime - cgroup2 cgroup2 rw"], ["0::/"])
    with pytest.raises(SandboxCgroupUnavailable) as caught:
        create_run_cgroup(LIMITS, proc=proc)
    assert isinstance(caught.value, SandboxUnavailable)
    assert "v2: cgroup v2 lacks controllers" in str(caught.value) and "v1: no cgroup v1" in str(
        caught.value
    )
    assert caught.value.code == "sandbox_cgroup_unavailable" and "Delegate=yes" in caught.value.hint


def test_v2_with_other_processes_in_the_loader_cgroup_fails_closed(tmp_path, monkeypatch):
    mount = tmp_path / "unified"
    base = mount / "shared.service"
    base.mkdir(parents=True)
    (base / "cgroup.controllers").write_text("cpu memory pids\n")
    (base / "cgroup.subtree_control").write_text("")
    (base / "cgroup.procs").write_text(f"{os.getpid()}\n1\n")
    real_write = cgroup._write

    def kernel_write(path: Path, value: str) -> None:
        if path.name == "cgroup.subtree_control":  # the "no internal processes" rule
            raise OSError(errno.EBUSY, "Device or resource busy")
        real_write(path, value)

    monkeypatch.setattr(cgroup, "_write", kernel_write)
    proc = fake_proc(
        tmp_path, [f"41 31 0:38 / {mount} rw,relatime - cgroup2 cgroup2 rw"], ["0::/shared.service"]
    )
    with pytest.raises(SandboxCgroupUnavailable) as caught:
        create_run_cgroup(LIMITS, proc=proc)
    assert "holds other processes" in str(caught.value)
    assert not (base / "enclava-loader").exists()


def test_v2_loader_alone_in_its_cgroup_moves_into_a_leaf_first(tmp_path, monkeypatch):
    mount = tmp_path / "unified"
    base = mount / "loader.service"
    base.mkdir(parents=True)
    (base / "cgroup.controllers").write_text("cpu memory pids\n")
    (base / "cgroup.subtree_control").write_text("")
    (base / "cgroup.procs").write_text(f"{os.getpid()}\n")
    real_write, moved = cgroup._write, []

    def kernel_write(path: Path, value: str) -> None:
        if path.name == "cgroup.subtree_control" and not moved:
            raise OSError(errno.EBUSY, "Device or resource busy")
        if path.name == "cgroup.procs" and path.parent.name == "enclava-loader":
            moved.append(value)
        real_write(path, value)

    monkeypatch.setattr(cgroup, "_write", kernel_write)
    monkeypatch.setattr(cgroup, "_new_group", new_group)
    proc = fake_proc(
        tmp_path, [f"41 31 0:38 / {mount} rw,relatime - cgroup2 cgroup2 rw"], ["0::/loader.service"]
    )
    group = create_run_cgroup(LIMITS, proc=proc, name="enclava-run-test")
    assert moved == [str(os.getpid())]
    assert (base / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    assert group.version == 2 and group.dirs == [base / "enclava-run-test"]


def _real_cgroup_available() -> bool:
    try:
        create_run_cgroup(LIMITS).close()
        return True
    except SandboxUnavailable:
        return False


needs_cgroup = pytest.mark.skipif(
    os.geteuid() != 0 or not _real_cgroup_available(),
    reason="needs root and a cgroup the loader may create groups in",
)


@needs_cgroup
def test_real_group_is_created_limited_and_removed():
    group = create_run_cgroup(LIMITS)
    try:
        assert group.dirs and all(d.is_dir() for d in group.dirs)
        assert group.cpu_seconds() == 0 and not group.oom_killed() and group.pids() == set()
        if group.version == 1:
            memory = group.by_controller["memory"]  # type: ignore[attr-defined]
            assert int((memory / "memory.limit_in_bytes").read_text()) == 256 * 1024 * 1024
            if (memory / "memory.memsw.limit_in_bytes").exists():
                assert (
                    int((memory / "memory.memsw.limit_in_bytes").read_text()) == 256 * 1024 * 1024
                )
            assert (group.by_controller["pids"] / "pids.max").read_text().strip() == "512"  # type: ignore
            assert (group.by_controller["cpu"] / "cpu.cfs_quota_us").read_text().strip() == "100000"  # type: ignore
        else:
            assert int((group.dirs[0] / "memory.max").read_text()) == 256 * 1024 * 1024
            assert (group.dirs[0] / "pids.max").read_text().strip() == "512"
    finally:
        group.close()
    assert not any(d.exists() for d in group.dirs)
