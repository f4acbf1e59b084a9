"""TdxVerifier on real DCAP v5 quotes (TDX 1.5 modules, TD 1.5 reports): verified claims, and every
way verification must fail, each with its own typed error.

Vectors (origins in tests/fixtures/attestation/README.md), all from platforms with FMSPC
90C06F000000 and checked against the same Intel collateral (issued 2026-02-18):

- ``tdx_quote_v5``: verifies UpToDate at every second of [V5_FIRST_VALID, V5_LAST_VALID];
- ``tdx_quote_v5_outdated``: its TDX module SVN is below every TCB level of that collateral;
- ``tdx_quote_v5_servicetd``: a non-zero ``mr_servicetd``; its signatures verify under Intel's root
  but no public collateral lists its (old) TCB level, so it too is refused at the TCB match.
"""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import dcap_qvl
import pytest
from ca_support import TDX_PINNED_TIME, assert_every_bit_flip_refused

from enclava.attestation import (
    CollateralExpiredError,
    Evidence,
    EvidenceFormatError,
    EvidenceSignatureError,
    SimulatedTdxAttester,
    TcbStatusRejectedError,
    UntrustedRootError,
    development_root_der,
)
from enclava.attestation.tdx_quote import TdReport15, TdxQuote
from enclava.attestation.verifiers import TdxVerifier
from enclava.protocol.tee import TeeType

TDX = Path(__file__).resolve().parents[2] / "fixtures" / "attestation" / "tdx"
QUOTE_V5 = (TDX / "tdx_quote_v5").read_bytes()
QUOTE_V5_OUTDATED = (TDX / "tdx_quote_v5_outdated").read_bytes()
QUOTE_V5_SERVICETD = (TDX / "tdx_quote_v5_servicetd").read_bytes()
COLLATERAL_V5 = (TDX / "tdx_quote_v5_collateral.json").read_bytes()
V5_FIRST_VALID = 1771412331  # 2026-02-18T10:58:51Z: the TCB info's issueDate
V5_LAST_VALID = 1774003274  # the last second before a CRL's nextUpdate (CrlExpired after it)

# byte offsets in a v5 TD 1.5 quote (see enclava/attestation/tdx_quote.py)
DESCRIPTOR, BODY, SIG_DATA = 48, 54, 702
SIGNATURE, ATT_KEY, QE_REPORT, QE_REPORT_SIG, AUTH_DATA = 706, 770, 840, 1224, 1290
PCK_PEM = QUOTE_V5.index(b"-----BEGIN CERTIFICATE-----")
INTERMEDIATE_PEM = QUOTE_V5.index(b"-----BEGIN CERTIFICATE-----", PCK_PEM + 1)


def _verify(quote: bytes, *, now: int = V5_LAST_VALID, collateral: bytes = COLLATERAL_V5):
    return TdxVerifier().verify_quote(quote, collateral, now=now)


def _flip(raw: bytes, offset: int) -> bytes:
    out = bytearray(raw)
    out[offset] ^= 0x01
    return bytes(out)


@pytest.mark.parametrize("now", [V5_FIRST_VALID, 1772000000, V5_LAST_VALID])
def test_real_v5_quote_verifies_up_to_date(now):
    claims = _verify(QUOTE_V5, now=now)
    assert claims.tee_type is TeeType.TDX and not claims.simulated and claims.debug is False
    assert claims.tcb_status == "UpToDate" and claims.advisory_ids == ()
    parsed = TdxQuote.parse(QUOTE_V5)
    assert claims.measurement == parsed.body.mr_td and claims.measurement.hex().startswith(
        "7348651a34b2d2d3"
    )
    assert claims.report_data == parsed.body.report_data and claims.report_data.hex().startswith(
        "945eaacf5abc1f71"
    )
    assert claims.details["quote_version"] == "5" and claims.details["td_report_version"] == "1.5"
    assert claims.details["tee_tcb_svn"] == "0b010400000000000000000000000000"
    assert claims.details["tee_tcb_svn2"] == "0d010400000000000000000000000000"
    assert claims.details["mr_servicetd"] == "00" * 48
    assert claims.details["rt_mr0"].startswith("5c8daf76")


def test_v5_evidence_envelope_verifies():
    claims = TdxVerifier().verify_evidence(
        Evidence(TeeType.TDX, QUOTE_V5, COLLATERAL_V5), now=V5_LAST_VALID
    )
    assert claims.tcb_status == "UpToDate"


def test_real_v4_claims_name_their_version(tdx_vector):
    claims = TdxVerifier().verify_evidence(tdx_vector, now=TDX_PINNED_TIME)
    assert claims.details["quote_version"] == "4" and claims.details["td_report_version"] == "1.0"
    assert "mr_servicetd" not in claims.details and "tee_tcb_svn2" not in claims.details


@pytest.mark.parametrize(
    ("now", "match"),
    [
        (V5_FIRST_VALID - 1, "in the future"),
        (V5_LAST_VALID + 1, "CrlExpired"),
        (int(time.time()), "Expired|expired"),  # the wall clock: this collateral is long stale
    ],
)
def test_v5_collateral_outside_its_window_is_refused(now, match):
    with pytest.raises(CollateralExpiredError, match=match):
        _verify(QUOTE_V5, now=now)


def test_every_single_bit_flip_of_real_v5_quote_is_refused():
    assert_every_bit_flip_refused(QUOTE_V5, _verify)


@pytest.mark.parametrize(
    ("offset", "error", "match"),
    [
        (8, EvidenceSignatureError, "report signature is invalid"),  # header: qe_svn
        (30, EvidenceSignatureError, "report signature is invalid"),  # header: user_data
        (DESCRIPTOR, EvidenceFormatError, "body type 2 declares 648"),  # descriptor: type 3 -> 2
        (DESCRIPTOR + 3, EvidenceFormatError, "declares"),  # descriptor: size
        (BODY + 136, EvidenceSignatureError, "report signature is invalid"),  # body: mr_td
        (BODY + 520, EvidenceSignatureError, "report signature is invalid"),  # body: report_data
        (BODY + 590, EvidenceSignatureError, "report signature is invalid"),  # body: tee_tcb_svn2
        (BODY + 620, EvidenceSignatureError, "report signature is invalid"),  # body: mr_servicetd
        (SIG_DATA, EvidenceFormatError, "truncated|unexpected|type"),  # signature data size
        (SIGNATURE + 10, EvidenceSignatureError, "report signature is invalid"),
        (ATT_KEY + 30, EvidenceSignatureError, "QE report hash mismatch"),
        (QE_REPORT + 60, EvidenceSignatureError, "invalid for qe_report"),
        (QE_REPORT_SIG + 26, EvidenceSignatureError, "invalid for qe_report"),
        (AUTH_DATA + 5, EvidenceSignatureError, "QE report hash mismatch"),
        (PCK_PEM + 400, EvidenceSignatureError, "certificate chain"),  # PCK leaf's contents
        (INTERMEDIATE_PEM + 600, EvidenceSignatureError, "InvalidSignature"),  # its contents
        (INTERMEDIATE_PEM + 300, UntrustedRootError, "UnknownIssuer"),  # its issuer name
        (PCK_PEM + 3, EvidenceFormatError, "outside its certificates"),  # PEM armour
    ],
)
def test_flipped_byte_of_v5_quote_is_refused_with_its_error(offset, error, match):
    with pytest.raises(error, match=match):
        _verify(_flip(QUOTE_V5, offset))


def test_v5_quote_refused_under_another_root():
    with pytest.raises(UntrustedRootError, match="PCK chain"):
        TdxVerifier(root_ca_der=development_root_der()).verify_quote(
            QUOTE_V5, COLLATERAL_V5, now=V5_LAST_VALID
        )


def test_v5_collateral_of_another_root_is_refused():
    development = SimulatedTdxAttester(bytes(48)).collateral(issued_at=V5_FIRST_VALID)
    with pytest.raises(UntrustedRootError, match="collateral"):
        _verify(QUOTE_V5, collateral=development)


def test_v5_tampered_tcb_info_is_refused():
    collateral = json.loads(COLLATERAL_V5)
    tcb_info = collateral["tcb_info"]
    assert '"tcbStatus":"OutOfDate"' in tcb_info
    collateral["tcb_info"] = tcb_info.replace('"tcbStatus":"OutOfDate"', '"tcbStatus":"UpToDate"')
    with pytest.raises(EvidenceSignatureError, match="tcb_info"):
        _verify(QUOTE_V5, collateral=json.dumps(collateral).encode())


def test_v5_quote_below_every_tcb_level_is_refused():
    with pytest.raises(TcbStatusRejectedError, match="No matching TCB level"):
        _verify(QUOTE_V5_OUTDATED)


def test_v5_quote_with_service_td_is_genuine_but_its_tcb_level_unlisted():
    """Its signatures and chain verify under Intel's root (a flipped byte changes the refusal to a
    signature error); only its old TDX module SVN is missing from this collateral's levels."""
    assert TdxQuote.parse(QUOTE_V5_SERVICETD).body.mr_servicetd.hex().startswith("383c87d3")
    with pytest.raises(TcbStatusRejectedError, match="No matching TCB level"):
        _verify(QUOTE_V5_SERVICETD)
    with pytest.raises(EvidenceSignatureError):
        _verify(_flip(QUOTE_V5_SERVICETD, BODY + 136))
    with pytest.raises(UntrustedRootError):
        TdxVerifier(root_ca_der=development_root_der()).verify_quote(
            QUOTE_V5_SERVICETD, COLLATERAL_V5, now=V5_LAST_VALID
        )


@pytest.mark.parametrize(
    "descriptor",
    [
        struct.pack("<HI", 1, 648),  # an SGX enclave report
        struct.pack("<HI", 1, 384),
        struct.pack("<HI", 2, 648),  # TD 1.0 type with the TD 1.5 size
        struct.pack("<HI", 3, 584),
        struct.pack("<HI", 3, 647),
        struct.pack("<HI", 9, 648),
    ],
)
def test_v5_descriptor_deviations_are_refused(descriptor):
    with pytest.raises(EvidenceFormatError):
        _verify(QUOTE_V5[:DESCRIPTOR] + descriptor + QUOTE_V5[BODY:])


def test_v5_quote_relabelled_v4_is_refused():
    with pytest.raises(EvidenceFormatError):
        _verify(struct.pack("<H", 4) + QUOTE_V5[2:])


@pytest.mark.parametrize("length", [0, 48, 54, 701, 702, 706, 1290, PCK_PEM + 100, 5005])
def test_truncated_v5_quote_is_refused(length):
    with pytest.raises(EvidenceFormatError):
        _verify(QUOTE_V5[:length])


def test_trailing_zero_padding_is_accepted_and_anything_else_refused():
    assert _verify(QUOTE_V5 + bytes(1000)).tcb_status == "UpToDate"
    with pytest.raises(EvidenceFormatError, match="after the end"):
        _verify(QUOTE_V5 + b"\x00\x01")


def test_verified_report_must_be_the_parsed_one():
    """Unit test of the cross-check: claims come only from a dcap-qvl report equal to our parse."""
    parsed = TdxQuote.parse(QUOTE_V5)
    assert isinstance(parsed.body, TdReport15)
    verified = dcap_qvl.verify(
        QUOTE_V5, dcap_qvl.QuoteCollateralV3.from_json(COLLATERAL_V5.decode()), V5_LAST_VALID
    )
    document = json.loads(verified.to_json())
    verifier = TdxVerifier()
    assert verifier._claims(parsed, document).details["mr_servicetd"] == "00" * 48

    other = json.loads(json.dumps(document))
    other["report"]["TD15"]["mr_service_td"] = "11" * 48
    with pytest.raises(EvidenceSignatureError, match="differs"):
        verifier._claims(parsed, other)
    as_td10 = {**document, "report": {"TD10": document["report"]["TD15"]["base"]}}
    with pytest.raises(EvidenceFormatError, match="TD 1.5"):
        verifier._claims(parsed, as_td10)
