"""report_data binding: how a quote proves it was made for *this* CA request and *this* enclave key.

``report_data = SHA-512(REPORT_DATA_DOMAIN ‖ nonce ‖ SPKI-DER(enclave public key))`` fills the
64-byte report_data field of both TDX and SEV-SNP. The domain tag keeps these hashes from ever
colliding with another use of report_data; the nonce has a fixed length, so the concatenation is
unambiguous; the key goes in as SubjectPublicKeyInfo DER, which names the algorithm as well.
The enclave (producer) and the CA (verifier) both call :func:`bind_report_data`.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from enclava.attestation.errors import EvidenceFormatError

__all__ = [
    "REPORT_DATA_DOMAIN",
    "NONCE_LENGTH",
    "REPORT_DATA_LENGTH",
    "bind_report_data",
    "report_data_matches",
]

REPORT_DATA_DOMAIN = b"enclava/attestation/report-data/v1\x00"
NONCE_LENGTH = 32
REPORT_DATA_LENGTH = 64


def bind_report_data(nonce: bytes, enclave_public_key_der: bytes) -> bytes:
    """The 64 bytes an enclave must put in report_data for ``nonce`` and its public key."""
    if not isinstance(nonce, bytes) or len(nonce) != NONCE_LENGTH:
        raise EvidenceFormatError(f"the CA nonce must be exactly {NONCE_LENGTH} bytes")
    _check_spki(enclave_public_key_der)
    return hashlib.sha512(REPORT_DATA_DOMAIN + nonce + enclave_public_key_der).digest()


def report_data_matches(report_data: bytes, nonce: bytes, enclave_public_key_der: bytes) -> bool:
    """Constant-time comparison of a quote's report_data with the expected binding."""
    return hmac.compare_digest(report_data, bind_report_data(nonce, enclave_public_key_der))


def _check_spki(der: bytes) -> None:
    if not isinstance(der, bytes) or not der:
        raise EvidenceFormatError("the enclave public key must be SubjectPublicKeyInfo DER bytes")
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise EvidenceFormatError(
            "the enclave public key is not valid SubjectPublicKeyInfo DER"
        ) from exc
    canonical = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if canonical != der:  # one key, one encoding: no trailing bytes, no alternative forms
        raise EvidenceFormatError("the enclave public key DER is not canonical")
