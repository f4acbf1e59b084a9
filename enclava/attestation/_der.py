"""The few DER encoders the development PKIs need (Intel's SGX extension, NVIDIA's GPU ones).

``cryptography`` writes standard X.509 extensions itself, but the SGX extension
(OID 1.2.840.113741.1.13.1) is Intel-specific, so its value is assembled here: a SEQUENCE of
``SEQUENCE { OID, value }`` pairs, some values nested the same way.
"""

from __future__ import annotations

__all__ = [
    "tlv",
    "sequence",
    "oid",
    "integer",
    "octet_string",
    "enumerated",
    "boolean",
    "oid_pair",
]


def tlv(tag: int, content: bytes) -> bytes:
    """One DER element: ``tag``, the definite length, ``content``."""
    size = len(content)
    if size < 0x80:
        length = bytes([size])
    else:
        raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def sequence(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def oid(dotted: str) -> bytes:
    arcs = [int(part) for part in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(0x06, bytes(body))


def _signed_minimal(value: int) -> bytes:
    if value < 0:
        raise ValueError("only non-negative integers are needed here")
    return value.to_bytes(
        value.bit_length() // 8 + 1, "big"
    )  # leading 0x00 keeps the sign bit clear


def integer(value: int) -> bytes:
    return tlv(0x02, _signed_minimal(value))


def enumerated(value: int) -> bytes:
    return tlv(0x0A, _signed_minimal(value))


def octet_string(value: bytes) -> bytes:
    return tlv(0x04, value)


def boolean(value: bool) -> bytes:
    return tlv(0x01, b"\xff" if value else b"\x00")


def oid_pair(dotted: str, value: bytes) -> bytes:
    """``SEQUENCE { OBJECT IDENTIFIER dotted, value }``: the shape of every SGX extension entry."""
    return sequence(oid(dotted), value)
