"""The two certificates of a service statement, read and checked on the client's side.

- the TLS certificate: P-256, self-signed (its own signature verifies), the very one the server
  presented, and the statement's ``tls_spki_sha256`` is its key's;
- the enclave certificate: issued by the attested CA (signature and issuer), valid now, its
  secp256k1 key the statement's ``enclave`` address; its Enclava extensions
  (:mod:`enclava.protocol.csr`) give the TEE type, measurement, provider and whether it is
  simulated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from eth_utils.address import to_checksum_address

from enclava.client.serving.errors import EnclaveCertificateRefused, TlsKeyNotBound
from enclava.errors import EnclavaError
from enclava.protocol.csr import ENCLAVA_OIDS, enclave_address_of
from enclava.protocol.serving import certificate_spki_sha256

__all__ = ["CertifiedFacts", "check_tls_certificate", "read_enclave_certificate"]


@dataclass(frozen=True)
class CertifiedFacts:
    """What the CA's certificate of the enclave key vouches for."""

    enclave: str
    tee_type: int
    measurement: bytes
    provider: str
    simulated: bool
    not_after: int


def _verify_signed_by(cert: x509.Certificate, issuer_key: object) -> None:
    if (
        not isinstance(issuer_key, ec.EllipticCurvePublicKey)
        or cert.signature_hash_algorithm is None
    ):
        raise ValueError("unsupported signature algorithm")
    issuer_key.verify(
        cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm)
    )


def check_tls_certificate(pem: str, *, presented_der: bytes, spki_sha256: str) -> None:
    """:class:`TlsKeyNotBound` unless ``pem`` is what the server presented, P-256, self-signed,
    with the SPKI hash the statement names."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
        der = cert.public_bytes(serialization.Encoding.DER)
        key = cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(
            key.curve, ec.SECP256R1
        ):
            raise TlsKeyNotBound("the statement's TLS certificate is not a P-256 key")
        _verify_signed_by(cert, key)
    except EnclavaError:
        raise
    except (
        ValueError,
        TypeError,
        UnicodeEncodeError,
        InvalidSignature,
        UnsupportedAlgorithm,
    ) as exc:
        raise TlsKeyNotBound(
            f"the statement's TLS certificate is not self-signed X.509 ({type(exc).__name__})"
        ) from exc
    if der != presented_der:
        raise TlsKeyNotBound("the server presented another TLS certificate than the statement's")
    if certificate_spki_sha256(pem) != spki_sha256:
        raise TlsKeyNotBound("the statement's tls_spki_sha256 is not its certificate's key")


def _extension(cert: x509.Certificate, name: str) -> bytes:
    value = cert.extensions.get_extension_for_oid(ENCLAVA_OIDS[name]).value
    if not isinstance(value, x509.UnrecognizedExtension):
        raise ValueError(f"the {name} extension is not Enclava's")
    return value.value


def read_enclave_certificate(pem: str, *, ca_certificate_pem: str, now: int) -> CertifiedFacts:
    """The facts of ``pem`` once it verifies under the CA (:class:`EnclaveCertificateRefused`)."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
        ca = x509.load_pem_x509_certificate(ca_certificate_pem.encode("ascii"))
        _verify_signed_by(cert, ca.public_key())
        if cert.issuer != ca.subject:
            raise EnclaveCertificateRefused("the enclave certificate names another issuer")
        when = dt.datetime.fromtimestamp(now, dt.timezone.utc)
        if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
            raise EnclaveCertificateRefused("the enclave certificate is expired or not yet valid")
        key = cert.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ValueError("the certified key is not an EC key")
        tee_type = _extension(cert, "tee_type")
        if len(tee_type) != 1:
            raise ValueError("the tee_type extension is not one byte")
        return CertifiedFacts(
            enclave=enclave_address_of(key),
            tee_type=tee_type[0],
            measurement=_extension(cert, "measurement"),
            provider=str(to_checksum_address("0x" + _extension(cert, "provider_address").hex())),
            simulated=_extension(cert, "simulated") == b"\x01",
            not_after=int(cert.not_valid_after_utc.timestamp()),
        )
    except EnclavaError as exc:
        if isinstance(exc, EnclaveCertificateRefused):
            raise
        raise EnclaveCertificateRefused(
            f"the enclave certificate is refused: {exc.message}"
        ) from exc
    except (
        ValueError,
        TypeError,
        IndexError,
        UnicodeEncodeError,
        InvalidSignature,
        UnsupportedAlgorithm,
        x509.ExtensionNotFound,
    ) as exc:
        raise EnclaveCertificateRefused(
            f"the enclave certificate does not verify under the attested CA ({type(exc).__name__})"
        ) from exc
