"""Real NVIDIA H100 evidence (nvtrust's sample report, go-nvattest-tools' RIMs and OCSP responses).

Each component is verified at the instant its artifacts are valid (see the fixtures README): the
device chain and the SPDM signature at any instant, the RIMs and their OCSP at 2025-10-24T12:00Z,
the device chain's OCSP at 2025-08-21T12:00Z. The whole evidence passes every check at
2025-10-24T12:00Z but the last one, the device chain's OCSP (stale then). Every mutation is refused
with its own typed error.
"""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import pytest
from cryptography.x509 import ocsp as x509_ocsp

from enclava.attestation.gpu import errors
from enclava.attestation.gpu.certs import (
    leaf_chip,
    leaf_has_fwid,
    load_pem_chain,
    verify_device_chain,
    verify_spdm_signature,
)
from enclava.attestation.gpu.evidence import GpuEvidence, gpu_evidence_digest
from enclava.attestation.gpu.ocsp import check_chain_status, load_responses
from enclava.attestation.gpu.rim import verify_rim
from enclava.attestation.gpu.roots import NVIDIA_DEVICE_ROOT_DER, NVIDIA_RIM_ROOT_DER
from enclava.attestation.gpu.spdm import REQUEST_SIZE, OpaqueType, SpdmReport
from enclava.attestation.gpu.verifier import GpuVerifier, format_vbios_version

FIXTURES = Path(__file__).parents[2] / "fixtures" / "attestation" / "nvidia"
NONCE = bytes.fromhex("931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb")
AT_DEVICE_OCSP = 1_755_777_600  # 2025-08-21T12:00Z
AT_RIM = 1_761_307_200  # 2025-10-24T12:00Z
TODAY = 1_796_212_800  # 2026-12-02T12:00Z: both RIM signers have expired

DEVICE_OCSP = ("l2", "l3", "l4")
RIM_OCSP = ("rim_l2", "driver_rim_l3", "driver_rim_l4", "vbios_l4")


def _read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _ocsp(label: str) -> bytes:
    kind = "certificate_" if label in DEVICE_OCSP else ""
    return base64.b64decode(_read(f"test_gpu_{kind}{label}_base64encoded_ocsp_response.dat"))


REPORT = bytes.fromhex(_read("hopperAttestationReport.txt").decode().strip())
CHAIN_PEM = _read("hopperCertChain.txt")
DRIVER_RIM = _read("NV_GPU_DRIVER_GH100_550.90.07.xml")
VBIOS_RIM = _read("NV_GPU_VBIOS_1010_0200_882_96009F0001.xml")
ALL_OCSP = tuple(_ocsp(label) for label in DEVICE_OCSP + RIM_OCSP)
EVIDENCE = GpuEvidence(REPORT, CHAIN_PEM, DRIVER_RIM, VBIOS_RIM, ALL_OCSP)


def _verify(evidence: GpuEvidence = EVIDENCE, *, nonce: bytes = NONCE, now: int = AT_RIM, **kw):  # type: ignore[no-untyped-def]
    return GpuVerifier(**kw).verify(evidence, nonce=nonce, now=now)


# -- components, each at its own instant --------------------------------------------------------


def test_spdm_report_parses_and_reencodes_byte_for_byte():
    report = SpdmReport.parse(REPORT)
    assert report.encode() == REPORT
    assert report.request.nonce == NONCE and len(report.response.blocks) == 64
    assert report.response.opaque_value(OpaqueType.DRIVER_VERSION) == b"550.90.07\x00"
    assert format_vbios_version(report.response.opaque_value(OpaqueType.VBIOS_VERSION) or b"") == (
        "96.00.9f.00.01"
    )


@pytest.mark.parametrize("now", [AT_DEVICE_OCSP, AT_RIM, TODAY])
def test_device_chain_and_spdm_signature_verify(now):
    chain = load_pem_chain(CHAIN_PEM)
    leaf = verify_device_chain(chain, NVIDIA_DEVICE_ROOT_DER, now)
    report = SpdmReport.parse(REPORT)
    verify_spdm_signature(leaf, report.signed_bytes(), report.response.signature)
    assert leaf_chip(leaf) == "GH100"
    assert leaf_has_fwid(leaf, report.response.opaque_value(OpaqueType.FWID) or b"")


def test_both_rims_verify_at_their_instant_and_match_every_measurement():
    blocks = {block.index: block.value for block in SpdmReport.parse(REPORT).response.blocks}
    driver = verify_rim(DRIVER_RIM, NVIDIA_RIM_ROOT_DER, AT_RIM, what="driver")
    vbios = verify_rim(VBIOS_RIM, NVIDIA_RIM_ROOT_DER, AT_RIM, what="VBIOS")
    assert (driver.version, vbios.version) == ("550.90.07", "96.00.9F.00.01")
    active = [m for rim in (driver, vbios) for m in rim.measurements if m.active]
    assert len(active) == 33
    assert all(blocks[m.index + 1] in m.alternatives for m in active)  # RIM i = SPDM block i + 1
    # and the off-by-one is real: shifted the other way, almost nothing matches
    assert sum(blocks.get(m.index) in m.alternatives for m in active) < 5


def test_device_chain_ocsp_is_good_at_its_instant():
    chain = load_pem_chain(CHAIN_PEM)
    responses = load_responses(tuple(_ocsp(label) for label in DEVICE_OCSP))
    assert check_chain_status(chain, responses, AT_DEVICE_OCSP, skip_leaf=True, what="d") == 3


def test_rim_chain_ocsp_is_good_at_its_instant():
    responses = load_responses(tuple(_ocsp(label) for label in RIM_OCSP))
    for xml in (DRIVER_RIM, VBIOS_RIM):
        chain = verify_rim(xml, NVIDIA_RIM_ROOT_DER, AT_RIM, what="r").chain
        assert check_chain_status(chain, responses, AT_RIM, skip_leaf=False, what="r") == 3


def test_whole_evidence_passes_every_check_but_the_device_ocsp_window():
    with pytest.raises(errors.OcspStaleError, match="GSP BROM"):
        _verify()
    # one day earlier the RIMs' OCSP is the one out of its window
    with pytest.raises(errors.OcspStaleError, match="RIM"):
        _verify(now=AT_DEVICE_OCSP)


def test_round_trip_and_digest_are_stable():
    again = GpuEvidence.from_dict(EVIDENCE.to_dict())
    assert again == EVIDENCE and gpu_evidence_digest([again]) == gpu_evidence_digest([EVIDENCE])
    assert len(gpu_evidence_digest([EVIDENCE])) == 32
    assert gpu_evidence_digest([EVIDENCE, EVIDENCE]) != gpu_evidence_digest([EVIDENCE])


# -- the SPDM report: every signed region -------------------------------------------------------


def _flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]


_RESPONSE = REQUEST_SIZE
_OPAQUE_LENGTH = _RESPONSE + 8 + 64 * 55 + 32


@pytest.mark.parametrize(
    ("offset", "error"),
    [
        (2, errors.GpuReportSignatureError),  # request attributes
        (10, errors.GpuReportSignatureError),  # request nonce
        (36, errors.GpuReportSignatureError),  # request slot
        (_RESPONSE + 2, errors.GpuReportSignatureError),  # response header param1
        (_RESPONSE + 1, errors.SpdmFormatError),  # response code
        (_RESPONSE + 5, errors.SpdmFormatError),  # measurement record length
        (_RESPONSE + 8 + 55 * 7 + 10, errors.GpuReportSignatureError),  # measurement 8's digest
        (_OPAQUE_LENGTH - 5, errors.GpuReportSignatureError),  # the GPU's nonce
        (_OPAQUE_LENGTH + 10, errors.GpuReportSignatureError),  # opaque data
        (_OPAQUE_LENGTH, errors.SpdmFormatError),  # opaque length
        (len(REPORT) - 1, errors.GpuReportSignatureError),  # signature s
        (len(REPORT) - 60, errors.GpuReportSignatureError),  # signature r
    ],
)
def test_each_flipped_report_byte_is_refused(offset, error):
    with pytest.raises(error):
        _verify(dataclasses.replace(EVIDENCE, report=_flip(REPORT, offset)))


def test_truncated_and_extended_reports_are_malformed():
    for report in (REPORT[:-1], REPORT + b"\x00", REPORT[:36]):
        with pytest.raises(errors.SpdmFormatError):
            _verify(dataclasses.replace(EVIDENCE, report=report))


def test_wrong_nonce_is_refused():
    with pytest.raises(errors.GpuNonceMismatchError):
        _verify(nonce=bytes(32))


# -- roots, chains, RIMs ------------------------------------------------------------------------


def test_wrong_device_root_is_refused():
    with pytest.raises(errors.GpuDeviceRootError):
        _verify(device_root_der=NVIDIA_RIM_ROOT_DER)


def test_wrong_rim_root_is_refused():
    with pytest.raises(errors.RimRootError):
        _verify(rim_root_der=NVIDIA_DEVICE_ROOT_DER)


def test_device_chain_missing_a_link_is_refused():
    certs = CHAIN_PEM.split(b"-----END CERTIFICATE-----\n")
    without_brom = b"-----END CERTIFICATE-----\n".join(certs[:1] + certs[2:])
    with pytest.raises(errors.GpuCertificateChainError):
        _verify(dataclasses.replace(EVIDENCE, certificates=without_brom))


def test_garbage_chain_is_malformed():
    with pytest.raises(errors.GpuCertificateFormatError):
        _verify(dataclasses.replace(EVIDENCE, certificates=b"not pem"))


def test_tampered_rim_is_refused():
    golden = 'ns2:Hash0="' + SpdmReport.parse(REPORT).response.blocks[7].value.hex()
    assert golden.encode() in DRIVER_RIM  # driver RIM index 7 = block 8
    tampered = DRIVER_RIM.replace(golden.encode(), golden.encode()[:-1] + b"0", 1)
    assert tampered != DRIVER_RIM
    with pytest.raises(errors.RimSignatureError):
        _verify(dataclasses.replace(EVIDENCE, driver_rim=tampered))


def test_tampered_rim_version_is_refused():
    tampered = VBIOS_RIM.replace(
        b'colloquialVersion="96.00.9F.00.01"', b'colloquialVersion="96.00.9F.00.02"'
    )
    with pytest.raises(errors.RimSignatureError):
        _verify(dataclasses.replace(EVIDENCE, vbios_rim=tampered))


def test_expired_rim_is_refused():
    with pytest.raises(errors.RimExpiredError, match="driver RIM signer"):
        _verify(now=TODAY)


def test_rim_for_another_version_is_refused():
    with pytest.raises(errors.RimVersionMismatchError):
        _verify(dataclasses.replace(EVIDENCE, vbios_rim=DRIVER_RIM))
    with pytest.raises(errors.RimVersionMismatchError):
        _verify(dataclasses.replace(EVIDENCE, driver_rim=VBIOS_RIM, vbios_rim=DRIVER_RIM))


def test_malformed_rim_is_refused():
    for xml in (b"<x/>", b"not xml", DRIVER_RIM[:1000]):
        with pytest.raises(errors.RimFormatError):
            _verify(dataclasses.replace(EVIDENCE, driver_rim=xml))


# -- OCSP ---------------------------------------------------------------------------------------


def test_missing_ocsp_response_is_refused():
    chain = load_pem_chain(CHAIN_PEM)
    responses = load_responses((_ocsp("l2"), _ocsp("l4")))
    with pytest.raises(errors.OcspMissingError, match="Provisioner"):
        check_chain_status(chain, responses, AT_DEVICE_OCSP, skip_leaf=True, what="d")
    with pytest.raises(errors.OcspMissingError):
        _verify(dataclasses.replace(EVIDENCE, ocsp=ALL_OCSP[1:]), now=AT_DEVICE_OCSP)


def test_stale_ocsp_response_is_refused():
    chain = load_pem_chain(CHAIN_PEM)
    responses = load_responses(tuple(_ocsp(label) for label in DEVICE_OCSP))
    for now in (AT_DEVICE_OCSP - 6 * 3600, AT_DEVICE_OCSP + 19 * 3600):
        with pytest.raises(errors.OcspStaleError):
            check_chain_status(chain, responses, now, skip_leaf=True, what="d")


def test_ocsp_response_with_a_bad_signature_is_refused():
    raw = _ocsp("l3")
    signature = x509_ocsp.load_der_ocsp_response(raw).signature
    at = raw.index(signature) + len(signature) - 1
    forged = raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1 :]
    responses = load_responses((_ocsp("l2"), forged, _ocsp("l4")))
    with pytest.raises(errors.OcspSignatureError):
        check_chain_status(
            load_pem_chain(CHAIN_PEM), responses, AT_DEVICE_OCSP, skip_leaf=True, what="d"
        )


def test_malformed_ocsp_response_is_refused():
    with pytest.raises(errors.OcspFormatError):
        _verify(dataclasses.replace(EVIDENCE, ocsp=(b"\x30\x03\x0a\x01\x00", *ALL_OCSP)))
    with pytest.raises(errors.OcspFormatError):
        _verify(dataclasses.replace(EVIDENCE, ocsp=(b"garbage", *ALL_OCSP)))
