"""OCSP for the GPU's chains, from responses the provider supplied (the CA never fetches any).

NVIDIA's responders answer for every certificate NVIDIA issued: the device chain's intermediates
and the per-device BROM certificate, and every certificate of the RIM signer chains. The device
leaf (the GSP FMC alias certificate) is made by the GPU's firmware at boot and no responder knows
it; roots are not checked (they are pinned). For each checked certificate there must be a response
that: parses (``OcspFormatError``), is for that serial under that issuer's key, is signed by the
issuer or by a responder certificate the issuer signed with the OCSPSigning EKU valid at ``now``
(``OcspSignatureError``), says ``good`` (``GpuRevokedError`` for revoked or unknown) and has
``this_update <= now <= next_update`` (``OcspStaleError``). No response: ``OcspMissingError``.
Responses without a nonce are fine: freshness comes from the window, as for NVIDIA's own verifier
when it caches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from enclava.attestation.gpu.certs import check_decodable
from enclava.attestation.gpu.errors import (
    GpuRevokedError,
    OcspFormatError,
    OcspMissingError,
    OcspSignatureError,
    OcspStaleError,
)

__all__ = ["OcspResponse", "load_responses", "check_chain_status"]


@dataclass(frozen=True)
class _Single:
    serial_number: int
    hash_algorithm: hashes.HashAlgorithm
    issuer_key_hash: bytes
    certificate_status: ocsp.OCSPCertStatus
    this_update_utc: dt.datetime
    next_update_utc: dt.datetime | None


@dataclass(frozen=True)
class OcspResponse:
    """The fields of one DER OCSP response this module uses, all read (and so checked) up front."""

    singles: tuple[_Single, ...]
    signature: bytes
    signature_hash_algorithm: hashes.HashAlgorithm | None
    tbs_response_bytes: bytes
    certificates: tuple[x509.Certificate, ...]
    responder_name: x509.Name | None
    responder_key_hash: bytes | None


def _decodable(cert: x509.Certificate) -> x509.Certificate:
    check_decodable(cert)
    return cert


def _read(der: bytes, index: int) -> OcspResponse:
    # cryptography decodes OCSP lazily: any accessor may raise, so everything is read here once.
    try:
        response = ocsp.load_der_ocsp_response(der)
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise OcspFormatError(
                f"OCSP response {index} status is {response.response_status.name}, not SUCCESSFUL"
            )
        singles = tuple(
            _Single(
                single.serial_number,
                single.hash_algorithm,
                single.issuer_key_hash,
                single.certificate_status,
                single.this_update_utc,
                single.next_update_utc,
            )
            for single in response.responses
        )
        return OcspResponse(
            singles=singles,
            signature=response.signature,
            signature_hash_algorithm=response.signature_hash_algorithm,
            tbs_response_bytes=response.tbs_response_bytes,
            certificates=tuple(_decodable(cert) for cert in response.certificates),
            responder_name=response.responder_name,
            responder_key_hash=response.responder_key_hash,
        )
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise OcspFormatError(f"OCSP response {index} is not valid DER OCSP: {exc}") from exc


def load_responses(raw: Sequence[bytes]) -> tuple[OcspResponse, ...]:
    return tuple(_read(der, index) for index, der in enumerate(raw))


def _key_hash(issuer: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    # RFC 6960 issuerKeyHash: the hash of the subjectPublicKey BIT STRING's value (the EC point).
    spki = issuer.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    digest = hashes.Hash(algorithm)
    digest.update(spki)
    return digest.finalize()


def _find(
    responses: Sequence[OcspResponse], cert: x509.Certificate, issuer: x509.Certificate
) -> tuple[OcspResponse, _Single] | None:
    for response in responses:
        for single in response.singles:
            if single.serial_number != cert.serial_number:
                continue
            try:
                if single.issuer_key_hash == _key_hash(issuer, single.hash_algorithm):
                    return response, single
            except (ValueError, TypeError, UnsupportedAlgorithm):  # not this issuer's hash
                continue
    return None


def _verify_signature(response: OcspResponse, key: object) -> bool:
    algorithm = response.signature_hash_algorithm
    if not isinstance(key, ec.EllipticCurvePublicKey) or algorithm is None:
        return False
    try:
        key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(algorithm))
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _is_responder(response: OcspResponse, cert: x509.Certificate) -> bool:
    if response.responder_name is not None:
        return response.responder_name == cert.subject
    try:
        key_id = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return response.responder_key_hash == key_id  # RFC 6960 byKey: SHA-1 of the public key


def _delegate_key(
    responder: x509.Certificate, issuer: x509.Certificate, instant: dt.datetime, what: str
) -> object | None:
    """The key of a delegated responder ``issuer`` signed for OCSP, or None if it is not one."""
    try:
        key = issuer.public_key()
        algorithm = responder.signature_hash_algorithm
        if not isinstance(key, ec.EllipticCurvePublicKey) or algorithm is None:
            return None
        key.verify(responder.signature, responder.tbs_certificate_bytes, ec.ECDSA(algorithm))
        usage = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        responder_key = responder.public_key()
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm, x509.ExtensionNotFound):
        return None
    if ExtendedKeyUsageOID.OCSP_SIGNING not in usage:
        return None
    if not responder.not_valid_before_utc <= instant <= responder.not_valid_after_utc:
        raise OcspStaleError(f"OCSP responder for {what} is not valid at {instant.isoformat()}")
    return responder_key


def _check_signer(
    response: OcspResponse, issuer: x509.Certificate, instant: dt.datetime, what: str
) -> None:
    try:
        issuer_key: object = issuer.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm):  # pragma: no cover - chain-checked
        issuer_key = None
    if _is_responder(response, issuer) and _verify_signature(response, issuer_key):
        return
    for responder in response.certificates:
        if not _is_responder(response, responder) or responder.issuer != issuer.subject:
            continue
        key = _delegate_key(responder, issuer, instant, what)
        if key is not None and _verify_signature(response, key):
            return
    raise OcspSignatureError(f"OCSP response for {what} is not signed by its issuer or responder")


def check_chain_status(
    chain: Sequence[x509.Certificate],
    responses: Sequence[OcspResponse],
    now: int,
    *,
    skip_leaf: bool,
    what: str,
) -> int:
    """Check every non-root certificate of ``chain`` (leaf first); returns how many were checked."""
    instant = dt.datetime.fromtimestamp(now, tz=dt.timezone.utc)
    checked = 0
    for position in range(1 if skip_leaf else 0, len(chain) - 1):
        cert, issuer = chain[position], chain[position + 1]
        label = f"{what} certificate {cert.subject.rfc4514_string()!r}"
        found = _find(responses, cert, issuer)
        if found is None:
            raise OcspMissingError(f"no OCSP response for {label}")
        response, single = found
        _check_signer(response, issuer, instant, label)
        if single.certificate_status != ocsp.OCSPCertStatus.GOOD:
            raise GpuRevokedError(f"OCSP says {label} is {single.certificate_status.name}")
        next_update = single.next_update_utc
        if next_update is None or not single.this_update_utc <= instant <= next_update:
            raise OcspStaleError(
                f"OCSP response for {label} covers {single.this_update_utc.isoformat()} to "
                f"{next_update.isoformat() if next_update else 'unspecified'}, "
                f"not {instant.isoformat()}"
            )
        checked += 1
    return checked
