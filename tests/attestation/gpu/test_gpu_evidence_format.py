"""GpuEvidence's wire form: canonical, strict, capped; the digest is a function of the evidence."""

from __future__ import annotations

import base64

import pytest

from enclava.attestation.gpu.errors import GpuEvidenceFormatError
from enclava.attestation.gpu.evidence import (
    GPU_EVIDENCE_DIGEST_DOMAIN,
    MAX_OCSP_RESPONSES,
    MAX_REPORT_BYTES,
    GpuEvidence,
    gpu_evidence_digest,
)

EVIDENCE = GpuEvidence(b"\x11\xe0report", b"-----BEGIN", b"<driver/>", b"<vbios/>", (b"\x30\x00",))


def test_to_dict_is_canonical_base64_and_round_trips():
    document = EVIDENCE.to_dict()
    assert sorted(document) == ["certificates", "driver_rim", "ocsp", "report", "vbios_rim"]
    assert document["report"] == base64.b64encode(b"\x11\xe0report").decode()
    assert GpuEvidence.from_dict(document) == EVIDENCE


def test_digest_is_domain_tagged_ordered_and_32_bytes():
    other = GpuEvidence(b"r2", b"c", b"d", b"v", ())
    digest = gpu_evidence_digest([EVIDENCE, other])
    assert len(digest) == 32 and digest != gpu_evidence_digest([other, EVIDENCE])
    assert gpu_evidence_digest([]) != gpu_evidence_digest([EVIDENCE])
    assert GPU_EVIDENCE_DIGEST_DOMAIN.endswith(b"\x00")
    with pytest.raises(GpuEvidenceFormatError):
        gpu_evidence_digest(b"not a list")  # type: ignore[arg-type]


def _with(**changes: object) -> dict[str, object]:
    document: dict[str, object] = dict(EVIDENCE.to_dict())
    document.update(changes)
    return document


@pytest.mark.parametrize(
    "document",
    [
        None,
        [],
        {k: v for k, v in EVIDENCE.to_dict().items() if k != "ocsp"},
        _with(extra="x"),
        _with(report="EeA"),  # unpadded
        _with(report="EeB="),  # non-canonical trailing bits
        _with(report="Ee A="),
        _with(report=""),  # empty field
        _with(report=1),
        _with(report=base64.b64encode(b"x" * (MAX_REPORT_BYTES + 1)).decode()),
        _with(ocsp="AA=="),
        _with(ocsp=["AA=="] * (MAX_OCSP_RESPONSES + 1)),
        _with(ocsp=[""]),
        _with(ocsp=[None]),
        _with(driver_rim="é"),
    ],
)
def test_from_dict_refuses_anything_but_the_canonical_form(document):
    with pytest.raises(GpuEvidenceFormatError):
        GpuEvidence.from_dict(document)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"report": "text"},
        {"report": b""},
        {"ocsp": [b"x"]},
        {"ocsp": (b"",)},
        {"ocsp": ("x",)},
        {"ocsp": (b"x",) * (MAX_OCSP_RESPONSES + 1)},
    ],
)
def test_constructor_refuses_wrong_types_and_sizes(kwargs):
    fields = {
        "report": b"r",
        "certificates": b"c",
        "driver_rim": b"d",
        "vbios_rim": b"v",
        "ocsp": (),
        **kwargs,
    }
    with pytest.raises(GpuEvidenceFormatError):
        GpuEvidence(**fields)  # type: ignore[arg-type]
