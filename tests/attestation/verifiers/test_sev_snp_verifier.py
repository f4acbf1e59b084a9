"""SevSnpVerifier against the real Milan report: chain, signature, pinning, and every way it must
fail."""

from __future__ import annotations

import hashlib

import pytest
from ca_support import SNP_VALID_TIME, assert_every_bit_flip_refused, snp_report
from cryptography.hazmat.primitives import serialization

from enclava.attestation import (
    CollateralExpiredError,
    Evidence,
    EvidenceFormatError,
    EvidenceSignatureError,
    UntrustedRootError,
    load_amd_certificates,
)
from enclava.attestation.verifiers import AMD_ARK_MILAN_SHA256, SevSnpVerifier
from enclava.protocol.tee import TeeType

VCEK_NOT_AFTER = 1884905728  # 2029-09-24 00:55:28 UTC


def test_verify_real_report_against_vcek_and_milan_chain(snp_vector):
    claims = SevSnpVerifier().verify_evidence(snp_vector, now=SNP_VALID_TIME)

    assert claims.tee_type is TeeType.SEV_SNP and not claims.simulated
    assert claims.measurement.hex().startswith("b07af962") and len(claims.measurement) == 48
    assert claims.report_data == bytes([1, 2, 3, 4, 5]) + bytes(59)
    assert claims.debug is True  # the vector's guest policy 0xb0000 has bit 19 (DEBUG) set
    assert claims.tcb_status == "UpToDate"
    assert claims.details["chip_id"].startswith("3ac3fe21")


def test_every_single_bit_flip_of_real_report_is_refused(snp_vector):
    verifier = SevSnpVerifier()
    assert_every_bit_flip_refused(
        snp_vector.quote,
        lambda report: verifier.verify_report(report, snp_vector.collateral, now=SNP_VALID_TIME),
    )


@pytest.mark.parametrize(
    ("offset", "mask", "error"),
    [
        (0x90, 0x01, EvidenceSignatureError),  # measurement
        (0x2A0, 0x01, EvidenceSignatureError),  # signature r
        (0x2A0 + 60, 0x01, EvidenceFormatError),  # unused high bytes of r must be zero
        (0x00, 0x04, EvidenceFormatError),  # version 2 -> 6: unsupported
    ],
)
def test_flipped_byte_is_refused_with_its_error(snp_vector, offset, mask, error):
    flipped = bytearray(snp_vector.quote)
    flipped[offset] ^= mask
    with pytest.raises(error):
        SevSnpVerifier().verify_report(bytes(flipped), snp_vector.collateral, now=SNP_VALID_TIME)


def test_milan_ark_is_pinned_by_the_vectors_fingerprint(snp_vector):
    ark = load_amd_certificates(snp_vector.collateral)[-1]
    assert (
        hashlib.sha256(ark.public_bytes(serialization.Encoding.DER)).hexdigest()
        == AMD_ARK_MILAN_SHA256
    )


def test_self_consistent_chain_under_another_root_is_refused(snp_vector, forged_amd):
    report = snp_report(snp_vector.quote, forged_amd, report_data=bytes(64), measurement=bytes(48))
    with pytest.raises(UntrustedRootError):
        SevSnpVerifier().verify_report(report, forged_amd.chain_pem, now=SNP_VALID_TIME)
    # The same evidence passes once that root is pinned: the refusal above is the pin, nothing else.
    claims = SevSnpVerifier(trusted_ark_sha256=[forged_amd.ark_sha256]).verify_report(
        report, forged_amd.chain_pem, now=SNP_VALID_TIME
    )
    assert claims.debug is False


def test_real_report_with_a_forged_vcek_is_refused(snp_vector, forged_amd):
    forged_vcek = load_amd_certificates(forged_amd.chain_pem)[0].public_bytes(
        serialization.Encoding.PEM
    )
    real_ask_ark = snp_vector.collateral[
        snp_vector.collateral.index(b"-----END CERTIFICATE-----") + 26 :
    ]
    with pytest.raises(EvidenceSignatureError):
        SevSnpVerifier().verify_report(
            snp_vector.quote, forged_vcek + real_ask_ark, now=SNP_VALID_TIME
        )


def test_vcek_of_another_chip_is_refused(snp_vector, forged_amd):
    report = bytearray(
        snp_report(snp_vector.quote, forged_amd, report_data=bytes(64), measurement=bytes(48))
    )
    report[0x1A0] ^= 0xFF
    verifier = SevSnpVerifier(trusted_ark_sha256=[forged_amd.ark_sha256])
    with pytest.raises(EvidenceSignatureError, match="another chip"):
        verifier.verify_report(
            forged_amd.sign(bytes(report)), forged_amd.chain_pem, now=SNP_VALID_TIME
        )


def test_vcek_of_another_tcb_is_refused(snp_vector, forged_amd):
    report = bytearray(
        snp_report(snp_vector.quote, forged_amd, report_data=bytes(64), measurement=bytes(48))
    )
    report[0x187] = 0x45  # microcode SPL differs from what the VCEK certifies
    verifier = SevSnpVerifier(trusted_ark_sha256=[forged_amd.ark_sha256])
    with pytest.raises(EvidenceSignatureError, match="certifies TCB"):
        verifier.verify_report(
            forged_amd.sign(bytes(report)), forged_amd.chain_pem, now=SNP_VALID_TIME
        )


@pytest.mark.parametrize("now", [VCEK_NOT_AFTER + 1, 1_600_000_000])
def test_report_refused_outside_certificate_validity(snp_vector, now):
    with pytest.raises(CollateralExpiredError):
        SevSnpVerifier().verify_evidence(snp_vector, now=now)


def test_tcb_below_configured_minimum_is_out_of_date(snp_vector):
    claims = SevSnpVerifier(minimum_tcb={"snp": 8}).verify_evidence(snp_vector, now=SNP_VALID_TIME)
    assert claims.tcb_status == "OutOfDate"


@pytest.mark.parametrize(
    "chain",
    [
        b"",
        b"not a pem",
        lambda pem: pem.split(b"-----END CERTIFICATE-----\n", 1)[1],  # VCEK missing
        lambda pem: (
            pem + pem.split(b"-----END CERTIFICATE-----\n", 1)[0] + b"-----END CERTIFICATE-----\n"
        ),
    ],
)
def test_malformed_chain_is_refused(snp_vector, chain):
    chain = chain(snp_vector.collateral) if callable(chain) else chain
    with pytest.raises(EvidenceFormatError):
        SevSnpVerifier().verify_report(snp_vector.quote, chain, now=SNP_VALID_TIME)


def test_evidence_of_another_tee_type_is_refused(snp_vector):
    with pytest.raises(EvidenceFormatError):
        SevSnpVerifier().verify_evidence(
            Evidence(TeeType.TDX, snp_vector.quote, snp_vector.collateral), now=SNP_VALID_TIME
        )
