"""Which GPU device nodes an engine may see: NVIDIA's, validated here, bound in by ``_isolate``.

An engine sees no GPU unless the loader passes ``run_engine(..., gpu_devices=...)``, which it does
only for an order whose TEE offer promises a GPU (``gpu_devices_for(offer_requires_gpu(label))``).
The split is in two layers, so that each can be tested for real:

* **Validation** (:meth:`DeviceNode.nvidia`, :func:`discover_gpu_devices`): the path is one of
  NVIDIA's node names under ``/dev`` (:data:`NVIDIA_NODE`: ``nvidia<N>``, ``nvidiactl``,
  ``nvidia-uvm``, ``nvidia-uvm-tools``, ``nvidia-modeset``, ``nvidia-caps/nvidia-cap<N>``), the
  node itself is a character device (``lstat``: a link is refused, never followed), and its major
  number is one the NVIDIA driver registered in ``/proc/devices`` (``nvidia-frontend``/``nvidia``,
  ``nvidia-uvm``, ``nvidia-caps``, ...): a node that merely carries an NVIDIA name — a ``mknod
  /dev/nvidia0 c 1 1`` for ``/dev/mem`` — is refused. The result is a :class:`DeviceNode` holding
  the node's device number as seen at validation.
* **Mounting** (``_isolate.build_root``): each :class:`DeviceNode` is bind-mounted at
  ``/dev/<name>`` in the new root (read-write, ``nosuid``, ``noexec``), and right after the bind the
  mounted node is checked again: a character device with exactly the validated device number, and
  an NVIDIA name — a node swapped between validation and mount fails the run closed.

A :class:`DeviceNode` is a plain value, so a test can build one for ``/dev/null`` under the name
``nvidia0`` and show the mounting layer exposing it, and only it, without any test switch in this
code; everything the mounting layer checks still applies to it. In production nodes come only
from :meth:`DeviceNode.nvidia`.

What else CUDA needs is already in the sandbox: the driver's user-space libraries (``libcuda``,
``libnvidia-ml``) live in the bound system library folders, and ``/proc/driver/nvidia`` (``params``,
``capabilities/`` for MIG) is part of the sandbox's fresh ``/proc`` (procfs driver entries are the
same in every PID namespace). Without GPU devices ``_isolate`` hides ``/proc/driver`` under an empty
read-only tmpfs. The seccomp filter refuses no ``ioctl``, ``mmap`` or ``mprotect``, which is what
CUDA talks to the driver with; of the refused calls (``seccomp.REFUSED_SYSCALLS``) none is used by
the CUDA driver or runtime (``perf_event_open`` and ``bpf`` only by profilers).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass

from enclava.protocol.engine.errors import SandboxUnavailable

__all__ = [
    "NVIDIA_NODE",
    "DeviceNode",
    "GpuDeviceRefused",
    "GpuDevicesUnavailable",
    "discover_gpu_devices",
    "gpu_devices_for",
    "nvidia_driver_majors",
]

#: The NVIDIA node names an engine may see, relative to ``/dev``.
NVIDIA_NODE = re.compile(
    r"nvidia(?:0|[1-9][0-9]{0,2})|nvidiactl|nvidia-uvm|nvidia-uvm-tools|nvidia-modeset"
    r"|nvidia-caps/nvidia-cap(?:0|[1-9][0-9]{0,5})"
)
#: The ``/proc/devices`` names of the character-device majors NVIDIA's kernel modules register.
_DRIVER_MAJOR_NAMES = frozenset(
    {
        "nvidia",
        "nvidia-frontend",
        "nvidia-uvm",
        "nvidia-caps",
        "nvidia-modeset",
        "nvidia-nvlink",
        "nvidia-nvswitch",
        "nvidia-caps-imex-channels",
    }
)
_DEV = "/dev/"


class GpuDeviceRefused(SandboxUnavailable):
    """A device node that is not one of the NVIDIA driver's was offered to the sandbox."""

    code = "sandbox_gpu_device_refused"
    hint = (
        "Only NVIDIA's character devices under /dev (nvidia<N>, nvidiactl, nvidia-uvm, "
        "nvidia-uvm-tools, nvidia-modeset, nvidia-caps/nvidia-cap<N>) of the loaded NVIDIA driver "
        "can be given to an engine; build them with DeviceNode.nvidia or discover_gpu_devices()."
    )


class GpuDevicesUnavailable(SandboxUnavailable):
    """The order's offer promises a GPU but this CVM shows no usable NVIDIA device nodes."""

    code = "sandbox_gpu_unavailable"
    hint = (
        "Load the NVIDIA driver (>= 550, CC mode on) in the CVM so that /dev/nvidiactl, "
        "/dev/nvidia-uvm and /dev/nvidia<N> exist (nvidia-modprobe -u -c 0 creates them)."
    )


@dataclass(frozen=True)
class DeviceNode:
    """One device node to expose: ``source`` on the host, ``name`` under the sandbox's ``/dev``,
    ``rdev`` the device number both must have."""

    source: str
    name: str
    rdev: int

    @classmethod
    def nvidia(cls, path: str) -> DeviceNode:
        """Validate the host node ``path`` (e.g. ``/dev/nvidia0``); raise ``GpuDeviceRefused``."""
        if not isinstance(path, str) or not path.startswith(_DEV):
            raise GpuDeviceRefused(f"{path!r} is not a path under /dev")
        name = path[len(_DEV) :]
        if not NVIDIA_NODE.fullmatch(name):
            raise GpuDeviceRefused(f"{path!r} is not one of NVIDIA's device node names")
        try:
            if "/" in name and stat.S_ISLNK(os.lstat(os.path.dirname(path)).st_mode):
                raise GpuDeviceRefused(f"{os.path.dirname(path)!r} is a link")
            info = os.lstat(path)
        except OSError as exc:
            raise GpuDeviceRefused(f"{path!r} cannot be read: {exc.strerror}") from exc
        if not stat.S_ISCHR(info.st_mode):
            raise GpuDeviceRefused(f"{path!r} is not a character device")
        majors = nvidia_driver_majors()
        if os.major(info.st_rdev) not in majors:
            raise GpuDeviceRefused(
                f"{path!r} has major {os.major(info.st_rdev)}, which is not the NVIDIA driver's "
                f"({sorted(majors) or 'no NVIDIA driver loaded'})"
            )
        return cls(source=path, name=name, rdev=info.st_rdev)


def nvidia_driver_majors(proc_devices: str = "/proc/devices") -> frozenset[int]:
    """The character-device majors the NVIDIA kernel modules registered (empty without them)."""
    try:
        with open(proc_devices) as handle:
            text = handle.read()
    except OSError:
        return frozenset()
    majors: set[int] = set()
    section = ""
    for line in text.splitlines():
        if line.endswith(":"):
            section = line
            continue
        parts = line.split()
        if (
            section == "Character devices:"
            and len(parts) == 2
            and parts[1] in _DRIVER_MAJOR_NAMES
            and parts[0].isascii()
            and parts[0].isdigit()
        ):
            majors.add(int(parts[0]))
    return frozenset(majors)


def discover_gpu_devices() -> tuple[DeviceNode, ...]:
    """Every NVIDIA device node of this host, validated, sorted by name (empty without a GPU).

    Entries with an NVIDIA name that fail validation (a regular file, a link, a foreign major)
    are refused with ``GpuDeviceRefused`` rather than skipped: a tampered ``/dev`` must not run."""
    found: list[DeviceNode] = []
    try:
        names = sorted(os.listdir(_DEV))
    except OSError:
        return ()
    for name in names:
        if name == "nvidia-caps":
            try:
                caps = sorted(os.listdir(_DEV + name))
            except OSError:
                continue
            found += [
                DeviceNode.nvidia(f"{_DEV}{name}/{cap}")
                for cap in caps
                if NVIDIA_NODE.fullmatch(f"{name}/{cap}")
            ]
        elif NVIDIA_NODE.fullmatch(name):
            found.append(DeviceNode.nvidia(_DEV + name))
    return tuple(sorted(found, key=lambda node: node.name))


#: What CUDA opens to compute: the control node, the unified-memory node and each GPU's node.
#: ``nvidia-uvm-tools`` (profiler counters), ``nvidia-modeset`` (display) and ``nvidia-caps/*``
#: (MIG management capabilities) are valid names but are not given to engines by default.
_CUDA_NODE = re.compile(r"nvidia(?:0|[1-9][0-9]{0,2})|nvidiactl|nvidia-uvm")


def gpu_devices_for(required: bool) -> tuple[DeviceNode, ...]:
    """The nodes to give an engine: none unless ``required`` (the order's offer has a GPU); then
    the CVM's validated ``nvidiactl``, ``nvidia-uvm`` and every ``nvidia<N>`` (what CUDA opens),
    all of which must exist, else ``GpuDevicesUnavailable``. Every NVIDIA node found is validated,
    also those not given."""
    if not required:
        return ()
    nodes = tuple(node for node in discover_gpu_devices() if _CUDA_NODE.fullmatch(node.name))
    names = {node.name for node in nodes}
    if not {"nvidiactl", "nvidia-uvm"} <= names or not any(n[6:].isdigit() for n in names):
        raise GpuDevicesUnavailable(
            f"the order's offer has a GPU, but this CVM has NVIDIA nodes {sorted(names)}"
        )
    return nodes
