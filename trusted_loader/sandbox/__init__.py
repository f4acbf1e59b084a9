"""The engine sandbox: namespaces, a private root, a seccomp filter, a cgroup per run, limits, GPU
devices only when asked, and typed failures (see ``runner``)."""

from trusted_loader.sandbox.devices import (
    DeviceNode,
    GpuDeviceRefused,
    GpuDevicesUnavailable,
    discover_gpu_devices,
    gpu_devices_for,
)
from trusted_loader.sandbox.runner import (
    ENGINE_DIR,
    INPUT_DIR,
    OUTPUT_DIR,
    RAW_TAIL_BYTES,
    SANDBOX_UID,
    EngineRun,
    run_engine,
)

__all__ = [
    "DeviceNode",
    "GpuDeviceRefused",
    "GpuDevicesUnavailable",
    "discover_gpu_devices",
    "gpu_devices_for",
    "ENGINE_DIR",
    "INPUT_DIR",
    "OUTPUT_DIR",
    "RAW_TAIL_BYTES",
    "SANDBOX_UID",
    "EngineRun",
    "run_engine",
]
