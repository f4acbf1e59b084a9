"""The Evidence envelope: what an enclave sends the CA, in one canonical JSON form.

``Evidence`` carries the TEE's own bytes untouched (a TDX DCAP quote or an SEV-SNP report) plus what
is needed to check them (TDX: the dcap-qvl collateral JSON; SEV-SNP: the VCEK, ASK, ARK chain as
PEM). It travels over HTTP, so its JSON is canonical (sorted keys, compact separators, standard
base64) and parsing is strict: unknown keys, wrong types, non-canonical base64 or oversize input
are refused with ``EvidenceFormatError`` rather than guessed at.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Protocol

from enclava.attestation.errors import EvidenceFormatError
from enclava.protocol.tee import KNOWN_TEES, TeeType

__all__ = ["Evidence", "Attester", "EVIDENCE_FORMAT_VERSION", "MAX_EVIDENCE_JSON_BYTES"]

EVIDENCE_FORMAT_VERSION = 1
# A TDX quote with its PCK chain is ~5 KiB and its collateral ~16 KiB; 1 MiB leaves ample room
# while keeping a hostile client from making the CA parse arbitrarily large documents.
MAX_EVIDENCE_JSON_BYTES = 1 << 20
_FIELDS = frozenset({"version", "tee_type", "quote", "collateral"})


@dataclass(frozen=True)
class Evidence:
    """One attestation: ``quote`` is the TDX quote or SNP report, ``collateral`` what verifies
    it."""

    tee_type: TeeType
    quote: bytes
    collateral: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.tee_type, TeeType) or self.tee_type not in KNOWN_TEES:
            raise EvidenceFormatError(
                f"tee_type must be a TeeType, got {type(self.tee_type).__name__}"
            )
        if not isinstance(self.quote, bytes) or not isinstance(self.collateral, bytes):
            raise EvidenceFormatError("quote and collateral must be bytes")
        if not self.quote:
            raise EvidenceFormatError("evidence carries an empty quote")

    def to_dict(self) -> dict[str, Any]:
        return {
            "collateral": base64.b64encode(self.collateral).decode("ascii"),
            "quote": base64.b64encode(self.quote).decode("ascii"),
            "tee_type": self.tee_type.wire_name,
            "version": EVIDENCE_FORMAT_VERSION,
        }

    def to_json(self) -> str:
        """Canonical JSON: the same evidence always serializes to the same bytes."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True)

    @classmethod
    def from_dict(cls, data: Any) -> Evidence:
        if not isinstance(data, dict):
            raise EvidenceFormatError("evidence must be a JSON object")
        keys = set(data)
        if keys != _FIELDS:
            missing, extra = sorted(_FIELDS - keys), sorted(str(k) for k in keys - _FIELDS)
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
            quote=_b64decode(data["quote"], "quote"),
            collateral=_b64decode(data["collateral"], "collateral"),
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


def _b64decode(value: Any, field: str) -> bytes:
    if not isinstance(value, str):
        raise EvidenceFormatError(f"{field} must be a base64 string")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise EvidenceFormatError(f"{field} is not valid base64") from exc
    # Canonical form only: one byte string has exactly one accepted encoding.
    if base64.b64encode(raw).decode("ascii") != value:
        raise EvidenceFormatError(f"{field} is not canonical base64")
    return raw


class Attester(Protocol):
    """A producer inside a TEE: turns the 64-byte report_data binding into Evidence."""

    tee_type: TeeType

    def attest(self, report_data: bytes) -> Evidence: ...
