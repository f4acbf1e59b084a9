"""The service's TLS identity: a fresh P-256 key and a self-signed certificate, made in memory.

The key is born in this process at start and never leaves the enclave; the statement the enclave
signs carries the certificate and the SHA-256 of its SubjectPublicKeyInfo, so a customer who
verified the statement pins TLS to exactly this key and nobody in between (the provider, the
marketplace) can terminate the connection. The certificate names the host names and IP addresses
the service is reached at and is valid for the service's lifetime.

uvicorn loads its key and certificate from files: :meth:`TlsIdentity.server_files` writes them
into the enclave's private scratch area (memory-backed, 0700, wiped with the area), and the
caller wipes them as soon as the server has loaded them.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import secrets
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from trusted_loader.serving.errors import ServingSetupFailed

__all__ = ["TlsIdentity", "make_tls_identity", "tls_spki_sha256"]

#: Allowed clock skew between the enclave and its customers at the start of the certificate.
_BACKDATE = datetime.timedelta(minutes=5)


def tls_spki_sha256(certificate_pem: str | bytes) -> str:
    """``0x`` + SHA-256 (lowercase hex) of the certificate's DER SubjectPublicKeyInfo."""
    data = certificate_pem.encode() if isinstance(certificate_pem, str) else certificate_pem
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise ServingSetupFailed(f"not a PEM certificate: {exc}") from exc
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "0x" + hashlib.sha256(spki).hexdigest()


@dataclass(frozen=True)
class TlsIdentity:
    """The service's TLS key (never written anywhere but the scratch area) and certificate."""

    key: ec.EllipticCurvePrivateKey = field(repr=False)
    certificate_pem: str
    spki_sha256: str
    not_after: int

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def server_files(self, folder: Path) -> tuple[Path, Path]:
        """Write ``(key file, certificate file)`` into ``folder`` (a scratch folder), 0600.

        The caller wipes them (``trusted_loader.scratch.wipe_tree``) once the server has loaded
        them.
        """
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        stem = secrets.token_hex(6)
        key_path, cert_path = folder / f"{stem}.key", folder / f"{stem}.crt"
        for path, data in ((key_path, self.key_pem()), (cert_path, self.certificate_pem.encode())):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        return key_path, cert_path

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that trusts exactly this certificate (for tests and local tools)."""
        context = ssl.create_default_context(cadata=self.certificate_pem)
        context.check_hostname = False
        return context


def _names(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def make_tls_identity(
    hosts: tuple[str, ...], *, not_after: int, now: float | None = None
) -> TlsIdentity:
    """A fresh P-256 key and a self-signed certificate for ``hosts`` (host names or IPs), valid
    from now (less a few minutes of clock skew) until ``not_after`` (unix seconds, the service's
    end)."""
    if not hosts:
        raise ServingSetupFailed("the TLS certificate needs at least one host name or IP address")
    start = datetime.datetime.fromtimestamp(
        now if now is not None else datetime.datetime.now(datetime.UTC).timestamp(), datetime.UTC
    )
    end = datetime.datetime.fromtimestamp(not_after, datetime.UTC)
    if end <= start:
        raise ServingSetupFailed("the service has already ended; no TLS certificate is made")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "enclava-service")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - _BACKDATE)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(_names(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return TlsIdentity(
        key=key, certificate_pem=pem, spki_sha256=tls_spki_sha256(pem), not_after=int(not_after)
    )
