"""The simulated NVIDIA GPU: its evidence is real-format and goes through the real GpuVerifier.

Accepted only with the development roots; refused with NVIDIA's roots, and refused with each check's
own error when the GPU is in debug mode, CC mode is off, the nonce differs or the collateral is past
its window. Deterministic: the same nonce and clock give the same bytes.
"""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from enclava.attestation.errors import AttesterError, UntrustedRootError
from enclava.attestation.gpu import errors as gpu_errors
from enclava.attestation.gpu.claims import GpuClaims
from enclava.attestation.gpu.devpki import development_gpu_pki
from enclava.attestation.gpu.evidence import GpuEvidence, gpu_evidence_digest
from enclava.attestation.gpu.roots import NVIDIA_DEVICE_ROOT_DER, NVIDIA_RIM_ROOT_DER
from enclava.attestation.gpu.simulated import (
    DEV_GPU_DEVICE_ROOT_DER,
    DEV_GPU_RIM_ROOT_DER,
    SIMULATED_GPU_MODELS,
    SimulatedGpuAttester,
    simulated_gpu_verifier,
)
from enclava.attestation.gpu.spdm import SpdmReport
from enclava.attestation.gpu.verifier import GpuVerifier

NOW = 1_780_000_000  # 2026-05-28, inside every development window
NONCE = bytes(range(32))
DAY = 86_400


def _collect(
    gpu_class: str = "H100", *, debug: bool = False, cc_mode: bool = True, count: int = 1
) -> tuple[GpuEvidence, ...]:
    attester = SimulatedGpuAttester(
        gpu_class, debug=debug, cc_mode=cc_mode, count=count, clock=lambda: float(NOW)
    )
    return attester.collect(NONCE)


def _verify(evidence: GpuEvidence, *, nonce: bytes = NONCE, now: int = NOW + 5) -> GpuClaims:
    return simulated_gpu_verifier().verify(evidence, nonce=nonce, now=now)


@pytest.mark.parametrize("gpu_class", sorted(SIMULATED_GPU_MODELS))
def test_simulated_evidence_verifies_with_development_roots(gpu_class: str) -> None:
    (evidence,) = _collect(gpu_class=gpu_class)
    model = SIMULATED_GPU_MODELS[gpu_class]
    claims = _verify(evidence)
    assert claims.gpu_class == gpu_class
    assert claims.architecture == "HOPPER"
    assert claims.nonce == NONCE
    assert claims.driver_version == model.driver_version
    assert claims.vbios_version.lower() == model.vbios_version.lower()
    assert claims.cc_mode is True
    assert claims.debug is False
    assert claims.simulated is True


def test_simulated_gpu_verifier_pins_the_development_roots() -> None:
    verifier = simulated_gpu_verifier()
    assert isinstance(verifier, GpuVerifier)
    assert DEV_GPU_DEVICE_ROOT_DER != NVIDIA_DEVICE_ROOT_DER
    assert DEV_GPU_RIM_ROOT_DER != NVIDIA_RIM_ROOT_DER
    for der in (DEV_GPU_DEVICE_ROOT_DER, DEV_GPU_RIM_ROOT_DER):
        root = x509.load_der_x509_certificate(der)
        assert "DEVELOPMENT" in root.subject.rfc4514_string()
        assert root.subject == root.issuer


def test_simulated_evidence_refused_by_nvidia_device_root() -> None:
    (evidence,) = _collect()
    with pytest.raises(gpu_errors.GpuDeviceRootError) as info:
        GpuVerifier().verify(evidence, nonce=NONCE, now=NOW + 5)
    assert isinstance(info.value, UntrustedRootError)


def test_simulated_rims_refused_by_nvidia_rim_root() -> None:
    (evidence,) = _collect()
    verifier = GpuVerifier(device_root_der=DEV_GPU_DEVICE_ROOT_DER, simulated=True)
    with pytest.raises(gpu_errors.RimRootError) as info:
        verifier.verify(evidence, nonce=NONCE, now=NOW + 5)
    assert isinstance(info.value, UntrustedRootError)


def test_debug_gpu_refused_as_unlisted_measurements() -> None:
    # Hopper signs no devtools flag: a debug GPU measures what no production RIM lists
    (evidence,) = _collect(debug=True)
    with pytest.raises(gpu_errors.GpuMeasurementMismatchError):
        _verify(evidence)


def test_cc_mode_off_refused() -> None:
    (evidence,) = _collect(cc_mode=False)
    with pytest.raises(gpu_errors.GpuCcModeOffError):
        _verify(evidence)


def test_wrong_nonce_refused() -> None:
    (evidence,) = _collect()
    with pytest.raises(gpu_errors.GpuNonceMismatchError):
        _verify(evidence, nonce=bytes(32))


def test_stale_ocsp_refused_a_day_later() -> None:
    (evidence,) = _collect()
    with pytest.raises(gpu_errors.OcspStaleError):
        _verify(evidence, now=NOW + 2 * DAY)


def test_expired_leaf_certificate_refused_after_its_window() -> None:
    (evidence,) = _collect()
    # collateral re-fetched later (fresh OCSP), but the same boot's FMC leaf is past its year
    (later,) = SimulatedGpuAttester(clock=lambda: float(NOW + 400 * DAY)).collect(NONCE)
    stale_leaf = GpuEvidence(
        report=evidence.report,
        certificates=evidence.certificates,
        driver_rim=later.driver_rim,
        vbios_rim=later.vbios_rim,
        ocsp=later.ocsp,
    )
    with pytest.raises(gpu_errors.GpuCertificateExpiredError):
        _verify(stale_leaf, now=NOW + 400 * DAY)


def test_evidence_is_deterministic_given_nonce_and_clock() -> None:
    first, second = _collect(), _collect()
    assert first == second
    assert gpu_evidence_digest(first) == gpu_evidence_digest(second)
    (other_nonce,) = SimulatedGpuAttester(clock=lambda: float(NOW)).collect(bytes(32))
    assert other_nonce.report != first[0].report
    assert other_nonce.certificates == first[0].certificates
    assert other_nonce.driver_rim == first[0].driver_rim


def test_two_gpus_are_distinct_devices_and_both_verify() -> None:
    gpus = _collect(count=2)
    assert len(gpus) == 2
    leaves = [x509.load_pem_x509_certificates(gpu.certificates)[0] for gpu in gpus]
    keys = [
        leaf.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        for leaf in leaves
    ]
    assert keys[0] != keys[1]
    assert leaves[0].serial_number != leaves[1].serial_number
    claims = [_verify(gpu) for gpu in gpus]
    assert all(c.gpu_class == "H100" for c in claims)
    assert claims[0].details != claims[1].details
    # the RIMs describe the same firmware, so both GPUs carry the same ones
    assert gpus[0].driver_rim == gpus[1].driver_rim


def test_report_is_the_real_spdm_layout() -> None:
    (evidence,) = _collect()
    report = SpdmReport.parse(evidence.report)
    assert report.encode() == evidence.report
    assert report.request.nonce == NONCE
    assert report.response.nonce != NONCE  # the GPU's own nonce
    assert len(report.response.blocks) == 64
    assert len(evidence.report) == 4117  # as the Hopper sample in NVIDIA/nvtrust
    chain = x509.load_pem_x509_certificates(evidence.certificates)
    assert len(chain) == 5
    assert chain[-1].public_bytes(serialization.Encoding.DER) == DEV_GPU_DEVICE_ROOT_DER
    assert b'<SoftwareIdentity xmlns="http://standards.iso.org/iso/19770/-2/2015/schema.xsd"' in (
        evidence.driver_rim
    )
    assert b"http://www.w3.org/2006/12/xml-c14n11" in evidence.vbios_rim


@pytest.mark.parametrize(
    "kwargs",
    [{"gpu_class": "B200"}, {"count": 0}, {"count": 9}],
)
def test_attester_refuses_what_no_host_has(kwargs: dict[str, object]) -> None:
    with pytest.raises(AttesterError):
        SimulatedGpuAttester(**kwargs)  # type: ignore[arg-type]


def test_attester_refuses_a_nonce_that_is_not_32_bytes() -> None:
    with pytest.raises(AttesterError):
        SimulatedGpuAttester().collect(b"short")


def test_expired_rim_signer_refused() -> None:
    (early,) = _collect()
    later_now = NOW + 400 * DAY
    (later,) = SimulatedGpuAttester(clock=lambda: float(later_now)).collect(NONCE)
    stale_rims = GpuEvidence(
        report=later.report,
        certificates=later.certificates,
        driver_rim=early.driver_rim,
        vbios_rim=early.vbios_rim,
        ocsp=later.ocsp,
    )
    assert _verify(later, now=later_now).gpu_class == "H100"
    with pytest.raises(gpu_errors.RimExpiredError):
        _verify(stale_rims, now=later_now)


def _flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]


def test_flipped_measurement_byte_breaks_the_gpu_signature() -> None:
    (evidence,) = _collect()
    report = _flip(evidence.report, 37 + 8 + 4 + 3)  # first byte of measurement block 1's value
    with pytest.raises(gpu_errors.GpuReportSignatureError):
        _verify(GpuEvidence(report, *_rest(evidence)))


def test_flipped_rim_reference_value_breaks_the_xml_signature() -> None:
    (evidence,) = _collect()
    offset = evidence.driver_rim.index(b'ns2:Hash0="') + len(b'ns2:Hash0="')
    tampered = evidence.driver_rim[:offset] + b"f" + evidence.driver_rim[offset + 1 :]
    assert tampered != evidence.driver_rim
    forged = GpuEvidence(
        evidence.report, evidence.certificates, tampered, evidence.vbios_rim, evidence.ocsp
    )
    with pytest.raises(gpu_errors.RimSignatureError):
        _verify(forged)


def test_missing_and_revoked_ocsp_refused() -> None:
    (evidence,) = _collect()
    without_brom = GpuEvidence(
        evidence.report,
        evidence.certificates,
        evidence.driver_rim,
        evidence.vbios_rim,
        evidence.ocsp[1:],
    )
    with pytest.raises(gpu_errors.OcspMissingError):
        _verify(without_brom)
    chain = x509.load_pem_x509_certificates(evidence.certificates)
    revoked = development_gpu_pki().ocsp_response(chain[1], chain[2], produced_at=NOW, revoked=True)
    with pytest.raises(gpu_errors.GpuRevokedError):
        _verify(
            GpuEvidence(
                evidence.report,
                evidence.certificates,
                evidence.driver_rim,
                evidence.vbios_rim,
                (revoked, *evidence.ocsp[1:]),
            )
        )


def test_ocsp_responses_are_shaped_like_nvidias() -> None:
    (evidence,) = _collect()
    assert len(evidence.ocsp) == 7  # BROM, ICA, identity; two RIM signers, RIM L3, RIM L2
    for der in evidence.ocsp:
        response = ocsp.load_der_ocsp_response(der)
        assert response.certificate_status == ocsp.OCSPCertStatus.GOOD
        assert response.hash_algorithm.name == "sha384"
        assert response.responder_key_hash is not None
        assert response.produced_at_utc == response.this_update_utc
        assert response.next_update_utc is not None
        assert response.next_update_utc - response.this_update_utc == dt.timedelta(days=1)
        (responder,) = response.certificates
        usage = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert ExtendedKeyUsageOID.OCSP_SIGNING in usage
        with pytest.raises(x509.ExtensionNotFound):
            response.extensions.get_extension_for_class(x509.OCSPNonce)


def _rest(evidence: GpuEvidence) -> tuple[bytes, bytes, bytes, tuple[bytes, ...]]:
    return evidence.certificates, evidence.driver_rim, evidence.vbios_rim, evidence.ocsp


def test_evidence_survives_its_canonical_json_form() -> None:
    gpus = _collect(count=2)
    again = tuple(GpuEvidence.from_dict(gpu.to_dict()) for gpu in gpus)
    assert again == gpus
    assert gpu_evidence_digest(again) == gpu_evidence_digest(gpus)
    assert _verify(again[1]).nonce == NONCE
