"""The SPDM parser/encoder on its own: strict structure, exact round trips, typed refusals."""

from __future__ import annotations

import pytest

from enclava.attestation.gpu.errors import SpdmFormatError
from enclava.attestation.gpu.spdm import (
    MeasurementBlock,
    MeasurementRequest,
    MeasurementResponse,
    OpaqueField,
    SpdmReport,
)

NONCE = bytes(range(32))
RESPONSE = MeasurementResponse(
    blocks=(MeasurementBlock(1, b"\x11" * 48), MeasurementBlock(2, b"\x22" * 48)),
    nonce=b"\x33" * 32,
    opaque=(OpaqueField(3, b"550.90.07\x00"), OpaqueField(21, b"\x55")),
)
REPORT = SpdmReport(MeasurementRequest(NONCE), RESPONSE.with_signature(b"\x44" * 96))


def test_request_is_the_37_byte_get_measurements():
    raw = MeasurementRequest(NONCE).encode()
    assert raw == bytes.fromhex("11e001ff") + NONCE + b"\x00" and len(raw) == 37
    assert MeasurementRequest.parse(raw) == MeasurementRequest(NONCE)


def test_response_layout_and_round_trip():
    signed = RESPONSE.signed_bytes()
    assert signed[:8] == bytes.fromhex("1160000002") + (2 * 55).to_bytes(3, "little")
    assert signed[8:12] == bytes.fromhex("01013300") and signed[12:15] == bytes.fromhex("013000")
    raw = REPORT.encode()
    assert raw == REPORT.request.encode() + signed + b"\x44" * 96
    assert SpdmReport.parse(raw) == REPORT
    assert REPORT.signed_bytes() == raw[:-96]


def test_unsigned_response_cannot_be_encoded():
    with pytest.raises(SpdmFormatError):
        RESPONSE.encode()
    with pytest.raises(SpdmFormatError):
        RESPONSE.with_signature(b"\x00" * 95)


@pytest.mark.parametrize(
    "build",
    [
        lambda: MeasurementRequest(b"short"),
        lambda: MeasurementRequest(NONCE, slot=256),
        lambda: MeasurementBlock(256, b""),
        lambda: MeasurementBlock(1, "text"),  # type: ignore[arg-type]
        lambda: OpaqueField(1 << 16, b""),
        lambda: MeasurementResponse((MeasurementBlock(1, b""),) * 2, NONCE, ()),
        lambda: MeasurementResponse((), NONCE, (OpaqueField(3, b""),) * 2),
        lambda: MeasurementResponse((), b"short", ()),
        lambda: MeasurementResponse([], NONCE, ()),  # type: ignore[arg-type]
    ],
)
def test_constructors_refuse_what_cannot_be_encoded(build):
    with pytest.raises(SpdmFormatError):
        build()


def _raw() -> bytearray:
    return bytearray(REPORT.encode())


def _mutated(offset: int, value: int) -> bytes:
    raw = _raw()
    raw[offset] = value
    return bytes(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        bytes(_raw()[:36]),
        _mutated(1, 0xE1),  # request code
        _mutated(37 + 1, 0x61),  # response code
        _mutated(37 + 4, 3),  # number of blocks: one more than there are
        _mutated(37 + 4, 1),  # one fewer: record has trailing bytes
        _mutated(37 + 8 + 1, 0x02),  # measurement specification not DMTF
        _mutated(37 + 8 + 2, 0x34),  # measurement size larger than its value
        _mutated(37 + 8 + 5, 0x31),  # DMTF value size larger than the block
        bytes(_raw()[:-1]),
        bytes(_raw()) + b"\x00",
    ],
)
def test_parser_refuses_malformed_reports(raw):
    with pytest.raises(SpdmFormatError):
        SpdmReport.parse(raw)


def test_parser_refuses_a_truncated_opaque_field_and_duplicates():
    opaque = OpaqueField(3, b"abc").encode()
    for bad in (opaque[:-1], opaque + opaque):
        body = (
            bytes.fromhex("1160000000")
            + b"\x00\x00\x00"
            + b"\x33" * 32
            + len(bad).to_bytes(2, "little")
            + bad
            + b"\x44" * 96
        )
        with pytest.raises(SpdmFormatError):
            MeasurementResponse.parse(body)
    with pytest.raises(SpdmFormatError):
        SpdmReport.parse("not bytes")  # type: ignore[arg-type]
