"""The CA's TLS server identity: a self-signed ECDSA P-256 certificate for its sealed TLS key.

No public PKI vouches for it: clients trust it because the CA's own evidence binds its key
(``GET /v1/ca``, :func:`enclava.ca_link.bind_ca_identity`), and then pin it. The certificate names
127.0.0.1, localhost and ``CA_TLS_HOSTNAMES``; it is reused across restarts while it is for the
same key and names, and reissued otherwise.

uvicorn loads the key from a file, so the key is written as encrypted PKCS#8 (mode 0600) under a
password made fresh at every start and held only in memory: the sealed blob stays the one place
the key is at rest in the clear-to-the-CA form.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certification_authority.certificates import self_signed

__all__ = [
    "TlsFiles",
    "DEFAULT_TLS_NAMES",
    "tls_names",
    "issue_tls_certificate",
    "load_or_create_tls",
]

DEFAULT_TLS_NAMES = ("127.0.0.1", "localhost")
_LIFETIME = dt.timedelta(days=825)
_RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class TlsFiles:
    """What uvicorn needs to serve HTTPS, and the certificate PEM the CA reports in ``/v1/ca``."""

    certfile: Path
    keyfile: Path
    key_password: str = field(repr=False)
    certificate_pem: str


def tls_names(configured: str | Iterable[str] = ()) -> tuple[str, ...]:
    """The default names plus ``configured`` (comma-separated or a list), without duplicates."""
    extra = configured.split(",") if isinstance(configured, str) else list(configured)
    return tuple(
        dict.fromkeys([*DEFAULT_TLS_NAMES, *(name.strip() for name in extra if name.strip())])
    )


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def issue_tls_certificate(
    key: ec.EllipticCurvePrivateKey,
    ca_id: str,
    names: Iterable[str],
    *,
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """A self-signed server certificate for ``key`` naming ``names`` (IP addresses or DNS names)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{ca_id} TLS")])
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    return (
        self_signed(key, subject, now=now, lifetime=_LIFETIME)
        .add_extension(
            x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )


def _reusable(
    path: Path, key: ec.EllipticCurvePrivateKey, names: tuple[str, ...]
) -> x509.Certificate | None:
    if not path.exists():
        return None
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return None
    same_key = cert.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    fresh = cert.not_valid_after_utc - _RENEW_BEFORE > dt.datetime.now(dt.timezone.utc)
    return cert if same_key and fresh and set(sans) == {_general_name(n) for n in names} else None


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    tmp.replace(path)


def load_or_create_tls(
    key: ec.EllipticCurvePrivateKey,
    state: Path,
    ca_id: str,
    names: Iterable[str] = DEFAULT_TLS_NAMES,
) -> TlsFiles:
    """The certificate (reused or reissued) and this start's encrypted key file, in ``state``."""
    names = tuple(names)
    certfile, keyfile = state / "tls-cert.pem", state / "tls-key.pem"
    cert = _reusable(certfile, key, names) or issue_tls_certificate(key, ca_id, names)
    pem = cert.public_bytes(serialization.Encoding.PEM)
    if not certfile.exists() or certfile.read_bytes() != pem:
        certfile.write_bytes(pem)
    password = secrets.token_urlsafe(32)
    _write_private(
        keyfile,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password.encode()),
        ),
    )
    return TlsFiles(
        certfile=certfile, keyfile=keyfile, key_password=password, certificate_pem=pem.decode()
    )
