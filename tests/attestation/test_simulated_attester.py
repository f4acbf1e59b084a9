"""SimulatedTdxAttester: real-format quotes and Intel-shaped collateral from the development PKI."""

from __future__ import annotations

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
    TdxQuote,
    development_pki,
    development_root_der,
)
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
