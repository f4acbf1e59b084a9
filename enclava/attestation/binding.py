"""report_data binding: how a quote proves it was made for *this* CA request and *this* enclave key.

``report_data = SHA-512(REPORT_DATA_DOMAIN ‖ nonce ‖ SPKI-DER(enclave public key))`` fills the
64-byte report_data field of both TDX and SEV-SNP. The domain tag keeps these hashes from ever
colliding with another use of report_data; the nonce has a fixed length, so the concatenation is
unambiguous; the key goes in as SubjectPublicKeyInfo DER, which names the algorithm as well.
The enclave (producer) and the CA (verifier) both call :func:`bind_report_data`.

An enclave with confidential GPUs binds them too, under a second domain tag:
``report_data = SHA-512(REPORT_DATA_DOMAIN_V2 ‖ nonce ‖ gpu_digest ‖ SPKI-DER)``, where
``gpu_digest`` is the 32-byte :func:`enclava.attestation.gpu.evidence.gpu_evidence_digest` of the
evidence's ``gpus`` (whose SPDM reports sign the same CA nonce). Every part before the key has a
fixed length, so the preimage stays unambiguous, and the separate tag keeps a v2 binding from ever
equalling a v1 one: a CPU-only report cannot be passed off as one that vouches for GPUs, nor the
reverse. Without GPUs the binding is v1, byte for byte as before.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from enclava.attestation.errors import EvidenceFormatError

__all__ = [
    "REPORT_DATA_DOMAIN",
    "REPORT_DATA_DOMAIN_V2",
    "GPU_DIGEST_LENGTH",
    "NONCE_LENGTH",
    "REPORT_DATA_LENGTH",
    "bind_report_data",
    "report_data_matches",
]

REPORT_DATA_DOMAIN = b"enclava/attestation/report-data/v1\x00"
REPORT_DATA_DOMAIN_V2 = b"enclava/attestation/report-data/v2-gpu\x00"
NONCE_LENGTH = 32
GPU_DIGEST_LENGTH = 32
REPORT_DATA_LENGTH = 64


def bind_report_data(
    nonce: bytes, enclave_public_key_der: bytes, gpu_digest: bytes | None = None
) -> bytes:
    """The 64 bytes an enclave must put in report_data for ``nonce`` and its public key, and, when
    it has GPUs, the digest of their evidence (``gpu_digest``; None: no GPU, the v1 binding)."""
    if not isinstance(nonce, bytes) or len(nonce) != NONCE_LENGTH:
        raise EvidenceFormatError(f"the CA nonce must be exactly {NONCE_LENGTH} bytes")
    _check_spki(enclave_public_key_der)
    if gpu_digest is None:
        return hashlib.sha512(REPORT_DATA_DOMAIN + nonce + enclave_public_key_der).digest()
    if not isinstance(gpu_digest, bytes) or len(gpu_digest) != GPU_DIGEST_LENGTH:
        raise EvidenceFormatError(
            f"the GPU evidence digest must be exactly {GPU_DIGEST_LENGTH} bytes"
        )
    return hashlib.sha512(
        REPORT_DATA_DOMAIN_V2 + nonce + gpu_digest + enclave_public_key_der
    ).digest()


def report_data_matches(
    report_data: bytes,
    nonce: bytes,
    enclave_public_key_der: bytes,
    gpu_digest: bytes | None = None,
) -> bool:
    """Constant-time comparison of a quote's report_data with the expected binding."""
    expected = bind_report_data(nonce, enclave_public_key_der, gpu_digest)
    return isinstance(report_data, bytes) and hmac.compare_digest(report_data, expected)


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
