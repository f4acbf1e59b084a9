"""Canonical base64 for the evidence envelopes (``Evidence`` and its ``GpuEvidence`` entries).

Standard alphabet with padding, and only the one encoding ``base64.b64encode`` gives: a byte
string has exactly one accepted text, so the canonical JSON that report_data binds cannot be
re-spelled by the host.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from enclava.attestation.errors import EvidenceFormatError

__all__ = ["b64encode", "canonical_b64decode"]


def b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def canonical_b64decode(
    value: Any,
    label: str,
    *,
    error: type[EvidenceFormatError] = EvidenceFormatError,
    cap: int | None = None,
) -> bytes:
    """``value`` decoded, or ``error`` naming ``label``: not a string, longer than ``cap`` bytes
    would need (checked before decoding), not base64, or not in its canonical form."""
    if not isinstance(value, str):
        raise error(f"{label} must be a base64 string")
    if cap is not None and len(value) > 4 * ((cap + 2) // 3):
        raise error(f"{label} exceeds {cap} bytes")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise error(f"{label} is not valid base64") from exc
    if b64encode(raw) != value:
        raise error(f"{label} is not canonical base64")
    return raw
