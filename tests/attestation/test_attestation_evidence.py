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


# -- GPUs: the "gpus" key, present only when there is one ------------------------------------------


def _gpu(tag: bytes = b"0"):
    from enclava.attestation.gpu.evidence import GpuEvidence

    return GpuEvidence(
        report=b"\x11\xe0spdm report " + tag,
        certificates=b"-----BEGIN CERTIFICATE-----\nleaf " + tag + b"\n",
        driver_rim=b"<SoftwareIdentity driver " + tag + b"/>",
        vbios_rim=b"<SoftwareIdentity vbios " + tag + b"/>",
        ocsp=(b"\x30\x03ocsp " + tag,),
    )


def test_evidence_without_gpus_keeps_its_bytes():
    assert "gpus" not in json.loads(EVIDENCE.to_json())
    assert EVIDENCE.gpus == ()


def test_gpus_round_trip_in_order_and_canonically():
    gpus = (_gpu(b"a"), _gpu(b"b"))
    evidence = Evidence(TeeType.SIMULATED, b"q", b"c", gpus=gpus)
    text = evidence.to_json()
    assert json.loads(text)["gpus"] == [gpu.to_dict() for gpu in gpus]
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    again = Evidence.from_json(text)
    assert again == evidence and again.gpus == gpus


def _with_gpus(value) -> str:
    document = json.loads(EVIDENCE.to_json())
    document["gpus"] = value
    return json.dumps(document)


@pytest.mark.parametrize(
    "text",
    [
        _with_gpus([]),  # absent, never empty: one evidence, one encoding
        _with_gpus({}),
        _with_gpus(None),
        _with_gpus("gpu"),
        _with_gpus([None]),
        _with_gpus([{}]),
        _with_gpus([{"report": "AA=="}]),
    ],
)
def test_malformed_gpus_are_refused(text):
    with pytest.raises(EvidenceFormatError):
        Evidence.from_json(text)


def test_more_gpus_than_the_cap_are_refused():
    from enclava.attestation import MAX_GPUS

    one = _gpu().to_dict()
    with pytest.raises(EvidenceFormatError, match="GPUs"):
        Evidence.from_json(_with_gpus([one] * (MAX_GPUS + 1)))
    with pytest.raises(EvidenceFormatError):
        Evidence(TeeType.TDX, b"q", b"", gpus=tuple([_gpu()] * (MAX_GPUS + 1)))
    assert len(Evidence.from_json(_with_gpus([one] * MAX_GPUS)).gpus) == MAX_GPUS


@pytest.mark.parametrize("gpus", [[], "gpu", (b"raw",), ({"report": ""},)])
def test_constructor_refuses_gpus_that_are_not_gpu_evidence(gpus):
    with pytest.raises(EvidenceFormatError):
        Evidence(TeeType.TDX, b"q", b"", gpus=gpus)


def test_a_mutated_gpu_entry_changes_the_document_and_fails_or_differs():
    gpus = (_gpu(b"a"),)
    document = json.loads(Evidence(TeeType.SIMULATED, b"q", b"c", gpus=gpus).to_json())
    document["gpus"][0]["extra"] = "x"
    with pytest.raises(EvidenceFormatError):
        Evidence.from_json(json.dumps(document))


def test_the_size_cap_admits_the_largest_evidence_the_gpu_caps_allow():
    """MAX_EVIDENCE_JSON_BYTES: 1 MiB for the CPU part plus 1 MiB per GPU, enough for MAX_GPUS
    GPUs whose every field is at GpuEvidence's own caps."""
    from enclava.attestation import MAX_GPUS
    from enclava.attestation.gpu import evidence as gpu

    largest = gpu.GpuEvidence(
        report=b"r" * gpu.MAX_REPORT_BYTES,
        certificates=b"c" * gpu.MAX_CERTIFICATES_BYTES,
        driver_rim=b"d" * gpu.MAX_RIM_BYTES,
        vbios_rim=b"v" * gpu.MAX_RIM_BYTES,
        ocsp=(b"o" * gpu.MAX_OCSP_BYTES,) * gpu.MAX_OCSP_RESPONSES,
    )
    evidence = Evidence(TeeType.TDX, b"q" * 8192, b"c" * 65536, gpus=(largest,) * MAX_GPUS)
    text = evidence.to_json()
    assert len(text) <= MAX_EVIDENCE_JSON_BYTES
    assert Evidence.from_json(text) == evidence
