"""The Evidence envelope: canonical JSON out, strict JSON in."""

from __future__ import annotations

import base64
import json

import pytest

from enclava.attestation import Evidence, EvidenceFormatError
from enclava.attestation.evidence import MAX_EVIDENCE_JSON_BYTES
from enclava.protocol.tee import KNOWN_TEES, TeeType

EVIDENCE = Evidence(TeeType.TDX, b"\x04\x00quote\xff", b'{"tcb_info":"..."}')


def test_round_trip_preserves_every_field():
    assert Evidence.from_json(EVIDENCE.to_json()) == EVIDENCE
    assert Evidence.from_json(EVIDENCE.to_json().encode()) == EVIDENCE


def test_json_is_canonical_sorted_compact_base64():
    text = EVIDENCE.to_json()
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    assert json.loads(text) == {
        "collateral": base64.b64encode(EVIDENCE.collateral).decode(),
        "quote": base64.b64encode(EVIDENCE.quote).decode(),
        "tee_type": "tdx",
        "version": 1,
    }


@pytest.mark.parametrize("tee_type", KNOWN_TEES)
def test_every_tee_type_travels(tee_type):
    evidence = Evidence(tee_type, b"q", b"")
    assert Evidence.from_json(evidence.to_json()).tee_type is tee_type


def _with(**changes) -> str:
    document = json.loads(EVIDENCE.to_json())
    document.update(changes)
    return json.dumps({k: v for k, v in document.items() if v is not ...})


@pytest.mark.parametrize(
    "text",
    [
        _with(extra="x"),
        _with(collateral=...),
        _with(version=2),
        _with(version=True),
        _with(version="1"),
        _with(tee_type="sgx"),
        _with(tee_type=None),
        _with(quote="not base64!"),
        _with(quote="cXVvdGU"),  # missing padding: not canonical
        _with(quote="cXVvdGV="),  # non-zero pad bits: decodes, but not canonical
        _with(quote=""),  # an empty quote
        _with(quote=123),
        _with(collateral=["list"]),
        "[]",
        "null",
        "{",
        b"\xff\xfe",
        "[" * 100000,
    ],
)
def test_malformed_json_is_refused(text):
    with pytest.raises(EvidenceFormatError):
        Evidence.from_json(text)


def test_oversize_json_is_refused_before_parsing():
    with pytest.raises(EvidenceFormatError, match="exceeds"):
        Evidence.from_json(" " * (MAX_EVIDENCE_JSON_BYTES + 1))


@pytest.mark.parametrize(
    ("tee_type", "quote", "collateral"),
    [
        ("tdx", b"q", b""),
        (TeeType.TDX, "q", b""),
        (TeeType.TDX, b"", b""),
        (TeeType.TDX, b"q", None),
    ],
)
def test_constructor_refuses_wrong_types(tee_type, quote, collateral):
    with pytest.raises(EvidenceFormatError):
        Evidence(tee_type, quote, collateral)
