"""TdxQuote: the v4 layout, parsed strictly and re-encoded byte for byte."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import dcap_qvl
import pytest

from enclava.attestation import EvidenceFormatError, TdReport, TdxQuote
from enclava.attestation.tdx_quote import _TD_FIELDS, SIGNED_LEN, TD_REPORT_LEN

QUOTE = (
    Path(__file__).resolve().parents[1] / "fixtures" / "attestation" / "tdx" / "tdx_quote"
).read_bytes()


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
