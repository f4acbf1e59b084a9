"""The development PKI of the simulated TEE: an Intel-shaped certificate hierarchy from a fixed
seed.

DEVELOPMENT ONLY. Every private key below is derived from :data:`DEV_PKI_SEED`, which is public
(it is in this file). Anyone can sign a "simulated" quote with these keys, so evidence rooted here
proves nothing about hardware: the CA accepts it only when built with
``insecure_allow_simulated_tee=True``, marks the result ``simulated=True``, and production policy
refuses it. The point of the seed is determinism: every machine derives the same keys and,
because certificates are signed with deterministic ECDSA (RFC 6979) over fixed validity dates,
byte-identical certificates, so a simulated quote made on one machine verifies on every other.

Hierarchy (mirrors Intel's, so dcap-qvl's checks all apply)::

    Enclava DEV SGX Root CA ── DEV PCK Platform CA ── DEV PCK Certificate (SGX ext.: FMSPC, ...)
                            └─ DEV TCB Signing (signs TCB info and QE identity)
    DEV attestation key (the simulated quoting enclave's ECDSA key, certified by the QE report)
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from enclava.attestation import _der

__all__ = [
    "DEV_PKI_SEED",
    "DevPlatform",
    "DEV_PLATFORM",
    "DevPki",
    "development_pki",
    "development_root_der",
    "SGX_EXTENSION_OID",
    "ecdsa_raw_sign",
]

DEV_PKI_SEED = (
    b"enclava/simulated-tee/dev-pki/v1: PUBLIC SEED, DEVELOPMENT ONLY, NEVER TRUST IN PRODUCTION"
)
SGX_EXTENSION_OID = "1.2.840.113741.1.13.1"
_NOT_BEFORE = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
_NOT_AFTER = dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class DevPlatform:
    """The simulated platform's TCB: what the PCK certificate, TCB info and QE identity agree on."""

    fmspc: bytes = bytes.fromhex("00E5C1A70000")
    pce_id: bytes = bytes(2)
    pce_svn: int = 11
    cpu_svn: bytes = bytes([3, 3, 2, 2, 4, 1, 0, 5]) + bytes(8)
    tee_tcb_svn: bytes = bytes([6, 1, 3]) + bytes(13)  # TDX module SVN 6, module version 1, ...
    outdated_tee_tcb_svn: bytes = bytes([2, 1, 0]) + bytes(13)  # matches only the OutOfDate level
    qe_isv_prod_id: int = 2
    qe_isv_svn: int = 4
    qe_mr_signer: bytes = hashlib.sha256(DEV_PKI_SEED + b"/qe-mrsigner").digest()
    qe_mr_enclave: bytes = hashlib.sha256(DEV_PKI_SEED + b"/qe-mrenclave").digest()
    tdx_module_mr_signer: bytes = bytes(48)
    tdx_module_mr_seam: bytes = hashlib.sha384(DEV_PKI_SEED + b"/mrseam").digest()


DEV_PLATFORM = DevPlatform()


def _derive_key(label: str) -> ec.EllipticCurvePrivateKey:
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551  # P-256 group order
    digest = hmac.new(DEV_PKI_SEED, label.encode(), hashlib.sha512).digest()
    return ec.derive_private_key(int.from_bytes(digest, "big") % (order - 1) + 1, ec.SECP256R1())


def ecdsa_raw_sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """Deterministic ECDSA P-256/SHA-256 signature as Intel encodes it: 32-byte r ‖ 32-byte s."""
    r, s = decode_dss_signature(
        key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    )
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(
                NameOID.ORGANIZATION_NAME, "Enclava Development (INSECURE, not Intel)"
            ),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        ]
    )


def _key_usage(*, sign: bool = False, certs: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=sign,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=certs,
        crl_sign=certs,
        encipher_only=False,
        decipher_only=False,
    )


def _certificate(
    label: str,
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca_path_length: int | None,
    extra: tuple[x509.ExtensionType, ...] = (),
) -> x509.Certificate:
    serial = (
        int.from_bytes(
            hashlib.sha256(DEV_PKI_SEED + b"/serial/" + label.encode()).digest()[:16], "big"
        )
        >> 1
    )
    issuer_name = issuer.subject if issuer is not None else _name(subject)
    # the issuer's key is ``issuer_key`` (an EC key) whether or not its certificate is given
    issuer_public = issuer_key.public_key()
    is_ca = ca_path_length is not None
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(_NOT_BEFORE)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=ca_path_length), critical=True)
        .add_extension(_key_usage(sign=not is_ca, certs=is_ca), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public), critical=False
        )
    )
    for extension in extra:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(issuer_key, hashes.SHA256(), ecdsa_deterministic=True)


def _sgx_extension(platform: DevPlatform) -> x509.UnrecognizedExtension:
    sgx = SGX_EXTENSION_OID
    tcb_components = [
        _der.oid_pair(f"{sgx}.2.{i + 1}", _der.integer(svn))
        for i, svn in enumerate(platform.cpu_svn)
    ]
    value = _der.sequence(
        _der.oid_pair(
            f"{sgx}.1", _der.octet_string(hashlib.sha256(DEV_PKI_SEED + b"/ppid").digest()[:16])
        ),
        _der.oid_pair(
            f"{sgx}.2",
            _der.sequence(
                *tcb_components,
                _der.oid_pair(f"{sgx}.2.17", _der.integer(platform.pce_svn)),
                _der.oid_pair(f"{sgx}.2.18", _der.octet_string(platform.cpu_svn)),
            ),
        ),
        _der.oid_pair(f"{sgx}.3", _der.octet_string(platform.pce_id)),
        _der.oid_pair(f"{sgx}.4", _der.octet_string(platform.fmspc)),
        _der.oid_pair(
            f"{sgx}.5", _der.enumerated(1)
        ),  # SGX type: Scalable, as on TDX-capable Xeons
        _der.oid_pair(
            f"{sgx}.6", _der.octet_string(hashlib.sha256(DEV_PKI_SEED + b"/instance").digest()[:16])
        ),
        _der.oid_pair(
            f"{sgx}.7",
            _der.sequence(
                _der.oid_pair(f"{sgx}.7.1", _der.boolean(False)),  # dynamic platform
                _der.oid_pair(f"{sgx}.7.2", _der.boolean(False)),  # cached keys
                _der.oid_pair(f"{sgx}.7.3", _der.boolean(False)),
            ),
        ),  # SMT enabled
    )
    return x509.UnrecognizedExtension(x509.ObjectIdentifier(sgx), value)


def _pem(*certs: x509.Certificate) -> str:
    return "".join(cert.public_bytes(serialization.Encoding.PEM).decode("ascii") for cert in certs)


@dataclass(frozen=True)
class DevPki:
    root_key: ec.EllipticCurvePrivateKey
    root_cert: x509.Certificate
    pck_ca_key: ec.EllipticCurvePrivateKey
    pck_ca_cert: x509.Certificate
    tcb_signing_key: ec.EllipticCurvePrivateKey
    tcb_signing_cert: x509.Certificate
    pck_key: ec.EllipticCurvePrivateKey
    pck_cert: x509.Certificate
    attestation_key: ec.EllipticCurvePrivateKey
    platform: DevPlatform

    @property
    def root_der(self) -> bytes:
        return self.root_cert.public_bytes(serialization.Encoding.DER)

    @property
    def pck_chain_pem(self) -> str:
        return _pem(self.pck_cert, self.pck_ca_cert, self.root_cert)

    @property
    def pck_crl_issuer_chain_pem(self) -> str:
        return _pem(self.pck_ca_cert, self.root_cert)

    @property
    def tcb_signing_chain_pem(self) -> str:
        return _pem(self.tcb_signing_cert, self.root_cert)

    def crl(self, issuer: str, *, issued_at: int, validity_s: int) -> bytes:
        """An empty CRL (DER) by the root (``"root"``) or the PCK Platform CA (``"pck"``)."""
        cert, key = (
            (self.root_cert, self.root_key)
            if issuer == "root"
            else (self.pck_ca_cert, self.pck_ca_key)
        )
        last = dt.datetime.fromtimestamp(issued_at, tz=dt.timezone.utc)
        crl = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(cert.subject)
            .last_update(last)
            .next_update(last + dt.timedelta(seconds=validity_s))
            .add_extension(x509.CRLNumber(1), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256(), ecdsa_deterministic=True)
        )
        return crl.public_bytes(serialization.Encoding.DER)


@functools.cache
def development_pki() -> DevPki:
    """The development PKI (derived once per process; identical on every machine)."""
    platform = DEV_PLATFORM
    root_key, pck_ca_key = _derive_key("root-ca"), _derive_key("pck-platform-ca")
    tcb_key, pck_key = _derive_key("tcb-signing"), _derive_key("pck-leaf")
    root = _certificate(
        "root-ca", "Enclava DEV SGX Root CA", root_key, None, root_key, ca_path_length=1
    )
    pck_ca = _certificate(
        "pck-platform-ca",
        "Enclava DEV SGX PCK Platform CA",
        pck_ca_key,
        root,
        root_key,
        ca_path_length=0,
    )
    tcb = _certificate(
        "tcb-signing", "Enclava DEV SGX TCB Signing", tcb_key, root, root_key, ca_path_length=None
    )
    pck = _certificate(
        "pck-leaf",
        "Enclava DEV SGX PCK Certificate",
        pck_key,
        pck_ca,
        pck_ca_key,
        ca_path_length=None,
        extra=(_sgx_extension(platform),),
    )
    return DevPki(
        root_key,
        root,
        pck_ca_key,
        pck_ca,
        tcb_key,
        tcb,
        pck_key,
        pck,
        _derive_key("qe-attestation-key"),
        platform,
    )


def development_root_der() -> bytes:
    """DER of the development root: the trust anchor of simulated evidence (and of nothing else)."""
    return development_pki().root_der
