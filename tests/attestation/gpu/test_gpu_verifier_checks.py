"""GpuVerifier's checks that need a signer: the development PKI re-signs mutated evidence.

Real NVIDIA evidence cannot be re-signed, so the refusals that must get past the GPU's signature
(measurement mismatch, FWID, CC mode, feature flag) and the OCSP "revoked" answer are shown on the
simulated GPU, whose evidence takes the very same verifier code path with the development roots.
"""

from __future__ import annotations

import dataclasses
import struct

import pytest

from enclava.attestation.gpu import errors
from enclava.attestation.gpu.devpki import development_gpu_pki, spdm_sign
from enclava.attestation.gpu.evidence import GpuEvidence
from enclava.attestation.gpu.simulated import SimulatedGpuAttester, simulated_gpu_verifier
from enclava.attestation.gpu.spdm import (
    MeasurementBlock,
    MeasurementResponse,
    OpaqueField,
    OpaqueType,
    SpdmReport,
)
from enclava.attestation.gpu.verifier import GpuVerifier

NOW = 1_780_000_000
NONCE = bytes(range(32))


def _collect(**kwargs: object) -> GpuEvidence:
    attester = SimulatedGpuAttester(clock=lambda: float(NOW), **kwargs)  # type: ignore[arg-type]
    return attester.collect(NONCE)[0]


EVIDENCE = _collect()


def _verify(evidence: GpuEvidence = EVIDENCE, *, nonce: bytes = NONCE, now: int = NOW + 5):  # type: ignore[no-untyped-def]
    return simulated_gpu_verifier().verify(evidence, nonce=nonce, now=now)


def _resign(evidence: GpuEvidence, response: MeasurementResponse) -> GpuEvidence:
    """``response`` signed by the simulated GPU 0's attestation key, as a genuine GPU would."""
    report = SpdmReport.parse(evidence.report)
    device = development_gpu_pki().device("GH100", 0, NOW // 86_400)
    unsigned = SpdmReport(report.request, dataclasses.replace(response, signature=b""))
    signature = spdm_sign(device.attestation_key, unsigned.signed_bytes())
    signed = SpdmReport(unsigned.request, unsigned.response.with_signature(signature))
    return dataclasses.replace(evidence, report=signed.encode())


def _response(evidence: GpuEvidence = EVIDENCE) -> MeasurementResponse:
    return SpdmReport.parse(evidence.report).response


def _with_opaque(response: MeasurementResponse, field: int, value: bytes | None):  # type: ignore[no-untyped-def]
    kept = tuple(item for item in response.opaque if item.type != field)
    extra = () if value is None else (OpaqueField(field, value),)
    return dataclasses.replace(response, opaque=kept + extra)


def test_claims_in_their_documented_form():
    claims = _verify()
    assert (claims.gpu_class, claims.architecture) == ("H100", "HOPPER")
    assert claims.nonce == NONCE and claims.cc_mode and not claims.debug and claims.simulated
    assert (claims.driver_version, claims.vbios_version) == ("550.90.07", "96.00.9f.00.01")
    assert claims.details["chip"] == "GH100" and claims.details["measurements"] == "64"
    assert claims.details["ocsp_checked"] == "9"  # 3 device + 3 driver RIM + 3 VBIOS RIM
    assert _verify(_collect(gpu_class="H200")).gpu_class == "H200"


def test_resigning_unchanged_evidence_still_verifies():
    assert _verify(_resign(EVIDENCE, _response())) == _verify()


def test_forged_simulated_ocsp_signature_is_refused():
    from cryptography.x509 import ocsp as x509_ocsp

    raw = EVIDENCE.ocsp[1]
    signature = x509_ocsp.load_der_ocsp_response(raw).signature
    at = raw.index(signature) + 7
    forged = raw[:at] + bytes([raw[at] ^ 0x40]) + raw[at + 1 :]
    ocsp = (EVIDENCE.ocsp[0], forged, *EVIDENCE.ocsp[2:])
    with pytest.raises(errors.OcspSignatureError):
        _verify(dataclasses.replace(EVIDENCE, ocsp=ocsp))


def test_simulated_evidence_is_refused_with_nvidia_roots():
    with pytest.raises(errors.GpuDeviceRootError):
        GpuVerifier().verify(EVIDENCE, nonce=NONCE, now=NOW)


def test_signed_measurement_mismatch_is_refused():
    response = _response()
    blocks = tuple(
        MeasurementBlock(b.index, bytes(48) if b.index == 8 else b.value) for b in response.blocks
    )
    with pytest.raises(errors.GpuMeasurementMismatchError, match="measurement 7"):
        _verify(_resign(EVIDENCE, dataclasses.replace(response, blocks=blocks)))


def test_missing_measurement_block_is_refused():
    response = _response()
    blocks = tuple(b for b in response.blocks if b.index != 8)
    with pytest.raises(errors.GpuMeasurementMismatchError):
        _verify(_resign(EVIDENCE, dataclasses.replace(response, blocks=blocks)))


def test_debug_gpu_is_refused_by_its_measurements():
    # Hopper signs no devtools flag: a devtools GPU measures differently from the production RIM
    with pytest.raises(errors.GpuMeasurementMismatchError):
        _verify(_collect(debug=True))


def test_cc_mode_off_is_refused():
    with pytest.raises(errors.GpuCcModeOffError):
        _verify(_collect(cc_mode=False))


@pytest.mark.parametrize("value", [None, b"\xaa", b"\x00", b"\x55\x55"])
def test_protected_pcie_status_must_say_cc_mode(value):
    response = _with_opaque(_response(), OpaqueType.PROTECTED_PCIE_STATUS, value)
    with pytest.raises(errors.GpuCcModeOffError):
        _verify(_resign(EVIDENCE, response))


@pytest.mark.parametrize(("flag", "ok"), [(0, True), (1, True), (2, False), (7, False)])
def test_feature_flag_ppcie_is_cc_mode_off(flag, ok):
    response = _with_opaque(_response(), OpaqueType.OPAQUE_DATA_VERSION, struct.pack("<I", 1))
    response = _with_opaque(response, OpaqueType.FEATURE_FLAG, struct.pack("<I", flag))
    evidence = _resign(EVIDENCE, response)
    if ok:
        assert _verify(evidence).cc_mode
    else:
        with pytest.raises(errors.GpuCcModeOffError):
            _verify(evidence)


def test_fwid_not_certified_is_refused():
    for value in (bytes(48), None):
        response = _with_opaque(_response(), OpaqueType.FWID, value)
        with pytest.raises(errors.GpuFwidMismatchError):
            _verify(_resign(EVIDENCE, response))


def test_missing_driver_version_is_malformed():
    response = _with_opaque(_response(), OpaqueType.DRIVER_VERSION, None)
    with pytest.raises(errors.SpdmFormatError):
        _verify(_resign(EVIDENCE, response))


def test_other_driver_version_than_the_rim_is_refused():
    response = _with_opaque(_response(), OpaqueType.DRIVER_VERSION, b"550.90.08\x00")
    with pytest.raises(errors.RimVersionMismatchError):
        _verify(_resign(EVIDENCE, response))


def test_wrong_nonce_is_refused():
    with pytest.raises(errors.GpuNonceMismatchError):
        _verify(nonce=b"\xff" * 32)


def test_another_gpus_report_under_this_chain_is_refused():
    other = SimulatedGpuAttester(clock=lambda: float(NOW), count=2).collect(NONCE)[1]
    with pytest.raises(errors.GpuReportSignatureError):
        _verify(dataclasses.replace(EVIDENCE, report=other.report))


def _revoked(evidence: GpuEvidence, position: int) -> GpuEvidence:
    pki = development_gpu_pki()
    device = pki.device("GH100", 0, NOW // 86_400)
    cert, issuer = device.chain[position], device.chain[position + 1]
    revoked = pki.ocsp_response(cert, issuer, produced_at=NOW, revoked=True)
    return dataclasses.replace(
        evidence, ocsp=(revoked, *evidence.ocsp[: position - 1], *evidence.ocsp[position:])
    )


@pytest.mark.parametrize("position", [1, 2, 3])
def test_revoked_device_certificate_is_refused(position):
    with pytest.raises(errors.GpuRevokedError):
        _verify(_revoked(EVIDENCE, position))


def test_revoked_rim_signer_is_refused():
    pki = development_gpu_pki()
    _, chain = pki.rim_signer("GH100", "vbios", NOW // 86_400)
    revoked = pki.ocsp_response(chain[0], chain[1], produced_at=NOW, revoked=True)
    ocsp = tuple(r for i, r in enumerate(EVIDENCE.ocsp) if i != 4)  # 4: the VBIOS signer's
    with pytest.raises(errors.GpuRevokedError, match="VBIOS RIM"):
        _verify(dataclasses.replace(EVIDENCE, ocsp=(revoked, *ocsp)))


def test_rim_ocsp_missing_and_stale_are_refused():
    with pytest.raises(errors.OcspMissingError, match="RIM"):
        _verify(dataclasses.replace(EVIDENCE, ocsp=EVIDENCE.ocsp[:3]))
    with pytest.raises(errors.OcspStaleError):
        _verify(now=NOW + 2 * 86_400)


def test_dropping_the_provisioner_ocsp_response_is_refused():
    pki = development_gpu_pki()
    device = pki.device("GH100", 0, NOW // 86_400)
    wrong = pki.ocsp_response(device.chain[2], device.chain[3], produced_at=NOW)
    assert wrong in EVIDENCE.ocsp
    with pytest.raises(errors.OcspMissingError):
        _verify(dataclasses.replace(EVIDENCE, ocsp=tuple(r for r in EVIDENCE.ocsp if r != wrong)))
