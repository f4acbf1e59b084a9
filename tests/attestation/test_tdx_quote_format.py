"""TdxQuote: the v4 and v5 layouts, parsed strictly and re-encoded byte for byte."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import dcap_qvl
import pytest

from enclava.attestation import EvidenceFormatError, TdReport, TdxQuote
from enclava.attestation.tdx_quote import (
    _TD15_EXTRA_FIELDS,
    _TD_FIELDS,
    BODY_TYPE_TD10,
    BODY_TYPE_TD15,
    SIGNED_LEN,
    SIGNED_LEN_V5_TD10,
    SIGNED_LEN_V5_TD15,
    TD15_REPORT_LEN,
    TD_REPORT_LEN,
    QuoteHeader,
    TdReport15,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "attestation" / "tdx"
QUOTE = (FIXTURES / "tdx_quote").read_bytes()
# v5 quotes with TD 1.5 reports from three platforms' TDX 1.5 modules (origins in the README)
QUOTE_V5 = (FIXTURES / "tdx_quote_v5").read_bytes()
QUOTE_V5_SERVICETD = (FIXTURES / "tdx_quote_v5_servicetd").read_bytes()
QUOTE_V5_OUTDATED = (FIXTURES / "tdx_quote_v5_outdated").read_bytes()
V5_QUOTES = [QUOTE_V5, QUOTE_V5_SERVICETD, QUOTE_V5_OUTDATED]


def test_parse_real_quote():
    quote = TdxQuote.parse(QUOTE)
    assert (quote.header.version, quote.header.attestation_key_type, quote.header.tee_type) == (
        4,
        2,
        0x81,
    )
    assert quote.body.mr_td.hex().startswith(
        "91eb2b44"
    ) and quote.body.report_data.hex().startswith("9a9d48e7")
    assert quote.body.td_attributes == bytes.fromhex("0000001000000000")
    assert quote.qe_auth_data == bytes(range(32))
    assert quote.pck_chain_pem.count(b"BEGIN CERTIFICATE") == 3


def test_parse_agrees_with_dcap_qvl():
    ours, theirs = TdxQuote.parse(QUOTE), dcap_qvl.parse_quote(QUOTE)
    for name, _ in _TD_FIELDS:
        assert getattr(ours.body, name) == getattr(theirs.report, name), name
    assert ours.header.qe_vendor_id == theirs.header.qe_vendor_id


def test_encode_reproduces_quote_up_to_zero_padding():
    encoded = TdxQuote.parse(QUOTE).encode()
    assert QUOTE[: len(encoded)] == encoded and not any(QUOTE[len(encoded) :])
    assert TdxQuote.parse(encoded) == TdxQuote.parse(QUOTE)


def test_signed_bytes_are_header_and_td_report():
    assert (
        TdxQuote.parse(QUOTE).signed_bytes == QUOTE[:SIGNED_LEN]
        and SIGNED_LEN == 48 + TD_REPORT_LEN
    )


def test_td_report_field_order_matches_layout():
    assert [f.name for f in dataclasses.fields(TdReport)] == [name for name, _ in _TD_FIELDS]
    assert TD_REPORT_LEN == 584


@pytest.mark.parametrize("length", [0, 47, 48, SIGNED_LEN, SIGNED_LEN + 3, 1000, 4900])
def test_truncated_quote_is_refused(length):
    with pytest.raises(EvidenceFormatError):
        TdxQuote.parse(QUOTE[:length])


@pytest.mark.parametrize(
    ("offset", "value", "match"),
    [
        (0, struct.pack("<H", 3), "not a TDX"),  # version
        (2, struct.pack("<H", 3), "not a TDX"),  # attestation key type
        (4, struct.pack("<I", 0), "not a TDX"),  # SGX, not TDX
        (12, bytes(16), "Intel's quoting enclave"),  # QE vendor id
        (SIGNED_LEN + 4 + 128, struct.pack("<H", 7), "type 7"),  # outer certification data type
        (SIGNED_LEN, struct.pack("<I", 4301), "truncated|unexpected"),  # signature data size
    ],
)
def test_layout_deviations_are_refused(offset, value, match):
    bad = QUOTE[:offset] + value + QUOTE[offset + len(value) :]
    with pytest.raises(EvidenceFormatError, match=match):
        TdxQuote.parse(bad)


def test_non_zero_trailing_bytes_are_refused():
    with pytest.raises(EvidenceFormatError, match="after the end"):
        TdxQuote.parse(QUOTE[:-1] + b"\x01")


def test_td_report_fields_must_have_their_sizes():
    with pytest.raises(EvidenceFormatError, match="mr_td"):
        TdReport(mr_td=bytes(47))


# ---- v5 -------------------------------------------------------------------------------------


def test_parse_real_v5_quote():
    quote = TdxQuote.parse(QUOTE_V5)
    assert quote.version == 5 and type(quote.body) is TdReport15
    assert struct.unpack_from("<HI", QUOTE_V5, 48) == (BODY_TYPE_TD15, TD15_REPORT_LEN)
    assert quote.body.mr_td.hex().startswith("7348651a")
    assert quote.body.report_data.hex().startswith("945eaacf")
    assert quote.body.tee_tcb_svn.hex() == "0b010400000000000000000000000000"
    assert quote.body.tee_tcb_svn2.hex() == "0d010400000000000000000000000000"
    assert quote.body.mr_servicetd == bytes(48)
    assert quote.pck_chain_pem.count(b"BEGIN CERTIFICATE") == 3


def test_parse_real_v5_quote_with_a_service_td():
    body = TdxQuote.parse(QUOTE_V5_SERVICETD).body
    assert isinstance(body, TdReport15)
    assert body.mr_servicetd.hex().startswith("383c87d3bbb047b2") and any(body.mr_servicetd)
    assert body.mr_td.hex().startswith("dfba221b")


@pytest.mark.parametrize("raw", V5_QUOTES)
def test_v5_parse_agrees_with_dcap_qvl(raw):
    ours, theirs = TdxQuote.parse(raw), dcap_qvl.parse_quote(raw)
    assert theirs.header.version == 5
    for name, _ in _TD_FIELDS:
        assert getattr(ours.body, name) == getattr(theirs.report, name), name
    assert ours.body.tee_tcb_svn2 == theirs.report.tee_tcb_svn2
    assert ours.body.mr_servicetd == theirs.report.mr_service_td


@pytest.mark.parametrize("raw", V5_QUOTES)
def test_v5_encode_reproduces_quote(raw):
    parsed = TdxQuote.parse(raw)
    assert parsed.encode() == raw and TdxQuote.parse(parsed.encode()) == parsed
    assert parsed.signed_bytes == raw[:SIGNED_LEN_V5_TD15] and SIGNED_LEN_V5_TD15 == 702


def test_td15_report_layout():
    names = [f.name for f in dataclasses.fields(TdReport15)]
    assert names == [name for name, _ in _TD_FIELDS + _TD15_EXTRA_FIELDS]
    assert TD15_REPORT_LEN == 648 and TdReport15.encoded_len() == 648
    body = TdxQuote.parse(QUOTE_V5).body
    assert body.encode()[584:600] == body.tee_tcb_svn2
    assert body.encode()[600:648] == body.mr_servicetd


def test_v5_with_a_td10_body_round_trips():
    """A v5 quote may carry a TD 1.0 report (type 2); it is signed over header ‖ descriptor ‖
    body."""
    v4 = TdxQuote.parse(QUOTE)
    v5 = dataclasses.replace(v4, header=dataclasses.replace(v4.header, version=5))
    raw = v5.encode()
    assert struct.unpack_from("<HI", raw, 48) == (BODY_TYPE_TD10, TD_REPORT_LEN)
    assert len(v5.signed_bytes) == SIGNED_LEN_V5_TD10 == 638
    parsed = TdxQuote.parse(raw)
    assert parsed == v5 and type(parsed.body) is TdReport


def _with(raw: bytes, offset: int, value: bytes) -> bytes:
    return raw[:offset] + value + raw[offset + len(value) :]


@pytest.mark.parametrize(
    ("offset", "value", "match"),
    [
        (0, struct.pack("<H", 6), "not a TDX"),  # version 6
        (4, struct.pack("<I", 0), "not a TDX"),  # SGX, not TDX
        (48, struct.pack("<H", 1), "SGX enclave report"),  # body type 1: an SGX report
        (48, struct.pack("<H", 4), "unknown v5 quote body type 4"),
        (48, struct.pack("<H", 0), "unknown v5 quote body type 0"),
        (48, struct.pack("<H", BODY_TYPE_TD10), "declares 648 bytes, not 584"),  # type/size clash
        (50, struct.pack("<I", 584), "declares 584 bytes, not 648"),
        (50, struct.pack("<I", 649), "declares 649 bytes"),
        (50, struct.pack("<I", 2**32 - 1), "declares"),
        (SIGNED_LEN_V5_TD15, struct.pack("<I", 4299), "unexpected|type"),  # signature data size
        (SIGNED_LEN_V5_TD15 + 4 + 128, struct.pack("<H", 5), "type 5"),  # QE cert data type
    ],
)
def test_v5_layout_deviations_are_refused(offset, value, match):
    with pytest.raises(EvidenceFormatError, match=match):
        TdxQuote.parse(_with(QUOTE_V5, offset, value))


def test_v5_with_an_sgx_enclave_body_of_its_size_is_refused():
    raw = QUOTE_V5[:48] + struct.pack("<HI", 1, 384) + QUOTE_V5[54 : 54 + 384] + QUOTE_V5[702:]
    with pytest.raises(EvidenceFormatError, match="SGX enclave report"):
        TdxQuote.parse(raw)


def test_a_v4_header_over_a_v5_body_is_refused():
    with pytest.raises(EvidenceFormatError):
        TdxQuote.parse(_with(QUOTE_V5, 0, struct.pack("<H", 4)))
    with pytest.raises(EvidenceFormatError):
        TdxQuote.parse(_with(QUOTE, 0, struct.pack("<H", 5)))


@pytest.mark.parametrize(
    "length", [0, 47, 48, 50, 53, 54, 600, 701, SIGNED_LEN_V5_TD15, 705, 706, 1000, 5005]
)
def test_truncated_v5_quote_is_refused(length):
    with pytest.raises(EvidenceFormatError):
        TdxQuote.parse(QUOTE_V5[:length])


def test_v5_trailing_bytes():
    assert TdxQuote.parse(QUOTE_V5 + bytes(100)) == TdxQuote.parse(QUOTE_V5)
    with pytest.raises(EvidenceFormatError, match="after the end"):
        TdxQuote.parse(QUOTE_V5 + b"\x00\x01")


def test_quote_objects_must_be_consistent():
    v4 = TdxQuote.parse(QUOTE)
    with pytest.raises(EvidenceFormatError, match="TD 1.0 report only"):
        dataclasses.replace(v4, body=TdxQuote.parse(QUOTE_V5).body)
    with pytest.raises(EvidenceFormatError, match="not 4 or 5"):
        dataclasses.replace(v4, header=QuoteHeader(version=3))
    with pytest.raises(EvidenceFormatError, match="mr_servicetd"):
        TdReport15(mr_servicetd=bytes(47))
