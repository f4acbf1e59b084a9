"""Simulated v5 (TD 1.5) evidence through ``EvidenceVerifier``, exactly as v4: the same verifier
objects, the same guards, the same refusals; and a real v5 quote through the vendor step.

Every case runs for both quote versions, so a difference between the v4 and v5 paths shows up as
a failure of one parameter only.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from ca_support import enclave_key_der

from enclava.attestation import (
    CollateralExpiredError,
    DebugEnclaveError,
    Evidence,
    EvidenceSignatureError,
    MeasurementNotAllowedError,
    NonceReusedError,
    ReportDataMismatchError,
    SimulatedTdxAttester,
    SimulatedTeeRefusedError,
    TcbStatusRejectedError,
    bind_report_data,
)
from enclava.attestation.tdx_quote import TdReport15, TdxQuote
from enclava.attestation.verifiers import (
    GUARDS,
    EvidenceVerifier,
    InMemoryMeasurementAllowList,
    InMemoryNonceStore,
    TcbPolicy,
    default_verifiers,
)
from enclava.attestation.verifiers.tdx import ServiceTdNotAllowedError
from enclava.protocol.tee import TeeType

MEASUREMENT = bytes.fromhex("cd" * 48)
SERVICE_TD = bytes.fromhex("5e" * 48)
KEY = enclave_key_der(b"tdx-v5-pipeline")
NOW = 1795000000
TDX = Path(__file__).resolve().parents[2] / "fixtures" / "attestation" / "tdx"
V5_LAST_VALID = 1774003274
# mr_td's offset: header (48) [+ descriptor (6) in v5] + 136 bytes of TD report before it
MR_TD_OFFSET = {4: 48 + 136, 5: 54 + 136}


@pytest.fixture(params=[4, 5], ids=["v4", "v5"])
def version(request) -> int:
    return request.param


def _make(version: int, report_data: bytes, measurement: bytes = MEASUREMENT, **kwargs) -> Evidence:
    attester = SimulatedTdxAttester(
        measurement, quote_version=version, clock=lambda: NOW - 60, **kwargs
    )
    return attester.attest(report_data)


def _pipeline(**kwargs) -> tuple[EvidenceVerifier, InMemoryNonceStore]:
    store = InMemoryNonceStore()
    kwargs.setdefault("insecure_allow_simulated_tee", True)
    verifier = EvidenceVerifier(
        allow_list=InMemoryMeasurementAllowList([(TeeType.SIMULATED, MEASUREMENT)]),
        nonce_store=store,
        verifiers=default_verifiers(insecure_allow_simulated_tee=True),
        **kwargs,
    )
    return verifier, store


def test_accepts_bound_fresh_allowed_evidence(version):
    verifier, store = _pipeline()
    nonce = store.issue()
    evidence = Evidence.from_json(_make(version, bind_report_data(nonce, KEY)).to_json())
    assert TdxQuote.parse(evidence.quote).version == version

    result = verifier.verify(evidence, nonce=nonce, enclave_public_key_der=KEY, now=NOW)

    assert result.measurement == MEASUREMENT and result.tee_type is TeeType.SIMULATED
    assert result.simulated and result.claims.tcb_status == "UpToDate"
    assert result.checks == ("select_verifier", "verify_evidence", *(g.__name__ for g in GUARDS))
    details = result.claims.details
    assert details["quote_version"] == str(version)
    if version == 5:
        assert details["td_report_version"] == "1.5" and details["mr_servicetd"] == "00" * 48
        assert details["tee_tcb_svn2"] == details["tee_tcb_svn"]
    else:
        assert details["td_report_version"] == "1.0" and "mr_servicetd" not in details


@pytest.mark.parametrize(
    ("version", "field"),
    [(4, "mr_td"), (4, "header"), (5, "mr_td"), (5, "header"), (5, "mr_servicetd")],
)
def test_refuses_flipped_signed_byte(version, field):
    verifier, store = _pipeline()
    nonce = store.issue()
    evidence = _make(version, bind_report_data(nonce, KEY))
    offset = {"mr_td": MR_TD_OFFSET[version], "mr_servicetd": 54 + 600 + 7, "header": 30}[field]
    quote = bytearray(evidence.quote)
    quote[offset] ^= 0x01
    with pytest.raises(EvidenceSignatureError):
        verifier.verify(
            dataclasses.replace(evidence, quote=bytes(quote)),
            nonce=nonce,
            enclave_public_key_der=KEY,
            now=NOW,
        )


def test_refuses_a_bound_service_td():
    verifier, store = _pipeline()
    nonce = store.issue()
    evidence = _make(5, bind_report_data(nonce, KEY), mr_servicetd=SERVICE_TD)
    assert TdxQuote.parse(evidence.quote).body.mr_servicetd == SERVICE_TD
    with pytest.raises(ServiceTdNotAllowedError, match="service TD"):
        verifier.verify(evidence, nonce=nonce, enclave_public_key_der=KEY, now=NOW)


def test_refuses_reused_nonce(version):
    verifier, store = _pipeline()
    nonce = store.issue()
    evidence = _make(version, bind_report_data(nonce, KEY))
    verifier.verify(evidence, nonce=nonce, enclave_public_key_der=KEY, now=NOW)
    with pytest.raises(NonceReusedError):
        verifier.verify(evidence, nonce=nonce, enclave_public_key_der=KEY, now=NOW)


def test_refuses_binding_another_key(version):
    verifier, store = _pipeline()
    nonce = store.issue()
    evidence = _make(version, bind_report_data(nonce, enclave_key_der(b"attacker")))
    with pytest.raises(ReportDataMismatchError):
        verifier.verify(evidence, nonce=nonce, enclave_public_key_der=KEY, now=NOW)


def test_refuses_debug_td(version):
    verifier, store = _pipeline()
    nonce = store.issue()
    with pytest.raises(DebugEnclaveError):
        verifier.verify(
            _make(version, bind_report_data(nonce, KEY), debug=True),
            nonce=nonce,
            enclave_public_key_der=KEY,
            now=NOW,
        )


def test_refuses_measurement_off_allow_list(version):
    verifier, store = _pipeline()
    nonce = store.issue()
    with pytest.raises(MeasurementNotAllowedError):
        verifier.verify(
            _make(version, bind_report_data(nonce, KEY), bytes(48)),
            nonce=nonce,
            enclave_public_key_der=KEY,
            now=NOW,
        )


def test_refuses_expired_collateral(version):
    verifier, store = _pipeline()
    nonce = store.issue()
    with pytest.raises(CollateralExpiredError):
        verifier.verify(
            _make(version, bind_report_data(nonce, KEY)),
            nonce=nonce,
            enclave_public_key_der=KEY,
            now=NOW + 31 * 24 * 3600,
        )


def test_tcb_policy_refuses_out_of_date_unless_accepted(version):
    strict, store = _pipeline()
    nonce = store.issue()
    evidence = _make(version, bind_report_data(nonce, KEY), outdated_tcb=True)
    with pytest.raises(TcbStatusRejectedError, match="OutOfDate"):
        strict.verify(evidence, nonce=nonce, enclave_public_key_der=KEY, now=NOW)

    lenient, store = _pipeline(tcb_policy=TcbPolicy(frozenset({"UpToDate", "OutOfDate"})))
    nonce = store.issue()
    evidence = _make(version, bind_report_data(nonce, KEY), outdated_tcb=True)
    result = lenient.verify(evidence, nonce=nonce, enclave_public_key_der=KEY, now=NOW)
    assert result.claims.tcb_status == "OutOfDate"


def test_refuses_simulated_evidence_without_the_insecure_flag(version):
    verifier, store = _pipeline(insecure_allow_simulated_tee=False)
    nonce = store.issue()
    with pytest.raises(SimulatedTeeRefusedError):
        verifier.verify(
            _make(version, bind_report_data(nonce, KEY)),
            nonce=nonce,
            enclave_public_key_der=KEY,
            now=NOW,
        )


def test_bound_evidence_passes_the_channel_guards(version):
    report_data = bytes(range(64))
    verifier = EvidenceVerifier(
        allow_list=InMemoryMeasurementAllowList([(TeeType.SIMULATED, MEASUREMENT)]),
        nonce_store=None,
        verifiers=default_verifiers(insecure_allow_simulated_tee=True),
        insecure_allow_simulated_tee=True,
    )
    claims = verifier.verify_bound(_make(version, report_data), report_data=report_data, now=NOW)
    assert claims.measurement == MEASUREMENT and claims.report_data == report_data


def test_real_v5_quote_passes_the_vendor_step_and_fails_binding():
    evidence = Evidence(
        TeeType.TDX,
        (TDX / "tdx_quote_v5").read_bytes(),
        (TDX / "tdx_quote_v5_collateral.json").read_bytes(),
    )
    assert isinstance(TdxQuote.parse(evidence.quote).body, TdReport15)
    store = InMemoryNonceStore()
    verifier = EvidenceVerifier(allow_list=InMemoryMeasurementAllowList(), nonce_store=store)
    with pytest.raises(ReportDataMismatchError):
        verifier.verify(
            evidence, nonce=store.issue(), enclave_public_key_der=KEY, now=V5_LAST_VALID
        )
