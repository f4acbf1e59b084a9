"""GPU device nodes in the real sandbox: none by default; exactly the given ones otherwise; and the
validator refuses every node that is not the NVIDIA driver's.

This machine has no GPU, so the mounting layer is shown with ``/dev/null``'s and ``/dev/zero``'s
device numbers under NVIDIA names (``DeviceNode`` is a plain value; every check the mounting layer
makes still applies), and the validator with real nodes made in ``/dev`` (``mknod``, as root) that
carry NVIDIA names but are not the driver's."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enclava.protocol.engine import SandboxUnavailable, load_manifest
from tests.engines.fixture_engine import write_engine
from trusted_loader.sandbox import (
    DeviceNode,
    GpuDeviceRefused,
    GpuDevicesUnavailable,
    discover_gpu_devices,
    gpu_devices_for,
    run_engine,
)
from trusted_loader.sandbox.devices import nvidia_driver_majors
from trusted_loader.sandbox.seccomp import REFUSED_SYSCALLS
from trusted_loader.scratch import Scratch

#: What the engine reports: every node under /dev (recursively) with its type and number, whether
#: each NVIDIA-named node can be opened and written, and what /proc/driver holds.
LISTING = """import fcntl, json, os, stat
seen = {}
for folder, dirs, files in os.walk("/dev"):
    for name in dirs + files:
        path = os.path.join(folder, name)
        info = os.lstat(path)
        mode = info.st_mode
        kind = "chr" if stat.S_ISCHR(mode) else "dir" if stat.S_ISDIR(mode) else "other"
        seen[path] = [kind, os.major(info.st_rdev), os.minor(info.st_rdev)]
usable, ioctls = {}, {}
for path in seen:
    if "nvidia" in path and seen[path][0] == "chr":
        try:
            fd = os.open(path, os.O_RDWR)
            usable[path] = os.write(fd, b"x") == 1
            try:
                fcntl.ioctl(fd, 0xC00846D2, b"12345678")  # an NVIDIA-style _IOWR request
                ioctls[path] = 0
            except OSError as exc:
                ioctls[path] = exc.errno
            os.close(fd)
        except OSError as exc:
            usable[path] = exc.errno
try:
    driver = sorted(os.listdir("/proc/driver"))
except OSError as exc:
    driver = exc.errno
out = os.path.join(os.environ["ENCLAVA_OUTPUT_DIR"], "out.json")
with open(out, "w") as handle:
    json.dump({"dev": seen, "usable": usable, "ioctls": ioctls, "proc_driver": driver}, handle)
"""


@pytest.fixture
def scratch(tmp_path):
    with Scratch(tmp_path / "scratch-root") as area:
        yield area


def _run(tmp_path: Path, scratch: Scratch, **kwargs) -> dict:
    engine = write_engine(tmp_path / "engine", LISTING)
    inputs = scratch.sub("inputs")
    (inputs / "data").mkdir(parents=True)
    (inputs / "data" / "000").write_bytes(b"x")
    outputs = scratch.path / "outputs"
    run_engine(
        engine,
        load_manifest(engine),
        inputs,
        outputs,
        seed=1,
        order_id="0x1",
        scratch=scratch,
        **kwargs,
    )
    return json.loads((outputs / "out.json").read_text())


def _node(name: str, like: str) -> DeviceNode:
    """A node with ``like``'s device number, bound under the NVIDIA name ``name``."""
    return DeviceNode(source=like, name=name, rdev=os.stat(like).st_rdev)


def test_no_gpu_node_exists_in_the_sandbox_by_default(tmp_path, scratch):
    seen = _run(tmp_path, scratch)
    assert sorted(seen["dev"]) == [
        "/dev/null",
        "/dev/random",
        "/dev/shm",
        "/dev/urandom",
        "/dev/zero",
    ]
    assert seen["usable"] == {}
    # A host with the driver has /proc/driver/nvidia: without GPU nodes the sandbox hides it.
    assert seen["proc_driver"] in ([], 2)


def test_exactly_the_given_nodes_are_exposed_and_usable(tmp_path, scratch):
    nodes = (
        _node("nvidiactl", "/dev/null"),
        _node("nvidia0", "/dev/zero"),
        _node("nvidia-caps/nvidia-cap1", "/dev/null"),
    )
    seen = _run(tmp_path, scratch, gpu_devices=nodes)
    null, zero = os.stat("/dev/null").st_rdev, os.stat("/dev/zero").st_rdev
    gpu = {path: entry for path, entry in seen["dev"].items() if "nvidia" in path}
    assert gpu == {
        "/dev/nvidiactl": ["chr", os.major(null), os.minor(null)],
        "/dev/nvidia0": ["chr", os.major(zero), os.minor(zero)],
        "/dev/nvidia-caps": ["dir", 0, 0],
        "/dev/nvidia-caps/nvidia-cap1": ["chr", os.major(null), os.minor(null)],
    }
    assert set(seen["dev"]) - set(gpu) == {
        "/dev/null",
        "/dev/random",
        "/dev/shm",
        "/dev/urandom",
        "/dev/zero",
    }
    # Opened and written as uid 65534 inside the user namespace: the bind is not nodev.
    assert seen["usable"] == {
        "/dev/nvidiactl": True,
        "/dev/nvidia0": True,
        "/dev/nvidia-caps/nvidia-cap1": True,
    }
    # The ioctl reaches the device's driver (null/zero answer ENOTTY), not seccomp's EPERM: the
    # filter lets through the ioctls CUDA talks to the NVIDIA driver with.
    assert set(seen["ioctls"].values()) == {errno.ENOTTY}


def test_the_seccomp_filter_refuses_nothing_cuda_calls():
    """ioctl, mmap and friends are what libcuda uses; none of them is on the refused list."""
    cuda_calls = {"ioctl", "mmap", "munmap", "mprotect", "mremap", "madvise", "mlock", "munlock"}
    cuda_calls |= {"memfd_create", "eventfd2", "poll", "ppoll", "futex", "sched_getaffinity"}
    assert not cuda_calls & set(REFUSED_SYSCALLS)


def test_a_node_swapped_after_validation_fails_the_run_closed(tmp_path, scratch):
    """The mounting layer checks the mounted node's number against the validated one."""
    swapped = DeviceNode(source="/dev/zero", name="nvidia0", rdev=os.stat("/dev/null").st_rdev)
    with pytest.raises(SandboxUnavailable, match="not the validated one"):
        _run(tmp_path, scratch, gpu_devices=(swapped,))
    assert not (scratch.path / "outputs" / "out.json").exists()


def test_a_regular_file_given_as_a_node_fails_the_run_closed(tmp_path, scratch):
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    node = DeviceNode(source=str(plain), name="nvidia0", rdev=0)
    with pytest.raises(SandboxUnavailable, match="not the validated one"):
        _run(tmp_path, scratch, gpu_devices=(node,))


@pytest.mark.parametrize(
    "gpu_devices",
    [
        (DeviceNode(source="/dev/null", name="sda", rdev=0),),
        (DeviceNode(source="/dev/null", name="../mem", rdev=0),),
        (DeviceNode(source="/dev/null", name="nvidia0/../../mem", rdev=0),),
        (DeviceNode(source="dev/null", name="nvidia0", rdev=0),),
        (_node("nvidia0", "/dev/null"), _node("nvidia0", "/dev/zero")),
        ("/dev/nvidia0",),
        [_node("nvidia0", "/dev/null")],
    ],
    ids=["foreign-name", "dotdot", "nested-dotdot", "relative", "twice", "string", "list"],
)
def test_run_engine_refuses_what_is_not_an_nvidia_device_node(tmp_path, scratch, gpu_devices):
    with pytest.raises(GpuDeviceRefused):
        _run(tmp_path, scratch, gpu_devices=gpu_devices)
    assert not (scratch.path / "outputs").exists()


@pytest.mark.parametrize(
    "path",
    [
        "/dev/null",
        "/dev/sda",
        "/dev/mem",
        "/dev/nvidia",
        "/dev/nvidia01",
        "/dev/nvidiactl2",
        "/dev/nvidia-uvm/../mem",
        "/dev/nvidia-caps/../mem",
        "/dev/nvidia-caps/other",
        "dev/nvidia0",
        "/tmp/nvidia0",
        "/dev//nvidia0",
    ],
)
def test_validator_refuses_names_that_are_not_nvidia_nodes(path):
    with pytest.raises(GpuDeviceRefused, match="not"):
        DeviceNode.nvidia(path)


@pytest.fixture
def planted():
    """Make nodes in the real /dev with NVIDIA names (high numbers no driver uses) and remove them
    afterwards."""
    made: list[str] = []

    def plant(name: str, kind: str) -> str:
        path = f"/dev/{name}"
        assert not os.path.lexists(path), f"{path} exists on this host"
        if kind == "file":
            Path(path).write_bytes(b"")
        elif kind == "link":
            os.symlink("/dev/null", path)
        else:
            os.mknod(path, 0o600 | stat.S_IFCHR, os.stat("/dev/null").st_rdev)
        made.append(path)
        return path

    yield plant
    for path in made:
        os.unlink(path)


def test_validator_refuses_a_regular_file_with_an_nvidia_name(planted):
    with pytest.raises(GpuDeviceRefused, match="not a character device"):
        DeviceNode.nvidia(planted("nvidia251", "file"))


def test_validator_refuses_a_link_with_an_nvidia_name(planted):
    with pytest.raises(GpuDeviceRefused, match="not a character device"):
        DeviceNode.nvidia(planted("nvidia252", "link"))


def test_validator_refuses_a_char_device_of_another_driver_under_an_nvidia_name(planted):
    """``mknod /dev/nvidia253 c 1 3``: the name fits, the major is /dev/null's, not NVIDIA's."""
    path = planted("nvidia253", "char")
    assert os.major(os.stat("/dev/null").st_rdev) not in nvidia_driver_majors()
    with pytest.raises(GpuDeviceRefused, match="not the NVIDIA driver's"):
        DeviceNode.nvidia(path)
    # Discovery refuses such a /dev as a whole instead of skipping the node.
    with pytest.raises(GpuDeviceRefused):
        discover_gpu_devices()


def test_validator_refuses_a_missing_node():
    with pytest.raises(GpuDeviceRefused, match="cannot be read"):
        DeviceNode.nvidia("/dev/nvidia254")


def test_driver_majors_are_read_from_proc_devices(tmp_path):
    table = tmp_path / "devices"
    table.write_text(
        "Character devices:\n  1 mem\n195 nvidia-frontend\n235 nvidia-caps\n508 nvidia-uvm\n"
        "\nBlock devices:\n195 nvidia\n  8 sd\n"
    )
    assert nvidia_driver_majors(str(table)) == frozenset({195, 235, 508})
    assert nvidia_driver_majors(str(tmp_path / "absent")) == frozenset()


def test_discovery_lists_exactly_the_driver_s_nodes_and_gpu_orders_need_them():
    """Without the NVIDIA driver (this machine): nothing, and a GPU order is refused. With it:
    every node found is the driver's character device, including what CUDA opens."""
    majors = nvidia_driver_majors()
    assert gpu_devices_for(False) == ()
    if not majors:
        assert discover_gpu_devices() == ()
        with pytest.raises(GpuDevicesUnavailable):
            gpu_devices_for(True)
        return
    nodes = discover_gpu_devices()
    assert {"nvidiactl", "nvidia-uvm"} <= {node.name for node in nodes}
    assert all(os.major(node.rdev) in majors for node in nodes)
    given = gpu_devices_for(True)
    assert set(given) <= set(nodes) and {"nvidiactl", "nvidia-uvm"} <= {n.name for n in given}
    assert not [n for n in given if n.name.startswith(("nvidia-caps", "nvidia-uvm-", "nvidia-m"))]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.text(max_size=30).map(lambda t: "/dev/nvidia" + t)))
def test_the_validator_answers_any_path_with_only_its_typed_refusal(path):
    """No NVIDIA driver here: every path, however odd, is refused with ``GpuDeviceRefused``."""
    if nvidia_driver_majors():
        return
    with pytest.raises(GpuDeviceRefused):
        DeviceNode.nvidia(path)


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=300)
    | st.lists(st.sampled_from(["Character devices:", "x nvidia", "195 nvidia", "1 mem", ""])).map(
        "\n".join
    )
)
def test_the_proc_devices_reader_takes_any_text(tmp_path_factory, text):
    table = tmp_path_factory.mktemp("devices") / "devices"
    table.write_text(text)
    assert all(isinstance(m, int) for m in nvidia_driver_majors(str(table)))
