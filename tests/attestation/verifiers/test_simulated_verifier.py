"""Simulated TDX: real-format quotes from the development PKI, verified by the TDX code path.

Refused without ``insecure_allow_simulated_tee=True``; accepted with it and marked simulated.
"""

from __future__ import annotations

import hashlib

import pytest
from ca_support import VECTORS, assert_every_bit_flip_refused, enclave_key_der

from enclava.attestation import (
    CollateralExpiredError,
    DebugEnclaveError,
    Evidence,
    EvidenceFormatError,
    SimulatedTdxAttester,
    SimulatedTeeRefusedError,
    UntrustedRootError,
    bind_report_data,
)
from enclava.attestation.verifiers import SimulatedTdxVerifier, TdxVerifier
from enclava.protocol.tee import TeeType

GOLDEN = VECTORS / "simulated" / "evidence.json"
GOLDEN_ISSUED_AT = 1790000000
GOLDEN_MR_TD = hashlib.sha384(b"enclava golden simulated TD").digest()
GOLDEN_NONCE = bytes(range(32))
NOW = 1795000000


def golden_simulated_evidence() -> Evidence:
    """Rebuilds tests/fixtures/attestation/simulated/evidence.json (deterministic dev PKI and
    ECDSA)."""
    attester = SimulatedTdxAttester(GOLDEN_MR_TD, clock=lambda: GOLDEN_ISSUED_AT)
    return attester.attest(bind_report_data(GOLDEN_NONCE, enclave_key_der(b"golden")))


def _evidence(**kwargs) -> Evidence:
    attester = SimulatedTdxAttester(bytes(48), clock=lambda: NOW - 60, **kwargs)
    return attester.attest(bytes(64))


def test_simulated_evidence_refused_without_insecure_flag():
    with pytest.raises(SimulatedTeeRefusedError):
        SimulatedTdxVerifier().verify_evidence(_evidence(), now=NOW)


@pytest.mark.parametrize("flag", [False, None, 1, "yes"])
def test_only_literal_true_enables_simulated_tee(flag):
    with pytest.raises(SimulatedTeeRefusedError):
        SimulatedTdxVerifier(insecure_allow_simulated_tee=flag).verify_evidence(
            _evidence(), now=NOW
        )


def test_simulated_evidence_accepted_with_flag_and_marked_simulated():
    claims = SimulatedTdxVerifier(insecure_allow_simulated_tee=True).verify_evidence(
        _evidence(), now=NOW
    )

    assert claims.simulated is True and claims.tee_type is TeeType.SIMULATED
    assert claims.measurement == bytes(48) and claims.report_data == bytes(64)
    assert claims.tcb_status == "UpToDate" and claims.debug is False


def test_every_single_bit_flip_of_simulated_quote_is_refused():
    verifier, evidence = SimulatedTdxVerifier(insecure_allow_simulated_tee=True), _evidence()
    assert_every_bit_flip_refused(
        evidence.quote,
        lambda quote: verifier.verify_evidence(
            Evidence(TeeType.SIMULATED, quote, evidence.collateral), now=NOW
        ),
    )


def test_simulated_quote_presented_as_tdx_is_refused_by_intel_root():
    evidence = _evidence()
    with pytest.raises(UntrustedRootError):
        TdxVerifier().verify_evidence(
            Evidence(TeeType.TDX, evidence.quote, evidence.collateral), now=NOW
        )


def test_simulated_verifier_refuses_other_tee_types():
    evidence = _evidence()
    with pytest.raises(EvidenceFormatError):
        SimulatedTdxVerifier(insecure_allow_simulated_tee=True).verify_evidence(
            Evidence(TeeType.TDX, evidence.quote, evidence.collateral), now=NOW
        )


@pytest.mark.parametrize("now", [NOW + 31 * 24 * 3600, NOW - 3600])
def test_simulated_collateral_outside_its_window_is_refused(now):
    with pytest.raises(CollateralExpiredError):
        SimulatedTdxVerifier(insecure_allow_simulated_tee=True).verify_evidence(
            _evidence(), now=now
        )


def test_simulated_debug_td_is_refused():
    with pytest.raises(DebugEnclaveError):
        SimulatedTdxVerifier(insecure_allow_simulated_tee=True).verify_evidence(
            _evidence(debug=True), now=NOW
        )


def test_simulated_outdated_platform_reports_out_of_date():
    claims = SimulatedTdxVerifier(insecure_allow_simulated_tee=True).verify_evidence(
        _evidence(outdated_tcb=True), now=NOW
    )
    assert claims.tcb_status == "OutOfDate" and claims.advisory_ids == ("ENCLAVA-DEV-SA-0001",)


def test_golden_simulated_evidence_is_reproduced_byte_for_byte():
    assert golden_simulated_evidence().to_json() == GOLDEN.read_text()


def test_golden_simulated_evidence_made_elsewhere_verifies_here():
    evidence = Evidence.from_json(GOLDEN.read_bytes())
    claims = SimulatedTdxVerifier(insecure_allow_simulated_tee=True).verify_evidence(
        evidence, now=GOLDEN_ISSUED_AT + 60
    )
    assert claims.measurement == GOLDEN_MR_TD
    assert claims.report_data == bind_report_data(GOLDEN_NONCE, enclave_key_der(b"golden"))
