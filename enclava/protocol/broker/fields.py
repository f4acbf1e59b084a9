"""Field types of the broker's requests, each normalized to one spelling before anything compares,
hashes or signs it: lowercase hex, ``0x`` on addresses and bytes32 values, none on measurements.

The plain ``normalize_*`` functions raise ``ValueError`` (pydantic turns it into a validation error;
the CA's broker turns it into its ``BrokerRequestInvalid``). The annotated types use them as
validators.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer, WithJsonSchema

__all__ = [
    "UINT256_MAX",
    "MAX_CIPHERTEXT_BYTES",
    "normalize_uint256",
    "normalize_address",
    "normalize_bytes32",
    "normalize_measurement",
    "normalize_order_id",
    "normalize_serial",
    "ResourceIdField",
    "Address",
    "Bytes32Hex",
    "MeasurementHex",
    "SignatureHex",
    "UnixTime",
    "Base64Blob",
]

UINT256_MAX = 2**256 - 1
MAX_CIPHERTEXT_BYTES = 64 * 1024  # an age-wrapped resource key is a few hundred bytes

_HEX = re.compile(r"^[0-9a-f]*$")


def normalize_uint256(value: Any) -> int:
    """An int (or decimal string) in 0 .. 2**256-1; bools and floats are refused."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 78:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= UINT256_MAX:
        raise ValueError("expected an unsigned 256-bit integer")
    return value


def _hex(value: Any, what: str, *, prefixed: bool) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a hex string")
    text = value.strip().lower()
    if text.startswith("0x"):
        text = text[2:]
    elif prefixed:
        raise ValueError(f"{what} must start with 0x")
    if not _HEX.match(text):
        raise ValueError(f"{what} must be hex")
    return text


def normalize_address(value: Any) -> str:
    text = _hex(value, "an address", prefixed=True)
    if len(text) != 40:
        raise ValueError("an address is 20 bytes (0x + 40 hex digits)")
    return "0x" + text


def normalize_bytes32(value: Any) -> str:
    text = _hex(value, "a bytes32 value", prefixed=True)
    if len(text) != 64:
        raise ValueError("a bytes32 value is 0x + 64 hex digits")
    return "0x" + text


def normalize_measurement(value: Any) -> str:
    text = _hex(value, "a measurement", prefixed=False)
    if not text or len(text) % 2 or len(text) > 256:
        raise ValueError("a measurement is 1 to 128 bytes of hex")
    return text


def normalize_order_id(value: Any) -> str:
    """Order ids are bytes32 on chain (``keccak256(abi.encode(terms))``); an int is a uint256."""
    if isinstance(value, int) and not isinstance(value, bool):
        return "0x" + format(normalize_uint256(value), "064x")
    return normalize_bytes32(value)


def normalize_serial(value: Any) -> str:
    """A certificate serial: an int, or hex (with or without 0x); lowercase, no leading zeros."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = _hex(value, "a certificate serial", prefixed=False)
        number = int(text, 16) if text else -1
    if not 0 <= number < 2**160:
        raise ValueError("a certificate serial is a positive integer of at most 20 bytes")
    return format(number, "x")


def _base64(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as exc:
            raise ValueError("expected base64") from exc
    raise ValueError("expected bytes or a base64 string")


def _signature(value: Any) -> str:
    text = _hex(value, "a signature", prefixed=True)
    if len(text) != 130:
        raise ValueError("a wallet signature is 65 bytes (0x + 130 hex digits)")
    return "0x" + text


ResourceIdField = Annotated[
    int,
    BeforeValidator(normalize_uint256),
    WithJsonSchema({"type": "integer", "minimum": 0, "description": "uint256 resource id"}),
]
Address = Annotated[str, BeforeValidator(normalize_address)]
Bytes32Hex = Annotated[str, BeforeValidator(normalize_bytes32)]
MeasurementHex = Annotated[str, BeforeValidator(normalize_measurement)]
SignatureHex = Annotated[str, BeforeValidator(_signature)]
UnixTime = Annotated[int, Field(ge=0, lt=2**63, strict=True)]
Base64Blob = Annotated[
    bytes,
    BeforeValidator(_base64),
    Field(min_length=1, max_length=MAX_CIPHERTEXT_BYTES),
    PlainSerializer(
        lambda raw: base64.b64encode(raw).decode("ascii"), return_type=str, when_used="json"
    ),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]
