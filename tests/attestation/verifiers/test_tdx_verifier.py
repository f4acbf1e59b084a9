"""TdxVerifier against Intel's real quote: vendor verification on its own, and every way it must
fail."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from ca_support import TDX_PINNED_TIME, assert_every_bit_flip_refused

from enclava.attestation import (
    CollateralExpiredError,
    DebugEnclaveError,
    Evidence,
    EvidenceFormatError,
    EvidenceRevokedError,
    EvidenceSignatureError,
    TcbStatusRejectedError,
    TdxQuote,
    UntrustedRootError,
    development_pki,
    development_root_der,
)
from enclava.attestation.verifiers import (
    INTEL_SGX_ROOT_CA_DER,
    INTEL_SGX_ROOT_CA_SHA256,
    TdxVerifier,
)
from enclava.attestation.verifiers.tdx import ServiceTdNotAllowedError, _translate
from enclava.protocol.tee import TeeType


def test_verify_real_quote_up_to_date_at_pinned_time(tdx_vector):
    claims = TdxVerifier().verify_evidence(tdx_vector, now=TDX_PINNED_TIME)

    assert claims.tee_type is TeeType.TDX and not claims.simulated
    assert claims.tcb_status == "UpToDate" and claims.advisory_ids == ()
    assert claims.measurement.hex().startswith("91eb2b44") and len(claims.measurement) == 48
    assert claims.report_data.hex().startswith("9a9d48e7") and len(claims.report_data) == 64
    assert claims.debug is False
    assert claims.details["rt_mr0"].startswith("44c0197b")


def test_verify_real_quote_fails_at_todays_clock(tdx_vector):
    with pytest.raises(CollateralExpiredError, match="CrlExpired"):
        TdxVerifier().verify_evidence(tdx_vector, now=int(time.time()))


@pytest.mark.parametrize("now", [TDX_PINNED_TIME + 2, 1_500_000_000])
def test_verify_real_quote_fails_outside_collateral_window(tdx_vector, now):
    with pytest.raises(CollateralExpiredError):
        TdxVerifier().verify_evidence(tdx_vector, now=now)


def test_every_single_bit_flip_of_real_quote_is_refused(tdx_vector):
    verifier = TdxVerifier()
    assert_every_bit_flip_refused(
        tdx_vector.quote,
        lambda quote: verifier.verify_quote(quote, tdx_vector.collateral, now=TDX_PINNED_TIME),
    )


@pytest.mark.parametrize(
    ("offset", "error"),
    [
        (100, EvidenceSignatureError),  # TD report body: attestation-key signature breaks
        (700, EvidenceSignatureError),  # attestation key: QE report hash no longer matches
        (764, EvidenceFormatError),  # certification data type 6 -> 7
    ],
)
def test_flipped_byte_is_refused_with_its_error(tdx_vector, offset, error):
    flipped = bytearray(tdx_vector.quote)
    flipped[offset] ^= 0x01
    with pytest.raises(error):
        TdxVerifier().verify_quote(bytes(flipped), tdx_vector.collateral, now=TDX_PINNED_TIME)


def test_real_quote_refused_under_another_root(tdx_vector):
    with pytest.raises(UntrustedRootError):
        TdxVerifier(root_ca_der=development_root_der()).verify_evidence(
            tdx_vector, now=TDX_PINNED_TIME
        )


def test_collateral_signed_under_another_root_is_refused(tdx_vector):
    collateral = json.loads(tdx_vector.collateral)
    collateral["tcb_info_issuer_chain"] = development_pki().tcb_signing_chain_pem
    with pytest.raises(UntrustedRootError, match="tcb_info_issuer_chain"):
        TdxVerifier().verify_quote(
            tdx_vector.quote, json.dumps(collateral).encode(), now=TDX_PINNED_TIME
        )


def test_tampered_tcb_info_is_refused(tdx_vector):
    collateral = json.loads(tdx_vector.collateral)
    collateral["tcb_info"] = collateral["tcb_info"].replace(
        '"tcbStatus":"OutOfDate"', '"tcbStatus":"UpToDate"'
    )
    with pytest.raises(EvidenceSignatureError, match="tcb_info"):
        TdxVerifier().verify_quote(
            tdx_vector.quote, json.dumps(collateral).encode(), now=TDX_PINNED_TIME
        )


@pytest.mark.parametrize("collateral", [b"", b"\xff", b"[]", b'{"tcb_info": 1}', b"{" * 10000])
def test_malformed_collateral_is_refused(tdx_vector, collateral):
    with pytest.raises(EvidenceFormatError):
        TdxVerifier().verify_quote(tdx_vector.quote, collateral, now=TDX_PINNED_TIME)


def test_evidence_of_another_tee_type_is_refused(tdx_vector):
    with pytest.raises(EvidenceFormatError):
        TdxVerifier().verify_evidence(
            Evidence(TeeType.SEV_SNP, tdx_vector.quote, b""), now=TDX_PINNED_TIME
        )


@pytest.mark.parametrize("now", [-1, 2**64, 1.5])
def test_invalid_verification_time_is_refused(tdx_vector, now):
    with pytest.raises(EvidenceFormatError):
        TdxVerifier().verify_quote(tdx_vector.quote, tdx_vector.collateral, now=now)


def test_pinned_intel_root_matches_its_fingerprint():
    assert hashlib.sha256(INTEL_SGX_ROOT_CA_DER).hexdigest() == INTEL_SGX_ROOT_CA_SHA256


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("Verification failed: Debug mode is enabled", DebugEnclaveError),
        (
            "Verification failed: Failed to verify certificate chain\n\n"
            "Caused by:\n    UnknownIssuer",
            UntrustedRootError,
        ),
        ("Verification failed: TCBInfo expired", CollateralExpiredError),
        ("Verification failed: QE Identity issue date is in the future", CollateralExpiredError),
        (
            "Verification failed: Failed to verify certificate chain\n\n"
            "Caused by:\n    CertRevoked",
            EvidenceRevokedError,
        ),
        ("Verification failed: TCB status is invalid: Revoked", EvidenceRevokedError),
        ("Verification failed: Failed to decode quote", EvidenceFormatError),
        ("Verification failed: No matching TCB level found", TcbStatusRejectedError),
        (
            "Verification failed: Failed to evaluate the current TDX TCB (TEE_TCB_SVN2)\n\n"
            "Caused by:\n    No matching TCB level found",
            TcbStatusRejectedError,
        ),
        ("Verification failed: Invalid MR service TD", ServiceTdNotAllowedError),
        ("Verification failed: ISV enclave report signature is invalid", EvidenceSignatureError),
        ("something nobody anticipated", EvidenceSignatureError),
    ],
)
def test_dcap_qvl_errors_map_to_typed_errors(message, error):
    translated = _translate(ValueError(message))
    assert type(translated) is error
    assert "\n" not in translated.message


def test_collateral_may_attach_only_the_quotes_own_pck_chain(tdx_vector):
    collateral = json.loads(tdx_vector.collateral)
    quote_chain = TdxQuote.parse(tdx_vector.quote).pck_chain_pem.removesuffix(b"\x00").decode()
    collateral["pck_certificate_chain"] = quote_chain
    claims = TdxVerifier().verify_quote(
        tdx_vector.quote, json.dumps(collateral).encode(), now=TDX_PINNED_TIME
    )
    assert claims.tcb_status == "UpToDate"

    collateral["pck_certificate_chain"] = development_pki().pck_chain_pem
    with pytest.raises(EvidenceFormatError, match="differs from the quote"):
        TdxVerifier().verify_quote(
            tdx_vector.quote, json.dumps(collateral).encode(), now=TDX_PINNED_TIME
        )
