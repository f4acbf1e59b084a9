"""The engine runtime contract: the manifest (``engine.toml``), canonical archives and hashes,
typed failure reasons, and the seed an order's engine runs with.

The format and runtime contract are described in ``engines/FORMAT.md``; the sandbox that runs an
engine lives in ``trusted_loader.sandbox``.
"""

from enclava.protocol.engine.archive import (
    MAX_ENGINE_BYTES,
    canonical_archive,
    engine_hash,
    pack_outputs,
    unpack_engine,
    unpack_outputs,
)
from enclava.protocol.engine.errors import (
    EngineArchiveInvalid,
    EngineCpuExceeded,
    EngineError,
    EngineFailed,
    EngineManifestInvalid,
    EngineMemoryExceeded,
    EngineNetworkDenied,
    EngineRunError,
    EngineTimeout,
    ModelFolderInvalid,
    OutputArchiveInvalid,
    OutputMissing,
    OutputTooLarge,
    SandboxUnavailable,
)
from enclava.protocol.engine.manifest import (
    MANIFEST_NAME,
    EngineInfo,
    EngineManifest,
    InputSpec,
    Limits,
    OutputSpec,
    load_manifest,
    parse_manifest,
)
from enclava.protocol.engine.model_folder import (
    MAX_MODEL_BYTES,
    ModelFolder,
    model_archive_sha256,
    pack_model_folder,
    unpack_model_folder,
)
from enclava.protocol.engine.reasons import (
    REASONS,
    Reason,
    ReasonText,
    describe_reason,
    reason_name,
)
from enclava.protocol.engine.seed import order_seed

__all__ = [
    "MANIFEST_NAME",
    "MAX_MODEL_BYTES",
    "ModelFolder",
    "ModelFolderInvalid",
    "model_archive_sha256",
    "pack_model_folder",
    "unpack_model_folder",
    "MAX_ENGINE_BYTES",
    "REASONS",
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
    "ReasonText",
    "SandboxUnavailable",
    "canonical_archive",
    "describe_reason",
    "engine_hash",
    "load_manifest",
    "order_seed",
    "pack_outputs",
    "parse_manifest",
    "reason_name",
    "unpack_engine",
    "unpack_outputs",
]
