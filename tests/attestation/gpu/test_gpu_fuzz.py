"""Hypothesis: the SPDM parser, GpuEvidence.from_dict and GpuVerifier raise only EnclavaErrors."""

from __future__ import annotations

import base64
import dataclasses
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enclava.attestation.gpu.evidence import GpuEvidence
from enclava.attestation.gpu.simulated import SimulatedGpuAttester, simulated_gpu_verifier
from enclava.attestation.gpu.spdm import SpdmReport
from enclava.attestation.gpu.verifier import GpuVerifier
from enclava.errors import EnclavaError

FUZZ = settings(
    max_examples=int(os.environ.get("ENCLAVA_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NOW = 1_780_000_000
NONCE = bytes(range(32))
EVIDENCE = SimulatedGpuAttester(clock=lambda: float(NOW)).collect(NONCE)[0]
REPORT = EVIDENCE.report


def _mutate(data: st.DataObject, raw: bytes) -> bytes:
    buffer = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        at = data.draw(st.integers(0, max(len(buffer) - 1, 0)))
        if kind == "flip" and buffer:
            buffer[at] ^= data.draw(st.integers(1, 255))
        elif kind == "cut":
            del buffer[at : at + data.draw(st.integers(1, 64))]
        else:
            buffer[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    return bytes(buffer)


def _only_typed(call, *args, **kwargs):  # type: ignore[no-untyped-def]
    try:
        return call(*args, **kwargs)
    except EnclavaError:
        return None


@FUZZ
@given(st.binary(max_size=512))
def test_spdm_parser_on_random_bytes(raw):
    _only_typed(SpdmReport.parse, raw)


@FUZZ
@given(st.data())
def test_spdm_parser_on_mutated_reports(data):
    raw = _mutate(data, REPORT)
    report = _only_typed(SpdmReport.parse, raw)
    if report is not None:
        assert report.encode() == raw  # whatever parses re-encodes byte for byte


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=12,
)


@FUZZ
@given(_JSON)
def test_from_dict_on_random_json(value):
    _only_typed(GpuEvidence.from_dict, value)


@FUZZ
@given(st.data())
def test_from_dict_on_mutated_evidence(data):
    document = EVIDENCE.to_dict()
    key = data.draw(st.sampled_from(sorted(document)))
    document[key] = data.draw(_JSON | st.text(alphabet="ABCD=+/\n", max_size=16))
    _only_typed(GpuEvidence.from_dict, document)


@FUZZ
@given(st.data())
def test_verifier_on_mutated_evidence(data):
    field = data.draw(
        st.sampled_from(["report", "certificates", "driver_rim", "vbios_rim", "ocsp"])
    )
    if field == "ocsp":
        index = data.draw(st.integers(0, len(EVIDENCE.ocsp) - 1))
        ocsp = list(EVIDENCE.ocsp)
        ocsp[index] = _mutate(data, ocsp[index]) or b"\x00"
        evidence = dataclasses.replace(EVIDENCE, ocsp=tuple(ocsp))
    else:
        raw = _mutate(data, getattr(EVIDENCE, field)) or b"\x00"
        evidence = _only_typed(dataclasses.replace, EVIDENCE, **{field: raw})
    if evidence is None:
        return
    verifier = data.draw(st.sampled_from([simulated_gpu_verifier(), GpuVerifier()]))
    _only_typed(verifier.verify, evidence, nonce=NONCE, now=NOW + 5)


@FUZZ
@given(st.binary(max_size=64), st.integers(-5, 2**40))
def test_verifier_arguments(nonce, now):
    _only_typed(simulated_gpu_verifier().verify, EVIDENCE, nonce=nonce, now=now)
    _only_typed(GpuVerifier().verify, "evidence", nonce=NONCE, now=NOW)  # type: ignore[arg-type]
    assert base64.b64decode(EVIDENCE.to_dict()["report"]) == REPORT


_RIM_EDITS = st.sampled_from(
    [
        b'active="True"',
        b'active="False"',
        b'alternatives="',
        b'index="',
        b'size="48"',
        b"Hash0=",
        b"<ds:SignatureValue>",
        b"<ds:DigestValue>",
        b"<ds:X509Certificate>",
        b"colloquialVersion=",
        b'Algorithm="',
        b'URI=""',
        b"<ns0:Payload",
        b"<ns0:Meta",
    ]
)


@FUZZ
@given(st.data())
def test_verifier_on_xml_level_rim_edits(data):
    field = data.draw(st.sampled_from(["driver_rim", "vbios_rim"]))
    xml = getattr(EVIDENCE, field)
    for _ in range(data.draw(st.integers(1, 3))):
        anchor = data.draw(_RIM_EDITS)
        at = xml.find(anchor)
        if at < 0:
            continue
        at += len(anchor) + data.draw(st.integers(0, 8))
        junk = data.draw(
            st.binary(min_size=0, max_size=6) | st.sampled_from([b'"', b"<", b"&amp;", b"x"])
        )
        xml = xml[:at] + junk + xml[at + data.draw(st.integers(0, 6)) :]
    evidence = _only_typed(dataclasses.replace, EVIDENCE, **{field: xml or b"x"})
    if evidence is not None:
        _only_typed(simulated_gpu_verifier().verify, evidence, nonce=NONCE, now=NOW + 5)
