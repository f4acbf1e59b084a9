"""Enclave certificates: short-lived X.509 certificates that carry what attestation proved.

The CA signs with an ECDSA P-256 key. An enclave's certificate is issued to its secp256k1 key (the
same key signs integrity reports on chain, so its Ethereum address is derived from the certified
public key) and carries, as non-critical extensions under Enclava's arc, the attested facts (the
arc and its extensions: :mod:`enclava.protocol.csr`).

The age recipient comes from the CSR (:func:`enclava.protocol.csr.build_csr`), which the attested
key signed, so it is bound too.

An enclave attested with confidential GPUs gets two more extensions, ``gpu_class`` (ASCII, read
from the verified GPU evidence) and ``gpu_count`` (one byte); they come together or not at all. A
certificate without them certifies no GPU (``gpu_class == ""``, ``gpu_count == 0``), which is what
every certificate issued before GPUs were attested means too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from eth_utils.address import to_checksum_address

from certification_authority.errors import CertificateInvalid, EnclaveCertificateExpired
from enclava.errors import EnclavaError
from enclava.protocol.csr import ENCLAVA_OIDS, enclave_address_of
from enclava.protocol.errors import EnclaveKeyInvalid
from enclava.protocol.tee import MAX_GPU_COUNT, is_gpu_class

__all__ = [
    "CertifiedEnclave",
    "csr_age_recipient",
    "issue_ca_certificate",
    "issue_enclave_certificate",
    "self_signed",
    "verify_enclave_certificate",
]

_OID = ENCLAVA_OIDS


@dataclass(frozen=True)
class CertifiedEnclave:
    """The facts a valid enclave certificate vouches for."""

    serial: int
    tee_type: int
    measurement: str  # hex
    enclave_address: str
    provider_address: str
    simulated: bool
    age_recipient: str
    not_before: int
    not_after: int
    public_key_der: bytes
    gpu_class: str = ""  # "" and 0: the enclave was certified without a GPU
    gpu_count: int = 0

    @property
    def has_gpu(self) -> bool:
        return self.gpu_count > 0


def _enclave_address(public_key: ec.EllipticCurvePublicKey) -> str:
    try:
        return enclave_address_of(public_key)
    except EnclaveKeyInvalid as exc:
        raise CertificateInvalid(
            exc.message, hint="Generate the enclave key on secp256k1."
        ) from exc


def csr_age_recipient(csr: x509.CertificateSigningRequest) -> str:
    try:
        value = csr.extensions.get_extension_for_oid(_OID["age_recipient"]).value
        if not isinstance(value, x509.UnrecognizedExtension):
            raise x509.ExtensionNotFound("not Enclava's extension", _OID["age_recipient"])
        recipient = value.value.decode("ascii")
    except (x509.ExtensionNotFound, UnicodeDecodeError) as exc:
        raise CertificateInvalid("the CSR carries no age recipient") from exc
    if not recipient.startswith("age1"):
        raise CertificateInvalid("the CSR's age recipient is malformed")
    return recipient


def self_signed(
    key: ec.EllipticCurvePrivateKey, subject: x509.Name, *, now: dt.datetime, lifetime: dt.timedelta
) -> x509.CertificateBuilder:
    """A certificate for ``key`` issued by itself, valid from five minutes before ``now`` (clock
    skew) for ``lifetime``; the caller adds its extensions and signs with ``key``."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + lifetime)
    )


def issue_ca_certificate(
    key: ec.EllipticCurvePrivateKey, name: str, *, days: int = 3650
) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Enclava"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    now = dt.datetime.now(dt.timezone.utc)
    return (
        self_signed(key, subject, now=now, lifetime=dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )


def issue_enclave_certificate(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    csr: x509.CertificateSigningRequest,
    *,
    tee_type: int,
    measurement: bytes,
    provider_address: str,
    simulated: bool,
    now: int,
    lifetime_s: int,
    gpu_class: str = "",
    gpu_count: int = 0,
) -> x509.Certificate:
    _check_gpu_fields(gpu_class, gpu_count)
    public_key = csr.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise CertificateInvalid("the CSR key is not an EC key")
    address = _enclave_address(public_key)
    start = dt.datetime.fromtimestamp(now, dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, address)]))
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(seconds=lifetime_s))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    values = {
        "tee_type": bytes([tee_type]),
        "measurement": measurement,
        "enclave_address": bytes.fromhex(address[2:]),
        "provider_address": bytes.fromhex(provider_address.removeprefix("0x")),
        "simulated": b"\x01" if simulated else b"\x00",
        "age_recipient": csr_age_recipient(csr).encode(),
    }
    if gpu_count:
        values["gpu_class"] = gpu_class.encode("ascii")
        values["gpu_count"] = bytes([gpu_count])
    for name, value in values.items():
        builder = builder.add_extension(
            x509.UnrecognizedExtension(_OID[name], value), critical=False
        )
    return builder.sign(ca_key, hashes.SHA256())


def _check_gpu_fields(gpu_class: object, gpu_count: object) -> None:
    """Both empty (no GPU), or a well-formed class with a count of 1 to 255."""
    if type(gpu_count) is not int or not 0 <= gpu_count <= MAX_GPU_COUNT:
        raise CertificateInvalid(f"gpu_count must be an integer from 0 to {MAX_GPU_COUNT}")
    if gpu_count == 0 and gpu_class != "":
        raise CertificateInvalid("a GPU class was given without GPUs")
    if gpu_count > 0 and not is_gpu_class(gpu_class):
        raise CertificateInvalid("the GPU class must be 1 to 32 printable ASCII characters")


def _gpu_extensions(cert: x509.Certificate) -> tuple[str, int]:
    """``(gpu_class, gpu_count)``; ``("", 0)`` when the certificate has neither extension."""
    present = {
        name
        for name in ("gpu_class", "gpu_count")
        if any(ext.oid == _OID[name] for ext in cert.extensions)
    }
    if not present:
        return "", 0
    if len(present) != 2:
        raise CertificateInvalid("the certificate carries only one of gpu_class and gpu_count")
    count = _ext(cert, "gpu_count")
    gpu_class = _ext(cert, "gpu_class").decode("ascii")
    if len(count) != 1 or count[0] == 0 or not is_gpu_class(gpu_class):
        raise CertificateInvalid("the certificate's GPU extensions are malformed")
    return gpu_class, count[0]


def _checksum(address: str) -> str:
    return to_checksum_address(address)


def _ext(cert: x509.Certificate, name: str) -> bytes:
    extension = cert.extensions.get_extension_for_oid(_OID[name]).value
    if not isinstance(extension, x509.UnrecognizedExtension):
        raise CertificateInvalid(f"the certificate's {name} extension is not Enclava's")
    return extension.value


def verify_enclave_certificate(
    pem: bytes, ca_cert: x509.Certificate, *, now: int
) -> CertifiedEnclave:
    """Check the CA's signature and the validity window, then read the Enclava extensions."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
        ca_public = ca_cert.public_key()
        if (
            not isinstance(ca_public, ec.EllipticCurvePublicKey)
            or cert.signature_hash_algorithm is None
        ):
            raise CertificateInvalid("unsupported CA or certificate signature algorithm")
        ca_public.verify(
            cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm)
        )
        if cert.issuer != ca_cert.subject:
            raise CertificateInvalid("the certificate was not issued by this CA")
        not_before = int(cert.not_valid_before_utc.timestamp())
        not_after = int(cert.not_valid_after_utc.timestamp())
        if not (not_before <= now <= not_after):
            raise EnclaveCertificateExpired("the enclave certificate is expired or not yet valid")
        public_key = cert.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise CertificateInvalid("the certified key is not an EC key")
        gpu_class, gpu_count = _gpu_extensions(cert)
        return CertifiedEnclave(
            serial=cert.serial_number,
            tee_type=_ext(cert, "tee_type")[0],
            measurement=_ext(cert, "measurement").hex(),
            enclave_address=_enclave_address(public_key),
            provider_address=_checksum("0x" + _ext(cert, "provider_address").hex()),
            simulated=_ext(cert, "simulated") == b"\x01",
            age_recipient=_ext(cert, "age_recipient").decode("ascii"),
            not_before=not_before,
            not_after=not_after,
            public_key_der=public_key.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            gpu_class=gpu_class,
            gpu_count=gpu_count,
        )
    except EnclavaError:
        raise
    except (
        ValueError,
        TypeError,
        IndexError,
        InvalidSignature,
        UnsupportedAlgorithm,
        x509.ExtensionNotFound,
        UnicodeDecodeError,
    ) as exc:
        raise CertificateInvalid(
            f"the enclave certificate is invalid ({type(exc).__name__})"
        ) from exc
