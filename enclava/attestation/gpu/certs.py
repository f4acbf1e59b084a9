"""X.509 chains of NVIDIA GPU attestation, verified offline: the device chain and RIM signer chains.

A chain is leaf first, root last, exactly as NVML and the RIMs carry it. :func:`verify_chain`
checks, in order: the last certificate is byte-for-byte the pinned root; each certificate's issuer
name is the next one's subject and its ECDSA signature verifies with the next one's key; every
issuer is a CA (basicConstraints cA and keyCertSign); every certificate is valid at ``now``. The
error classes are parameters so the device chain and the RIM chains refuse with their own errors.

The device leaf is the GPU firmware's (GSP FMC) attestation key; :func:`verify_spdm_signature`
checks its ECDSA P-384 / SHA-384 signature over request ‖ response-without-signature, and
:func:`leaf_chip` / :func:`leaf_has_fwid` read what the chain — not the report — says about it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

from enclava.attestation.errors import (
    CollateralExpiredError,
    EvidenceSignatureError,
    UntrustedRootError,
)
from enclava.attestation.gpu.errors import (
    GpuCertificateChainError,
    GpuCertificateExpiredError,
    GpuCertificateFormatError,
    GpuDeviceRootError,
    GpuReportSignatureError,
    GpuUnsupportedError,
)
from enclava.attestation.gpu.spdm import SIGNATURE_SIZE

__all__ = [
    "MAX_CHAIN_LENGTH",
    "check_decodable",
    "NVIDIA_DEVICE_SAN_OID",
    "TCG_DICE_TCB_INFO_OID",
    "load_pem_chain",
    "verify_chain",
    "verify_device_chain",
    "verify_spdm_signature",
    "leaf_chip",
    "leaf_has_fwid",
]

MAX_CHAIN_LENGTH = 8
NVIDIA_DEVICE_SAN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.412.274.1")  # "NVIDIA:<chip>:<ueid>"
TCG_DICE_TCB_INFO_OID = x509.ObjectIdentifier("2.23.133.5.4.1")  # DICE TcbInfo: carries the FWID


def check_decodable(cert: x509.Certificate) -> None:
    """Read every field this package uses once: ``cryptography`` decodes certificates lazily, so
    a malformed field would otherwise surface as a ValueError deep inside a later check."""
    cert.subject.rfc4514_string()
    cert.issuer.rfc4514_string()
    _ = (cert.serial_number, cert.signature, cert.tbs_certificate_bytes, cert.public_key())
    _ = (cert.not_valid_before_utc, cert.not_valid_after_utc, cert.signature_hash_algorithm)
    _ = list(cert.extensions)


def load_pem_chain(pem: bytes) -> tuple[x509.Certificate, ...]:
    try:
        chain = tuple(x509.load_pem_x509_certificates(pem))
        for cert in chain:
            check_decodable(cert)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise GpuCertificateFormatError(f"GPU certificate chain is not valid PEM: {exc}") from exc
    if not 2 <= len(chain) <= MAX_CHAIN_LENGTH:
        raise GpuCertificateFormatError(
            f"GPU certificate chain has {len(chain)} certificates, not 2..{MAX_CHAIN_LENGTH}"
        )
    return chain


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _check_signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    """``cert``'s signature by ``issuer``'s ECDSA key; raises InvalidSignature or ValueError."""
    key = issuer.public_key()
    algorithm = cert.signature_hash_algorithm
    if not isinstance(key, ec.EllipticCurvePublicKey) or algorithm is None:
        raise ValueError("not an ECDSA certificate")
    key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algorithm))


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    return constraints.ca and usage.key_cert_sign


def verify_chain(
    chain: Sequence[x509.Certificate],
    root_der: bytes,
    now: int,
    *,
    what: str,
    root_error: type[UntrustedRootError],
    chain_error: type[EvidenceSignatureError],
    expired_error: type[CollateralExpiredError],
) -> None:
    """Refuse unless ``chain`` (leaf first) ends in ``root_der`` and is sound at ``now``."""
    if len(chain) < 2:
        raise chain_error(f"{what} chain has no issuer")
    if _der(chain[-1]) != root_der:
        raise root_error(
            f"{what} chain ends in {chain[-1].subject.rfc4514_string()!r}, not the pin"
        )
    for cert, issuer in zip(chain, chain[1:], strict=False):
        if cert.issuer != issuer.subject:
            raise chain_error(
                f"{what}: {cert.subject.rfc4514_string()!r} is not issued by "
                f"{issuer.subject.rfc4514_string()!r}"
            )
        if not _is_ca(issuer):
            raise chain_error(f"{what}: issuer {issuer.subject.rfc4514_string()!r} is not a CA")
        try:
            _check_signed_by(cert, issuer)
        except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise chain_error(
                f"{what}: signature of {cert.subject.rfc4514_string()!r} does not verify"
            ) from exc
    try:
        _check_signed_by(chain[-1], chain[-1])
    except (
        InvalidSignature,
        ValueError,
        TypeError,
        UnsupportedAlgorithm,
    ) as exc:  # pragma: no cover - pinned root
        raise root_error(f"{what}: root is not self-signed") from exc
    instant = dt.datetime.fromtimestamp(now, tz=dt.timezone.utc)
    for cert in chain:
        if not cert.not_valid_before_utc <= instant <= cert.not_valid_after_utc:
            start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
            raise expired_error(
                f"{what}: {cert.subject.rfc4514_string()!r} is valid {start.isoformat()} to "
                f"{end.isoformat()}, not at {instant.isoformat()}"
            )


def verify_device_chain(
    chain: Sequence[x509.Certificate], root_der: bytes, now: int
) -> x509.Certificate:
    """The GPU attestation chain to the pinned device root; returns its P-384 leaf."""
    verify_chain(
        chain,
        root_der,
        now,
        what="GPU device",
        root_error=GpuDeviceRootError,
        chain_error=GpuCertificateChainError,
        expired_error=GpuCertificateExpiredError,
    )
    leaf = chain[0]
    try:
        key = leaf.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise GpuCertificateChainError("GPU attestation key cannot be read") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
        raise GpuCertificateChainError("GPU attestation key is not ECDSA P-384")
    if _is_ca(leaf):
        raise GpuCertificateChainError("GPU attestation leaf is a CA certificate")
    return leaf


def verify_spdm_signature(leaf: x509.Certificate, signed: bytes, signature: bytes) -> None:
    """ECDSA P-384 / SHA-384 over request ‖ response-without-signature; r ‖ s big endian."""
    if len(signature) != SIGNATURE_SIZE:
        raise GpuReportSignatureError("SPDM signature is not 96 bytes")
    half = SIGNATURE_SIZE // 2
    r = int.from_bytes(signature[:half], "big")
    s = int.from_bytes(signature[half:], "big")
    key = leaf.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):  # pragma: no cover - checked by the chain
        raise GpuReportSignatureError("GPU attestation key is not ECDSA")
    try:
        key.verify(encode_dss_signature(r, s), signed, ec.ECDSA(hashes.SHA384()))
    except (InvalidSignature, ValueError) as exc:
        raise GpuReportSignatureError(
            "SPDM measurement report is not signed by the GPU attestation key"
        ) from exc


def leaf_chip(leaf: x509.Certificate) -> str:
    """The chip named by the leaf's NVIDIA otherName SAN ``NVIDIA:<chip>:<ueid>`` (e.g. GH100)."""
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError) as exc:
        raise GpuUnsupportedError("GPU attestation leaf has no NVIDIA device name") from exc
    for name in names.get_values_for_type(x509.OtherName):
        if name.type_id != NVIDIA_DEVICE_SAN_OID:
            continue
        value = name.value  # DER UTF8String: tag 0x0c, short length, text
        if len(value) < 2 or value[0] != 0x0C or value[1] != len(value) - 2:
            raise GpuUnsupportedError("GPU attestation leaf's NVIDIA device name is malformed")
        try:
            parts = value[2:].decode("ascii").split(":")
        except UnicodeDecodeError as exc:
            raise GpuUnsupportedError("GPU device name is not ASCII") from exc
        if len(parts) < 2 or parts[0] != "NVIDIA" or not parts[1].isalnum():
            raise GpuUnsupportedError("GPU attestation leaf's NVIDIA device name is malformed")
        return parts[1]
    raise GpuUnsupportedError("GPU attestation leaf has no NVIDIA device name")


def leaf_has_fwid(leaf: x509.Certificate, fwid: bytes) -> bool:
    """Whether the leaf's DICE TcbInfo extension carries ``fwid`` as an OCTET STRING digest."""
    try:
        extension = leaf.extensions.get_extension_for_oid(TCG_DICE_TCB_INFO_OID).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    if not isinstance(extension, x509.UnrecognizedExtension) or not 0 < len(fwid) < 128:
        return False
    return bytes([0x04, len(fwid)]) + fwid in extension.value
