"""SimulatedTdxAttester: real-format v4 and v5 quotes and Intel-shaped collateral from the
development PKI."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import dcap_qvl
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from enclava.attestation import (
    AttesterError,
    SimulatedTdxAttester,
    TcbStatusRejectedError,
    TdReport,
    TdxQuote,
    development_pki,
    development_root_der,
)
from enclava.attestation.devpki import ecdsa_raw_sign
from enclava.attestation.tdx_quote import TdReport15
from enclava.attestation.verifiers.tdx import TdxVerifier
from enclava.protocol.tee import TeeType

MR_TD = hashlib.sha384(b"simulated TD").digest()
REPORT_DATA = bytes(range(64))
ISSUED_AT = 1_790_000_000
REAL_COLLATERAL = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "attestation"
    / "tdx"
    / "tdx_quote_collateral.json"
)


def _raw_verify(key, signature: bytes, data: bytes) -> None:
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))


def test_quote_is_a_tdx_v4_quote_dcap_qvl_parses():
    quote = SimulatedTdxAttester(MR_TD).quote(REPORT_DATA)
    parsed = dcap_qvl.parse_quote(quote)
    assert parsed.is_tdx() and parsed.header.version == 4 and parsed.header.tee_type == 0x81
    assert parsed.report.mr_td == MR_TD and parsed.report.report_data == REPORT_DATA
    assert parsed.fmspc() == development_pki().platform.fmspc.hex().upper()


def test_quote_signatures_chain_to_the_development_keys():
    pki, quote = development_pki(), TdxQuote.parse(SimulatedTdxAttester(MR_TD).quote(REPORT_DATA))
    _raw_verify(pki.attestation_key.public_key(), quote.signature, quote.signed_bytes)
    _raw_verify(pki.pck_key.public_key(), quote.qe_report_signature, quote.qe_report)
    assert (
        quote.qe_report[320:352]
        == hashlib.sha256(quote.attestation_key + quote.qe_auth_data).digest()
    )


def test_quotes_and_collateral_are_deterministic():
    first, second = SimulatedTdxAttester(MR_TD), SimulatedTdxAttester(MR_TD)
    assert first.quote(REPORT_DATA) == second.quote(REPORT_DATA)
    assert first.collateral(issued_at=ISSUED_AT) == second.collateral(issued_at=ISSUED_AT)


def test_collateral_has_intels_shape_and_verifies_at_its_time():
    attester = SimulatedTdxAttester(MR_TD)
    collateral = json.loads(attester.collateral(issued_at=ISSUED_AT))
    assert set(collateral) == set(json.loads(REAL_COLLATERAL.read_text()))
    tcb_info = json.loads(collateral["tcb_info"])
    assert (
        tcb_info["id"] == "TDX"
        and tcb_info["version"] == 3
        and tcb_info["issueDate"] == "2026-09-21T14:13:20Z"
    )
    _raw_verify(
        development_pki().tcb_signing_key.public_key(),
        bytes.fromhex(collateral["tcb_info_signature"]),
        collateral["tcb_info"].encode(),
    )
    report = dcap_qvl.verify_with_root_ca(
        attester.quote(REPORT_DATA),
        dcap_qvl.QuoteCollateralV3.from_json(json.dumps(collateral)),
        development_root_der(),
        ISSUED_AT + 1,
    )
    assert report.status == "UpToDate"


def test_attest_wraps_quote_and_fresh_collateral_as_simulated_evidence():
    evidence = SimulatedTdxAttester(MR_TD, clock=lambda: ISSUED_AT).attest(REPORT_DATA)
    assert evidence.tee_type is TeeType.SIMULATED
    assert TdxQuote.parse(evidence.quote).body.report_data == REPORT_DATA
    assert (
        json.loads(json.loads(evidence.collateral)["qe_identity"])["issueDate"]
        == "2026-09-21T14:13:20Z"
    )


def test_debug_and_outdated_options_change_only_what_they_name():
    normal = TdxQuote.parse(SimulatedTdxAttester(MR_TD).quote(REPORT_DATA)).body
    debug = TdxQuote.parse(SimulatedTdxAttester(MR_TD, debug=True).quote(REPORT_DATA)).body
    outdated = TdxQuote.parse(
        SimulatedTdxAttester(MR_TD, outdated_tcb=True).quote(REPORT_DATA)
    ).body
    assert debug.td_attributes[0] & 1 and not normal.td_attributes[0] & 1
    assert outdated.tee_tcb_svn != normal.tee_tcb_svn and outdated.mr_td == normal.mr_td


@pytest.mark.parametrize(
    ("mr_td", "report_data"), [(bytes(47), REPORT_DATA), (MR_TD, bytes(63)), (MR_TD, "x" * 64)]
)
def test_wrong_sizes_are_refused(mr_td, report_data):
    with pytest.raises(AttesterError):
        SimulatedTdxAttester(mr_td).quote(report_data)


# ---- v5 (TD 1.5) ---------------------------------------------------------------------------

V5_SIGNED_LEN = 48 + 6 + 648


def test_v5_quote_is_a_td15_quote_dcap_qvl_parses():
    quote = SimulatedTdxAttester(MR_TD, quote_version=5).quote(REPORT_DATA)
    parsed = dcap_qvl.parse_quote(quote)
    assert parsed.is_tdx() and parsed.header.version == 5 and parsed.header.tee_type == 0x81
    assert parsed.report.mr_td == MR_TD and parsed.report.report_data == REPORT_DATA
    assert parsed.report.tee_tcb_svn2 == parsed.report.tee_tcb_svn
    assert parsed.report.mr_service_td == bytes(48)
    ours = TdxQuote.parse(quote)
    assert isinstance(ours.body, TdReport15) and ours.encode() == quote


def test_v5_quote_signatures_chain_to_the_development_keys():
    pki = development_pki()
    quote = TdxQuote.parse(SimulatedTdxAttester(MR_TD, quote_version=5).quote(REPORT_DATA))
    assert len(quote.signed_bytes) == V5_SIGNED_LEN
    _raw_verify(pki.attestation_key.public_key(), quote.signature, quote.signed_bytes)
    _raw_verify(pki.pck_key.public_key(), quote.qe_report_signature, quote.qe_report)


def test_v4_and_v5_quotes_carry_the_same_td_and_share_collateral():
    v4 = SimulatedTdxAttester(MR_TD, clock=lambda: ISSUED_AT)
    v5 = SimulatedTdxAttester(MR_TD, quote_version=5, clock=lambda: ISSUED_AT)
    body4, body5 = (TdxQuote.parse(a.quote(REPORT_DATA)).body for a in (v4, v5))
    assert body4 == TdReport(**{f.name: getattr(body5, f.name) for f in dataclasses.fields(body4)})
    assert v4.collateral() == v5.collateral()
    assert v5.quote(REPORT_DATA) == SimulatedTdxAttester(MR_TD, quote_version=5).quote(REPORT_DATA)
    for attester in (v4, v5):
        report = dcap_qvl.verify_with_root_ca(
            attester.quote(REPORT_DATA),
            dcap_qvl.QuoteCollateralV3.from_json(attester.collateral().decode()),
            development_root_der(),
            ISSUED_AT + 1,
        )
        assert report.status == "UpToDate"


def _resigned_v5(tee_tcb_svn2: bytes, *, outdated: bool = False) -> bytes:
    """A development-signed v5 quote whose TD 1.5 report carries ``tee_tcb_svn2``."""
    attester = SimulatedTdxAttester(MR_TD, quote_version=5, outdated_tcb=outdated)
    quote = TdxQuote.parse(attester.quote(REPORT_DATA))
    quote = dataclasses.replace(
        quote, body=dataclasses.replace(quote.body, tee_tcb_svn2=tee_tcb_svn2)
    )
    signature = ecdsa_raw_sign(development_pki().attestation_key, quote.signed_bytes)
    return dataclasses.replace(quote, signature=signature).encode()


_PLATFORM = development_pki().platform
_UP, _OUT = _PLATFORM.tee_tcb_svn, _PLATFORM.outdated_tee_tcb_svn


@pytest.mark.parametrize(
    ("outdated", "tee_tcb_svn2", "status"),
    [
        (False, _UP, "UpToDate"),  # not updated since launch: what the attester emits
        (False, bytes([_UP[0] + 5]) + _UP[1:], "UpToDate"),  # updated to a newer module SVN
        (True, _OUT, "OutOfDate"),
        (True, _UP, "TDRelaunchAdvised"),  # launched on an outdated module, since updated
        (False, bytes([0]) + _UP[1:], TcbStatusRejectedError),  # current module below every level
        (False, bytes(16), TcbStatusRejectedError),  # below every platform TCB level
        (False, b"\xff" * 16, TcbStatusRejectedError),  # a module the TCB info does not list
    ],
)
def test_dcap_qvl_evaluates_tee_tcb_svn2(outdated, tee_tcb_svn2, status):
    """dcap-qvl 0.7.0 judges a TD 1.5 report's current module (tee_tcb_svn2) too, as Intel's QVL
    does; the development collateral serves v5 quotes because the attester sets svn2 = svn."""
    attester = SimulatedTdxAttester(MR_TD, outdated_tcb=outdated)
    quote = _resigned_v5(tee_tcb_svn2, outdated=outdated)
    verify = TdxVerifier(root_ca_der=development_root_der()).verify_quote
    if isinstance(status, str):
        claims = verify(quote, attester.collateral(issued_at=ISSUED_AT), now=ISSUED_AT + 1)
        assert claims.tcb_status == status and claims.details["tee_tcb_svn2"] == tee_tcb_svn2.hex()
    else:
        with pytest.raises(status):
            verify(quote, attester.collateral(issued_at=ISSUED_AT), now=ISSUED_AT + 1)


def test_v5_debug_outdated_and_service_td_options():
    def body(**kwargs):
        return TdxQuote.parse(
            SimulatedTdxAttester(MR_TD, quote_version=5, **kwargs).quote(REPORT_DATA)
        ).body

    normal, debug, outdated = body(), body(debug=True), body(outdated_tcb=True)
    assert debug.td_attributes[0] & 1 and not normal.td_attributes[0] & 1
    assert outdated.tee_tcb_svn != normal.tee_tcb_svn
    assert outdated.tee_tcb_svn2 == outdated.tee_tcb_svn
    assert body(mr_servicetd=b"\x07" * 48).mr_servicetd == b"\x07" * 48


@pytest.mark.parametrize(
    "kwargs",
    [
        {"quote_version": 3},
        {"quote_version": 6},
        {"quote_version": "5"},
        {"quote_version": True},
        {"mr_servicetd": bytes(48)},  # v4 has no service TD field
        {"quote_version": 5, "mr_servicetd": bytes(47)},
        {"quote_version": 5, "mr_servicetd": "00" * 48},
    ],
)
def test_v5_options_are_checked(kwargs):
    with pytest.raises(AttesterError):
        SimulatedTdxAttester(MR_TD, **kwargs)
