"""Engines: the manifest (``engine.toml``), canonical archives and hashes, typed failure reasons.

The format and runtime contract are described in ``engines/FORMAT.md``; the sandbox that runs an
engine lives in ``trusted_loader.sandbox``.
"""

from enclava.engine.archive import (
    MAX_ENGINE_BYTES,
    canonical_archive,
    engine_hash,
    pack_outputs,
    unpack_engine,
    unpack_outputs,
)
from enclava.engine.errors import (
    EngineArchiveInvalid,
    EngineCpuExceeded,
    EngineError,
    EngineFailed,
    EngineManifestInvalid,
    EngineMemoryExceeded,
    EngineNetworkDenied,
    EngineRunError,
    EngineTimeout,
    OutputArchiveInvalid,
    OutputMissing,
    OutputTooLarge,
    SandboxUnavailable,
)
from enclava.engine.manifest import (
    MANIFEST_NAME,
    EngineInfo,
    EngineManifest,
    InputSpec,
    Limits,
    OutputSpec,
    load_manifest,
    parse_manifest,
)
from enclava.engine.reasons import Reason, reason_name

__all__ = [
    "MANIFEST_NAME",
    "MAX_ENGINE_BYTES",
    "EngineArchiveInvalid",
    "EngineCpuExceeded",
    "EngineError",
    "EngineFailed",
    "EngineInfo",
    "EngineManifest",
    "EngineManifestInvalid",
    "EngineMemoryExceeded",
    "EngineNetworkDenied",
    "EngineRunError",
    "EngineTimeout",
    "InputSpec",
    "Limits",
    "OutputArchiveInvalid",
    "OutputMissing",
    "OutputSpec",
    "OutputTooLarge",
    "Reason",
    "SandboxUnavailable",
    "canonical_archive",
    "engine_hash",
    "load_manifest",
    "pack_outputs",
    "parse_manifest",
    "reason_name",
    "unpack_engine",
    "unpack_outputs",
]
