"""The development PKI of the simulated NVIDIA GPU: NVIDIA-shaped hierarchies from a public seed.

DEVELOPMENT ONLY. Every private key below is derived from :data:`DEV_GPU_PKI_SEED`, which is
public (it is in this file), so evidence rooted here proves nothing about a GPU: the CA accepts it
only through ``GpuVerifier(..., simulated=True)``, behind ``insecure_allow_simulated_tee``, and
every name says DEVELOPMENT. The seed buys determinism: every machine derives the same keys, and
certificates, OCSP responses and SPDM signatures use deterministic ECDSA (RFC 6979), so the same
inputs give the same bytes everywhere.

The hierarchies copy NVIDIA's (``hopperCertChain.txt`` in NVIDIA/nvtrust, the RIMs and OCSP
responses in google/go-nvattest-tools), so the verifier's checks all apply unchanged::

    device identity (ECDSA P-384 / SHA-384, what signs the SPDM measurements)
    DEV Device Identity CA ── DEV <chip> Identity ── DEV <chip> Provisioner ICA 1
        ── DEV <chip> A01 GSP BROM (one per GPU) ── DEV <chip> A01 GSP FMC LF (the attestation key)

    reference integrity manifests (RIM signing)
    DEV CoRIM signing Root CA ── DEV Reference Value <chip> CA ── DEV Reference Value L3 <chip> 001
        ── DEV HCC RIM L4 Signer (driver) / (VBIOS)

    OCSP: a delegated responder per issuing CA (EKU OCSPSigning, OCSPNoCheck), as NVIDIA's are.

Certificate authorities have fixed windows (2024-2049), so the roots are constants. The two kinds
of short-lived end certificate, the GPU's FMC leaf (re-made by the firmware at every boot) and the
RIM signers (two-year certificates at NVIDIA), are valid from 30 days before to 365 days after the
UTC day of the attester's clock: generous, finite, and stable within a day.
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
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from enclava.attestation.gpu._devder import device_san, resign_ocsp, tcb_info_extension

__all__ = [
    "DEV_GPU_PKI_SEED",
    "DEV_GPU_ORGANIZATION",
    "OCSP_VALIDITY_S",
    "RIM_KINDS",
    "DevGpuDevice",
    "IssuedKey",
    "DevGpuPki",
    "development_gpu_pki",
    "development_gpu_device_root_der",
    "development_gpu_rim_root_der",
    "spdm_sign",
]

DEV_GPU_PKI_SEED = (
    b"enclava/simulated-gpu/dev-pki/v1: PUBLIC SEED, DEVELOPMENT ONLY, NEVER TRUST IN PRODUCTION"
)
DEV_GPU_ORGANIZATION = "Enclava Development (INSECURE, not NVIDIA)"
RIM_KINDS = ("driver", "vbios")
OCSP_VALIDITY_S = 86_400  # NVIDIA's responders answer with a one-day window

_CA_NOT_BEFORE = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
_CA_NOT_AFTER = dt.datetime(2049, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc)
_END_BEFORE = dt.timedelta(days=30)
_END_AFTER = dt.timedelta(days=365)
_OCSP_BACKDATE_S = 60  # absorbs a little clock skew between the GPU host and the CA
_P384_ORDER = int(
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    16,
)


def _derive_key(label: str) -> ec.EllipticCurvePrivateKey:
    digest = hmac.new(DEV_GPU_PKI_SEED, label.encode(), hashlib.sha512).digest()
    scalar = int.from_bytes(digest, "big") % (_P384_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP384R1())


def _label_bytes(label: str, size: int) -> bytes:
    return hashlib.sha384(DEV_GPU_PKI_SEED + b"/" + label.encode()).digest()[:size]


def spdm_sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """Deterministic ECDSA P-384/SHA-384 as SPDM carries it: 48-byte r ‖ 48-byte s."""
    signature = key.sign(data, ec.ECDSA(hashes.SHA384(), deterministic_signing=True))
    r, s = decode_dss_signature(signature)
    return r.to_bytes(48, "big") + s.to_bytes(48, "big")


def _name(common_name: str, *, serial: str | None = None) -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEV_GPU_ORGANIZATION),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
    ]
    if serial is not None:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    return x509.Name(attributes)


def _key_usage(*, sign: bool, certs: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=certs,
        crl_sign=certs,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass(frozen=True)
class IssuedKey:
    """A key with its certificate: what every node of the hierarchies is."""

    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _issue(
    label: str,
    subject: x509.Name,
    issuer: IssuedKey | None,
    *,
    ca: bool,
    window: tuple[dt.datetime, dt.datetime] = (_CA_NOT_BEFORE, _CA_NOT_AFTER),
    extra: tuple[tuple[x509.ExtensionType, bool], ...] = (),
    serial: int | None = None,
) -> IssuedKey:
    """Certify ``label``'s derived key; ``issuer=None`` makes a self-signed root."""
    key = _derive_key(label)
    signer_key = key if issuer is None else issuer.key
    issuer_name = subject if issuer is None else issuer.cert.subject
    if serial is None:
        serial = int.from_bytes(_label_bytes("serial/" + label, 16), "big") >> 1
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(window[0])
        .not_valid_after(window[1])
        .add_extension(_key_usage(sign=not ca, certs=ca), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
            critical=False,
        )
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    for extension, critical in extra:
        builder = builder.add_extension(extension, critical=critical)
    cert = builder.sign(signer_key, hashes.SHA384(), ecdsa_deterministic=True)
    return IssuedKey(key, cert)


def _end_window(clock: float) -> tuple[dt.datetime, dt.datetime]:
    day = dt.datetime.fromtimestamp(int(clock) // 86_400 * 86_400, tz=dt.timezone.utc)
    return day - _END_BEFORE, day + _END_AFTER


def _responder(label: str, issuer: IssuedKey) -> IssuedKey:
    """A delegated OCSP responder of ``issuer`` (RFC 6960 §4.2.2.2), shaped like NVIDIA's."""
    return _issue(
        "ocsp/" + label,
        _name(f"DEV OCSP Responder {label}"),
        issuer,
        ca=False,
        extra=(
            (x509.BasicConstraints(ca=False, path_length=None), False),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), True),
            (x509.OCSPNoCheck(), False),
        ),
    )


# --- the hierarchies ------------------------------------------------------------------------


@dataclass(frozen=True)
class DevGpuDevice:
    """One simulated GPU: its BROM identity, its attestation key and the chain that certifies it."""

    chip: str
    index: int
    ueid: bytes  # 8 bytes, the device id in the leaf's subject alternative name
    fwid: bytes  # 48 bytes, the firmware id in the leaf's TCB-info extension (and the report)
    brom: IssuedKey
    leaf: IssuedKey  # the FMC leaf: its key signs the SPDM measurements
    chain: tuple[x509.Certificate, ...]  # leaf, BROM, provisioner ICA, chip identity, root

    @property
    def attestation_key(self) -> ec.EllipticCurvePrivateKey:
        return self.leaf.key

    @property
    def chain_pem(self) -> bytes:
        """The PEM chain as NVML hands it out: leaf first, the device root last."""
        return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in self.chain)


@dataclass(frozen=True)
class _ChipCas:
    identity: IssuedKey  # L2
    provisioner: IssuedKey  # L3
    rim_ca: IssuedKey  # RIM L2
    rim_l3: IssuedKey  # RIM L3


class DevGpuPki:
    """Both development hierarchies and their OCSP responders (derived once per process)."""

    def __init__(self) -> None:
        self.device_root = _issue(
            "device/root",
            _name("Enclava DEV NVIDIA Device Identity CA (DEVELOPMENT)"),
            None,
            ca=True,
        )
        self.rim_root = _issue(
            "rim/root",
            _name("Enclava DEV NVIDIA CoRIM signing Root CA (DEVELOPMENT)"),
            None,
            ca=True,
        )
        self._responders: dict[x509.Name, IssuedKey] = {}
        self._add_responder("device/root", self.device_root)
        self._add_responder("rim/root", self.rim_root)

    def _add_responder(self, label: str, issuer: IssuedKey) -> None:
        self._responders[issuer.cert.subject] = _responder(label, issuer)

    @functools.cache  # noqa: B019 - one process-wide instance, see development_gpu_pki()
    def _chip(self, chip: str) -> _ChipCas:
        identity = _issue(
            f"device/{chip}/identity", _name(f"DEV {chip} Identity"), self.device_root, ca=True
        )
        provisioner = _issue(
            f"device/{chip}/provisioner-ica-1",
            _name(f"DEV {chip} Provisioner ICA 1"),
            identity,
            ca=True,
        )
        rim_ca = _issue(
            f"rim/{chip}/ca", _name(f"DEV Reference Value {chip} CA"), self.rim_root, ca=True
        )
        rim_l3 = _issue(
            f"rim/{chip}/l3-001", _name(f"DEV Reference Value L3 {chip} 001"), rim_ca, ca=True
        )
        for label, issuer in (
            (f"device/{chip}/identity", identity),
            (f"device/{chip}/provisioner-ica-1", provisioner),
            (f"rim/{chip}/ca", rim_ca),
            (f"rim/{chip}/l3-001", rim_l3),
        ):
            self._add_responder(label, issuer)
        return _ChipCas(identity, provisioner, rim_ca, rim_l3)

    @functools.cache  # noqa: B019
    def _brom(self, chip: str, index: int) -> IssuedKey:
        cas = self._chip(chip)
        device_id = _label_bytes(f"device/{chip}/{index}/brom-id", 9).hex().upper()
        brom = _issue(
            f"device/{chip}/{index}/brom",
            _name(f"DEV {chip} A01 GSP BROM", serial=device_id),
            cas.provisioner,
            ca=True,
        )
        return brom  # no responder: the FMC leaf it issues is unknown to NVIDIA's OCSP

    @functools.cache  # noqa: B019
    def device(self, chip: str, index: int, day: int) -> DevGpuDevice:
        """GPU ``index`` of class ``chip``; its FMC leaf is valid around UTC day ``day``."""
        cas, brom = self._chip(chip), self._brom(chip, index)
        ueid = _label_bytes(f"device/{chip}/{index}/ueid", 8)
        fwid = _label_bytes(f"device/{chip}/{index}/fwid", 48)
        label = f"device/{chip}/{index}/fmc-leaf"
        public = _derive_key(label).public_key()
        ski = x509.SubjectKeyIdentifier.from_public_key(public).digest
        serial = int.from_bytes(ski, "big") >> 1  # NVIDIA derives the leaf serial from its key
        leaf = _issue(
            label,
            _name(f"DEV {chip} A01 GSP FMC LF", serial=f"{serial:040X}"),
            brom,
            ca=False,
            window=_end_window(day * 86_400),
            extra=(
                (device_san(chip, ueid), False),
                (tcb_info_extension(brom.key.public_key(), fwid), False),
            ),
            serial=serial,
        )
        chain = (
            leaf.cert,
            brom.cert,
            cas.provisioner.cert,
            cas.identity.cert,
            self.device_root.cert,
        )
        return DevGpuDevice(chip, index, ueid, fwid, brom, leaf, chain)

    @functools.cache  # noqa: B019
    def rim_signer(
        self, chip: str, kind: str, day: int
    ) -> tuple[IssuedKey, tuple[x509.Certificate, ...]]:
        """The RIM signer of ``kind`` ("driver" or "vbios") and its chain, signer first."""
        if kind not in RIM_KINDS:
            raise ValueError(f"unknown RIM kind {kind!r}")
        cas = self._chip(chip)
        signer = _issue(
            f"rim/{chip}/l4-signer/{kind}",
            _name(f"DEV HCC RIM L4 Signer ({kind})"),
            cas.rim_l3,
            ca=False,
            window=_end_window(day * 86_400),
            extra=((x509.BasicConstraints(ca=False, path_length=None), True),),
        )
        return signer, (signer.cert, cas.rim_l3.cert, cas.rim_ca.cert, self.rim_root.cert)

    def responder(self, issuer: x509.Certificate) -> IssuedKey:
        """The delegated OCSP responder of ``issuer`` (a development CA)."""
        try:
            return self._responders[issuer.subject]
        except KeyError:
            raise ValueError(
                f"no development OCSP responder for {issuer.subject.rfc4514_string()}"
            ) from None

    def ocsp_response(
        self,
        cert: x509.Certificate,
        issuer: x509.Certificate,
        *,
        produced_at: int,
        validity_s: int = OCSP_VALIDITY_S,
        revoked: bool = False,
    ) -> bytes:
        """A DER OCSP response for ``cert`` by its issuer's responder, like NVIDIA's OCSP service.

        Built with ``cryptography``'s ``OCSPResponseBuilder`` (SHA-384 cert id, responder by key
        hash, responder certificate included, no nonce), then made deterministic: the builder
        stamps ``producedAt`` with the wall clock and signs with a random ECDSA nonce, so the
        ``producedAt`` is set to ``thisUpdate`` and the response data re-signed with RFC 6979.
        """
        responder = self.responder(issuer)
        this_update = dt.datetime.fromtimestamp(produced_at - _OCSP_BACKDATE_S, tz=dt.timezone.utc)
        next_update = this_update + dt.timedelta(seconds=validity_s)
        status = ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD
        built = (
            ocsp.OCSPResponseBuilder()
            .add_response(
                cert=cert,
                issuer=issuer,
                algorithm=hashes.SHA384(),
                cert_status=status,
                this_update=this_update,
                next_update=next_update,
                revocation_time=this_update if revoked else None,
                revocation_reason=x509.ReasonFlags.key_compromise if revoked else None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, responder.cert)
            .certificates([responder.cert])
            .sign(responder.key, hashes.SHA384())
        )
        return resign_ocsp(
            built.public_bytes(serialization.Encoding.DER), responder.key, this_update
        )


@functools.cache
def development_gpu_pki() -> DevGpuPki:
    """The process-wide development GPU PKI (identical on every machine)."""
    return DevGpuPki()


def development_gpu_device_root_der() -> bytes:
    """DER of the development device-identity root: the anchor of simulated GPU evidence only."""
    return development_gpu_pki().device_root.der


def development_gpu_rim_root_der() -> bytes:
    """DER of the development RIM root: the anchor of the simulated GPU's RIMs only."""
    return development_gpu_pki().rim_root.der
