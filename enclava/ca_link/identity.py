"""Who the CA is, and how its own attestation binds that to one fresh request.

``GET /v1/ca?nonce=N`` answers the CA's public identity and TEE evidence whose report_data is
:func:`bind_ca_identity`::

    SHA-512(CA_IDENTITY_DOMAIN ‖ N ‖ SHA-256(canonical JSON of {
        "ca_id", "ca_certificate_spki_sha256", "signer_address" (checksummed),
        "age_recipient", "tls_spki_sha256"}))

So the hardware vouches, for this nonce only, that the code it measured holds the TLS key the
client is talking to, signs with ``signer_address`` and unwraps keys for ``age_recipient``. Keys go
in as the SHA-256 (hex) of their SubjectPublicKeyInfo DER. The CA (producer) and every client
(verifier) call the same function.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from eth_utils.address import is_address, to_checksum_address

from enclava.attestation.errors import EvidenceFormatError
from enclava.attestation.evidence import Evidence
from enclava.ca_link.errors import CaIdentityMalformed
from enclava.protocol.canonical import canonical_json

__all__ = ["CA_IDENTITY_DOMAIN", "CA_NONCE_BYTES", "CaIdentity", "bind_ca_identity", "spki_sha256"]

CA_IDENTITY_DOMAIN = b"enclava/ca-identity/report-data/v1\x00"
CA_NONCE_BYTES = 32
_FIELDS = (
    "ca_id",
    "ca_certificate_pem",
    "signer_address",
    "age_recipient",
    "tls_certificate_pem",
    "evidence",
)


def spki_sha256(certificate: x509.Certificate | str | bytes) -> str:
    """SHA-256 (hex) of a certificate's SubjectPublicKeyInfo DER; PEM text or DER bytes accepted."""
    try:
        if isinstance(certificate, str):
            certificate = x509.load_pem_x509_certificate(certificate.encode("ascii"))
        elif isinstance(certificate, bytes):
            certificate = x509.load_der_x509_certificate(certificate)
        spki = certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise CaIdentityMalformed("a CA certificate is not a valid X.509 certificate") from exc
    return hashlib.sha256(spki).hexdigest()


@dataclass(frozen=True)
class CaIdentity:
    """The CA's public identity as ``GET /v1/ca`` answers it (``evidence``: None without a
    nonce)."""

    ca_id: str
    ca_certificate_pem: str
    signer_address: str
    age_recipient: str
    tls_certificate_pem: str
    evidence: Evidence | None = None

    @property
    def ca_certificate_spki_sha256(self) -> str:
        return spki_sha256(self.ca_certificate_pem)

    @property
    def tls_spki_sha256(self) -> str:
        return spki_sha256(self.tls_certificate_pem)

    def binding_fields(self) -> dict[str, str]:
        """What the CA's evidence vouches for (the input of :func:`bind_ca_identity`)."""
        if not is_address(self.signer_address):
            raise CaIdentityMalformed("the CA's signer address is not an address")
        return {
            "ca_id": self.ca_id,
            "ca_certificate_spki_sha256": self.ca_certificate_spki_sha256,
            "signer_address": to_checksum_address(self.signer_address),
            "age_recipient": self.age_recipient,
            "tls_spki_sha256": self.tls_spki_sha256,
        }

    def to_json(self) -> dict[str, Any]:
        evidence = None if self.evidence is None else json.loads(self.evidence.to_json())
        return {
            "ca_id": self.ca_id,
            "ca_certificate_pem": self.ca_certificate_pem,
            "signer_address": self.signer_address,
            "age_recipient": self.age_recipient,
            "tls_certificate_pem": self.tls_certificate_pem,
            "evidence": evidence,
        }

    @classmethod
    def from_json(cls, data: object) -> CaIdentity:
        """Parse a ``/v1/ca`` answer strictly (exact fields, strings, evidence in its envelope)."""
        if not isinstance(data, dict) or set(data) != set(_FIELDS):
            raise CaIdentityMalformed(f"the CA identity has exactly the fields {sorted(_FIELDS)}")
        if not all(isinstance(data[name], str) and data[name] for name in _FIELDS[:-1]):
            raise CaIdentityMalformed("the CA identity's fields are non-empty strings")
        try:
            evidence = None if data["evidence"] is None else Evidence.from_dict(data["evidence"])
        except EvidenceFormatError as exc:
            raise CaIdentityMalformed(f"the CA's evidence is malformed: {exc.message}") from exc
        identity = cls(**{name: data[name] for name in _FIELDS[:-1]}, evidence=evidence)
        identity.binding_fields()  # every certificate parses and the signer is an address
        return identity


def bind_ca_identity(nonce: bytes, identity: CaIdentity) -> bytes:
    """The 64 bytes the CA's report_data must hold for ``nonce`` (32 bytes) and ``identity``."""
    if not isinstance(nonce, bytes) or len(nonce) != CA_NONCE_BYTES:
        raise EvidenceFormatError(f"the CA identity nonce must be exactly {CA_NONCE_BYTES} bytes")
    digest = hashlib.sha256(canonical_json(identity.binding_fields())).digest()
    return hashlib.sha512(CA_IDENTITY_DOMAIN + nonce + digest).digest()
