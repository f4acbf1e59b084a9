"""The little DER the development GPU PKI writes itself: two NVIDIA extensions, OCSP re-signing.

DEVELOPMENT ONLY (used by :mod:`.devpki`, on its own output). ``cryptography`` writes standard
X.509, but the GPU FMC leaf carries two NVIDIA-specific values (the ``NVIDIA:<chip>:<ueid>``
otherName and the DICE TcbInfo extension holding the FWID, laid out as in NVIDIA's
``hopperCertChain.txt``), and ``OCSPResponseBuilder`` stamps ``producedAt`` with the wall clock
and signs with a random ECDSA nonce, so :func:`resign_ocsp` rewrites those two for determinism.
The reader trusts its input: it only ever parses DER that ``cryptography`` just produced.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from enclava.attestation._der import oid, tlv

__all__ = [
    "NVIDIA_DEVICE_SAN_OID",
    "TCG_DICE_TCB_INFO_OID",
    "device_san",
    "resign_ocsp",
    "tcb_info_extension",
]

NVIDIA_DEVICE_SAN_OID = "1.3.6.1.4.1.412.274.1"  # otherName "NVIDIA:<chip>:<ueid>" in the FMC leaf
TCG_DICE_TCB_INFO_OID = "2.23.133.5.4.1"  # the FMC leaf's FWID (compared with the report's)
_SHA384_OID = "2.16.840.1.101.3.4.2.2"


def _read_tlv(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at ``offset`` (input is our own)."""
    tag, first = data[offset], data[offset + 1]
    if first < 0x80:
        return tag, offset + 2, offset + 2 + first
    count = first & 0x7F
    size = int.from_bytes(data[offset + 2 : offset + 2 + count], "big")
    start = offset + 2 + count
    return tag, start, start + size


def _children(data: bytes) -> list[bytes]:
    """The encoded elements inside a constructed element's content."""
    out, offset = [], 0
    while offset < len(data):
        _, _, end = _read_tlv(data, offset)
        out.append(data[offset:end])
        offset = end
    return out


def _content(element: bytes) -> bytes:
    _, start, end = _read_tlv(element, 0)
    return element[start:end]


def tcb_info_extension(
    issuer_key: ec.EllipticCurvePublicKey, fwid: bytes
) -> x509.UnrecognizedExtension:
    """NVIDIA's FMC-leaf extension: ``SEQUENCE { 1, issuer SPKI, SEQUENCE { sha384, FWID } }``."""
    spki = issuer_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    value = tlv(
        0x30,
        tlv(0x02, b"\x01") + spki + tlv(0x30, oid(_SHA384_OID) + tlv(0x04, fwid)),
    )
    return x509.UnrecognizedExtension(x509.ObjectIdentifier(TCG_DICE_TCB_INFO_OID), value)


def device_san(chip: str, ueid: bytes) -> x509.SubjectAlternativeName:
    utf8 = tlv(0x0C, f"NVIDIA:{chip}:{ueid.hex().upper()}".encode("ascii"))
    return x509.SubjectAlternativeName(
        [x509.OtherName(x509.ObjectIdentifier(NVIDIA_DEVICE_SAN_OID), utf8)]
    )


def resign_ocsp(der: bytes, key: ec.EllipticCurvePrivateKey, produced_at: dt.datetime) -> bytes:
    """Set ``producedAt`` and re-sign ``tbsResponseData`` deterministically (layout: RFC 6960)."""
    status, response_bytes = _children(_content(der))
    response_type, basic_octets = _children(_content(_content(response_bytes)))
    tbs, algorithm, _signature, *certs = _children(_content(_content(basic_octets)))
    fields = _children(_content(tbs))
    when = produced_at.strftime("%Y%m%d%H%M%SZ").encode("ascii")
    fields = [tlv(0x18, when) if field[0] == 0x18 else field for field in fields]
    tbs = tlv(0x30, b"".join(fields))
    signature = key.sign(tbs, ec.ECDSA(hashes.SHA384(), deterministic_signing=True))
    basic = tlv(0x30, tbs + algorithm + tlv(0x03, b"\x00" + signature) + b"".join(certs))
    wrapped = tlv(0xA0, tlv(0x30, response_type + tlv(0x04, basic)))
    return tlv(0x30, status + wrapped)
