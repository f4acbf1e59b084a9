"""The engine sandbox: namespaces, a private root, a seccomp filter, a cgroup per run, limits, and
typed failures (see ``runner``)."""

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
    "ENGINE_DIR",
    "INPUT_DIR",
    "OUTPUT_DIR",
    "RAW_TAIL_BYTES",
    "SANDBOX_UID",
    "EngineRun",
    "run_engine",
]
