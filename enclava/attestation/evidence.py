"""The Evidence envelope: what an enclave sends the CA, in one canonical JSON form.

``Evidence`` carries the TEE's own bytes untouched (a TDX DCAP quote or an SEV-SNP report) plus what
is needed to check them (TDX: the dcap-qvl collateral JSON; SEV-SNP: the VCEK, ASK, ARK chain as
PEM). It travels over HTTP, so its JSON is canonical (sorted keys, compact separators, standard
base64) and parsing is strict: unknown keys, wrong types, non-canonical base64 or oversize input
are refused with ``EvidenceFormatError`` rather than guessed at.

A CVM with confidential GPUs adds ``gpus``: one ``GpuEvidence``
(:mod:`enclava.attestation.gpu.evidence`) per GPU, in the order the collector enumerated them.
Their digest (``gpu_evidence_digest``) is bound into the CPU report's report_data
(:func:`enclava.attestation.binding.bind_report_data`), so the CPU TEE vouches for exactly these
GPUs. The JSON key ``"gpus"`` is present only when there is at least one GPU: evidence without
GPUs keeps the bytes it always had, and an explicit empty list is refused (one evidence, one
encoding).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from enclava.attestation._b64 import b64encode, canonical_b64decode
from enclava.attestation.errors import EvidenceFormatError
from enclava.attestation.gpu.evidence import GpuEvidence
from enclava.protocol.canonical import canonical_json
from enclava.protocol.tee import KNOWN_TEES, TeeType

__all__ = [
    "Evidence",
    "Attester",
    "EVIDENCE_FORMAT_VERSION",
    "MAX_EVIDENCE_JSON_BYTES",
    "MAX_GPUS",
    "GpuCollector",
]

EVIDENCE_FORMAT_VERSION = 1
#: At most this many GPUs per enclave: an HGX board carries 8.
MAX_GPUS = 8
# A TDX quote with its PCK chain is ~5 KiB and its collateral ~16 KiB; one GPU's evidence (SPDM
# report, device chain, two signed RIMs, a handful of OCSP responses) is ~100-300 KiB of base64.
# 1 MiB for the CPU part plus 1 MiB per GPU (8 MiB in all) leaves ample room while keeping a hostile
# client from making the CA parse arbitrarily large documents.
MAX_EVIDENCE_JSON_BYTES = (1 << 20) * (1 + MAX_GPUS)
_FIELDS = frozenset({"version", "tee_type", "quote", "collateral"})
_OPTIONAL_FIELDS = frozenset({"gpus"})


@dataclass(frozen=True)
class Evidence:
    """One attestation: ``quote`` is the TDX quote or SNP report, ``collateral`` what verifies
    it."""

    tee_type: TeeType
    quote: bytes
    collateral: bytes
    gpus: tuple[GpuEvidence, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.tee_type, TeeType) or self.tee_type not in KNOWN_TEES:
            raise EvidenceFormatError(
                f"tee_type must be a TeeType, got {type(self.tee_type).__name__}"
            )
        if not isinstance(self.quote, bytes) or not isinstance(self.collateral, bytes):
            raise EvidenceFormatError("quote and collateral must be bytes")
        if not self.quote:
            raise EvidenceFormatError("evidence carries an empty quote")
        if not isinstance(self.gpus, tuple) or not all(
            isinstance(gpu, GpuEvidence) for gpu in self.gpus
        ):
            raise EvidenceFormatError("gpus must be a tuple of GpuEvidence")
        if len(self.gpus) > MAX_GPUS:
            raise EvidenceFormatError(f"evidence carries more than {MAX_GPUS} GPUs")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "collateral": b64encode(self.collateral),
            "quote": b64encode(self.quote),
            "tee_type": self.tee_type.wire_name,
            "version": EVIDENCE_FORMAT_VERSION,
        }
        if self.gpus:  # absent, never empty: evidence without GPUs keeps its old bytes
            data["gpus"] = [gpu.to_dict() for gpu in self.gpus]
        return data

    def to_json(self) -> str:
        """Canonical JSON: the same evidence always serializes to the same bytes."""
        return canonical_json(self.to_dict()).decode("ascii")

    @classmethod
    def from_dict(cls, data: Any) -> Evidence:
        if not isinstance(data, dict):
            raise EvidenceFormatError("evidence must be a JSON object")
        keys = set(data)
        if not (_FIELDS <= keys <= _FIELDS | _OPTIONAL_FIELDS):
            known = _FIELDS | _OPTIONAL_FIELDS
            missing, extra = sorted(_FIELDS - keys), sorted(str(k) for k in keys - known)
            raise EvidenceFormatError(
                f"evidence fields wrong: missing {missing}, unexpected {extra}"
            )
        version = data["version"]
        if type(version) is not int or version != EVIDENCE_FORMAT_VERSION:
            raise EvidenceFormatError(f"unsupported evidence version {version!r}")
        try:
            tee_type = TeeType.from_wire_name(data["tee_type"])
        except (ValueError, TypeError) as exc:
            raise EvidenceFormatError(f"unknown tee_type {data['tee_type']!r}") from exc
        return cls(
            tee_type=tee_type,
            quote=canonical_b64decode(data["quote"], "quote"),
            collateral=canonical_b64decode(data["collateral"], "collateral"),
            gpus=_gpus(data["gpus"]) if "gpus" in data else (),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Evidence:
        if not isinstance(text, (str, bytes)):
            raise EvidenceFormatError("evidence JSON must be str or bytes")
        if len(text) > MAX_EVIDENCE_JSON_BYTES:
            raise EvidenceFormatError(f"evidence JSON exceeds {MAX_EVIDENCE_JSON_BYTES} bytes")
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
            raise EvidenceFormatError(f"evidence is not valid JSON: {exc}") from exc
        return cls.from_dict(data)


def _gpus(value: Any) -> tuple[GpuEvidence, ...]:
    """The ``gpus`` list: 1 to MAX_GPUS entries, each parsed strictly by ``GpuEvidence``."""
    if not isinstance(value, list):
        raise EvidenceFormatError("gpus must be a JSON list")
    if not value:
        raise EvidenceFormatError("gpus must be omitted, not empty, when there is no GPU")
    if len(value) > MAX_GPUS:
        raise EvidenceFormatError(f"evidence carries more than {MAX_GPUS} GPUs")
    # GpuEvidence.from_dict raises only typed format errors (its own leaves keep their codes).
    return tuple(GpuEvidence.from_dict(entry) for entry in value)


class Attester(Protocol):
    """A producer inside a TEE: turns the 64-byte report_data binding into Evidence."""

    tee_type: TeeType

    def attest(self, report_data: bytes) -> Evidence: ...


class GpuCollector(Protocol):
    """A producer of the CVM's confidential GPUs' evidence: each GPU signs ``nonce`` (the CA's) in
    its SPDM report. An empty tuple means no GPU; the enclave binds the result's digest into its
    CPU report's report_data and sends both in one ``Evidence``."""

    def collect(self, nonce: bytes) -> tuple[GpuEvidence, ...]: ...
