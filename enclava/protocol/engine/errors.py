"""Engine and sandbox errors. Each carries ``reason_code`` (:mod:`enclava.protocol.engine.reasons`).

Hierarchy (the failure reason each maps to in brackets)::

    EnclavaError
    └── EngineError               reason_code; base of everything below
        ├── EngineManifestInvalid   engine.toml missing, unparsable or invalid      (engine_invalid)
        ├── EngineArchiveInvalid    refused: traversal, links, devices, size        (engine_invalid)
        ├── OutputArchiveInvalid    outputs that cannot be packed     (output_too_large / internal)
        ├── ModelFolderInvalid      a served model: files missing, pickles, code    (engine_invalid)
        ├── SandboxUnavailable      isolation could not be set up: fail closed      (internal_error)
        │   ├── SandboxCgroupUnavailable   no cgroup (v2 or v1) with memory, pids and CPU
        │   └── SandboxSeccompUnavailable  no seccomp filter for this machine's architecture
        └── EngineRunError          the engine ran and failed; ``run`` (EngineRun) when known
            │                       ``raw_stderr_tail`` (customer only), ``stderr_tail`` (masked)
            ├── EngineFailed        non-zero exit
            ├── EngineTimeout       wall-clock limit (manifest or the order's time left); killed
            ├── EngineCpuExceeded   CPU time of the run's cgroup (all processes) or RLIMIT_CPU
            ├── EngineMemoryExceeded  the run's cgroup hit its memory limit (OOM), or an
            │                         allocation or library mapping failed (MemoryError, ENOMEM)
            ├── EngineNetworkDenied   the engine tried to use the network
            ├── OutputMissing       a declared output file is absent
            └── OutputTooLarge      outputs exceed ``limits.output_bytes``
"""

from __future__ import annotations

from typing import Any

from enclava.errors import EnclavaError
from enclava.protocol.engine.reasons import Reason

__all__ = [
    "EngineError",
    "EngineManifestInvalid",
    "EngineArchiveInvalid",
    "OutputArchiveInvalid",
    "ModelFolderInvalid",
    "SandboxUnavailable",
    "SandboxCgroupUnavailable",
    "SandboxSeccompUnavailable",
    "EngineRunError",
    "EngineFailed",
    "EngineTimeout",
    "EngineCpuExceeded",
    "EngineMemoryExceeded",
    "EngineNetworkDenied",
    "OutputMissing",
    "OutputTooLarge",
]


class EngineError(EnclavaError):
    code = "engine_error"
    reason_code: int = Reason.INTERNAL_ERROR
    hint = "See the engine format in engines/FORMAT.md."


class EngineManifestInvalid(EngineError):
    code = "engine_manifest_invalid"
    reason_code = Reason.ENGINE_INVALID
    hint = "Fix engine.toml so that it follows engines/FORMAT.md."


class EngineArchiveInvalid(EngineError):
    code = "engine_archive_invalid"
    reason_code = Reason.ENGINE_INVALID
    hint = (
        "Rebuild the archive with `enclava.protocol.engine.canonical_archive` from a folder of "
        "plain files."
    )


class OutputArchiveInvalid(EngineError):
    code = "output_archive_invalid"
    reason_code = Reason.INTERNAL_ERROR
    hint = "Outputs must be plain files and folders inside the output folder."


class ModelFolderInvalid(EngineError):
    code = "model_folder_invalid"
    reason_code = Reason.ENGINE_INVALID
    hint = (
        "Publish a Hugging Face causal-LM folder: config.json, *.safetensors weights and "
        "tokenizer.json (see docs/SERVING.md)."
    )


class SandboxUnavailable(EngineError):
    code = "sandbox_unavailable"
    reason_code = Reason.INTERNAL_ERROR
    hint = (
        "The sandbox needs root (or CAP_SYS_ADMIN) to create network, mount and PID namespaces; "
        "run the trusted loader inside its CVM as root. Engines never run without isolation."
    )


class SandboxCgroupUnavailable(SandboxUnavailable):
    code = "sandbox_cgroup_unavailable"
    hint = (
        "Each engine run needs a cgroup of its own with the memory, pids and cpu controllers: "
        "give the loader a cgroup v2 subtree with them delegated (systemd: Delegate=yes), or "
        "cgroup v1 memory, pids, cpu and cpuacct hierarchies it may create groups in. Engines "
        "never run without these limits."
    )


class SandboxSeccompUnavailable(SandboxUnavailable):
    code = "sandbox_seccomp_unavailable"
    hint = (
        "The engine's seccomp filter is written for x86_64 only; run the trusted loader on an "
        "x86_64 CVM. Engines never run without the filter."
    )


class EngineRunError(EngineError):
    """The engine was started and did not succeed; ``run`` holds what was measured.

    The sandbox attaches what the engine wrote to stderr: ``raw_stderr_tail`` (its last 8 KiB as
    written; it may echo the customer's data, so it goes only into the failure detail encrypted to
    the customer, or to the engine's own author in a local test) and ``stderr_tail`` (the last
    lines with numbers and long tokens masked). Neither is part of ``str(error)`` or any log.
    """

    raw_stderr_tail: str = ""
    stderr_tail: str = ""

    def __init__(self, message: str, *, run: Any = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.run = run


class EngineFailed(EngineRunError):
    code = "engine_failed"
    reason_code = Reason.ENGINE_FAILED
    hint = "The engine exited with an error; its owner can reproduce it with a local run."

    def __init__(
        self, message: str, *, run: Any = None, stderr_tail: str = "", hint: str | None = None
    ) -> None:
        super().__init__(message, run=run, hint=hint)
        # Bounded and redacted, but it may still echo data: keep it out of logs and reports.
        self.stderr_tail = stderr_tail


class EngineTimeout(EngineRunError):
    code = "engine_timeout"
    reason_code = Reason.TIMEOUT
    hint = (
        "The engine ran past limits.wall_seconds or past the order's remaining time; raise the "
        "limit, give the order a longer max duration, or make the engine faster."
    )


class EngineCpuExceeded(EngineRunError):
    code = "engine_cpu_exceeded"
    reason_code = Reason.CPU_EXCEEDED
    hint = (
        "The engine and all its child processes together used more than limits.cpu_seconds of "
        "CPU time."
    )


class EngineMemoryExceeded(EngineRunError):
    code = "engine_memory_exceeded"
    reason_code = Reason.MEMORY_EXCEEDED
    hint = (
        "The engine and all its child processes together needed more than limits.memory_mb of "
        "resident memory (files it writes to /output, /tmp, /dev/shm and /scratch count too)."
    )


class EngineNetworkDenied(EngineRunError):
    code = "engine_network_denied"
    reason_code = Reason.NETWORK_DENIED
    hint = "Engines run without network; ship everything the engine needs inside it or as inputs."


class OutputMissing(EngineRunError):
    code = "output_missing"
    reason_code = Reason.OUTPUT_MISSING
    hint = "The engine must write every output declared in engine.toml."


class OutputTooLarge(EngineRunError):
    code = "output_too_large"
    reason_code = Reason.OUTPUT_TOO_LARGE
    hint = "The outputs exceed limits.output_bytes."
