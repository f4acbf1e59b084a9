"""Helpers for the CA verifier tests: vectors, enclave keys, and a forged AMD chain.

The forged chain (our own ARK → ASK → VCEK, RSA-PSS like AMD's) exists for two reasons: to prove
that a self-consistent chain under *another* root is refused, and, when a test explicitly pins
its ARK, to drive the SEV-SNP path through the full pipeline with report_data of our choosing.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from enclava.attestation.sev_snp_report import (
    SNP_MILAN,
    SnpProduct,
    load_amd_certificates,
    snp_product_named,
)
from enclava.errors import EnclavaError

VECTORS = Path(__file__).resolve().parents[2] / "fixtures" / "attestation"
TDX_PINNED_TIME = 1752919234  # the last second at which the vector's collateral is all valid
SNP_VALID_TIME = 1795000000  # 2026-11: inside the VCEK's validity (2022-09-24 .. 2029-09-24)
SNP_VLEK_2024_TIME = 1730000000  # 2024-10-27: inside milan-v2-vlek.der (2024-05-05 .. 2025-05-05)
SNP_VLEK_2025_TIME = 1750000000  # 2025-06-15: inside milan-v3-vlek.der (2024-12-10 .. 2025-12-10)


@dataclass(frozen=True)
class SnpVector:
    """A real SEV-SNP report with its endorsement key, chain and an instant all are valid at."""

    name: str
    product: str
    version: int
    kind: str  # VCEK or VLEK
    report_file: str
    leaf_file: str
    chain_file: str  # intermediate + ARK (PEM), from google/go-sev-guest verify/trust
    now: int

    @property
    def report(self) -> bytes:
        return (VECTORS / "sev-snp" / self.report_file).read_bytes()

    @property
    def chain(self) -> bytes:
        return snp_leaf_pem(self.leaf_file) + (VECTORS / "sev-snp" / self.chain_file).read_bytes()


def snp_leaf_pem(leaf_file: str) -> bytes:
    data = (VECTORS / "sev-snp" / leaf_file).read_bytes()
    (leaf,) = load_amd_certificates(data, der=leaf_file.endswith(".der"))
    return leaf.public_bytes(serialization.Encoding.PEM)


SNP_VECTORS = (
    SnpVector(
        "milan-v2",
        "Milan",
        2,
        "VCEK",
        "attestation.bin",
        "vcek.der",
        "ask_ark_milan.pem",
        SNP_VALID_TIME,
    ),
    SnpVector(
        "milan-v2-b",
        "Milan",
        2,
        "VCEK",
        "milan-v2-b-report.bin",
        "milan-v2-b-vcek.der",
        "ask_ark_milan.pem",
        SNP_VALID_TIME,
    ),
    SnpVector(
        "milan-v3",
        "Milan",
        3,
        "VCEK",
        "milan-v3-report.bin",
        "milan-v3-vcek.pem",
        "ask_ark_milan.pem",
        SNP_VALID_TIME,
    ),
    SnpVector(
        "genoa-v3",
        "Genoa",
        3,
        "VCEK",
        "genoa-v3-report.bin",
        "genoa-v3-vcek.pem",
        "ask_ark_genoa.pem",
        SNP_VALID_TIME,
    ),
    SnpVector(
        "genoa-v3-azure",
        "Genoa",
        3,
        "VCEK",
        "genoa-v3-azure-report.bin",
        "genoa-v3-azure-vcek.pem",
        "ask_ark_genoa.pem",
        SNP_VALID_TIME,
    ),
    SnpVector(
        "turin-v5",
        "Turin",
        5,
        "VCEK",
        "turin-v5-report.bin",
        "turin-v5-vcek.pem",
        "ask_ark_turin.pem",
        SNP_VALID_TIME,
    ),
    SnpVector(
        "turin-v5-b",
        "Turin",
        5,
        "VCEK",
        "turin-v5-b-report.bin",
        "turin-v5-b-vcek.der",
        "ask_ark_turin.pem",
        SNP_VALID_TIME,
    ),
    SnpVector(
        "milan-v2-vlek",
        "Milan",
        2,
        "VLEK",
        "milan-v2-vlek-report.bin",
        "milan-v2-vlek.der",
        "ask_ark_milan_vlek.pem",
        SNP_VLEK_2024_TIME,
    ),
    SnpVector(
        "milan-v3-vlek",
        "Milan",
        3,
        "VLEK",
        "milan-v3-vlek-report.bin",
        "milan-v3-vlek.der",
        "ask_ark_milan_vlek.pem",
        SNP_VLEK_2025_TIME,
    ),
)
SNP_VECTOR = {vector.name: vector for vector in SNP_VECTORS}


def assert_every_bit_flip_refused(data: bytes, verify: Callable[[bytes], object]) -> None:
    """Flip the low bit of each byte of ``data`` in turn; ``verify`` must refuse every one,
    typed."""
    for offset in range(len(data)):
        flipped = bytearray(data)
        flipped[offset] ^= 0x01
        with pytest.raises(EnclavaError):
            verify(bytes(flipped))


def enclave_key_der(seed: bytes = b"enclave") -> bytes:
    """A deterministic enclave public key (Ed25519 SPKI DER) for binding tests."""
    private = ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest())
    return private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)
_AMD = "1.3.6.1.4.1.3704.1"
_SPL_OIDS = {"bl": "3.1", "tee": "3.2", "snp": "3.3", "ucode": "3.8", "fmc": "3.9"}
# The TCB each forged endorsement key certifies, by product (Turin's layout differs).
_FORGED_TCB = {
    "Milan": bytes([2, 0, 0, 0, 0, 0, 5, 0x44]),
    "Genoa": bytes([0x0A, 0, 0, 0, 0, 0, 0x17, 0x54]),
    "Turin": bytes([1, 1, 1, 4, 0, 0, 0, 0x51]),
}


@dataclass(frozen=True)
class ForgedAmd:
    """A complete SEV-SNP signing setup under a root that is not AMD's."""

    ark_sha256: str
    chain_pem: bytes
    vcek_key: ec.EllipticCurvePrivateKey  # the endorsement key: a VCEK, or a VLEK for kind="VLEK"
    chip_id: bytes
    tcb: bytes  # REPORTED_TCB the endorsement key certifies
    product: SnpProduct = SNP_MILAN
    kind: str = "VCEK"

    def sign(self, report: bytes) -> bytes:
        """``report`` (at least the 0x2A0 signed bytes) re-signed by the forged VCEK."""
        r, s = decode_dss_signature(self.vcek_key.sign(report[:0x2A0], ec.ECDSA(hashes.SHA384())))
        return (
            report[:0x2A0]
            + r.to_bytes(72, "little")
            + s.to_bytes(72, "little")
            + bytes(0x4A0 - 0x2A0 - 144)
        )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _cert(subject: str, key, issuer: str, issuer_key, *, ca: bool, extra=()) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime(2022, 1, 1))
        .not_valid_after(dt.datetime(2040, 1, 1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    for oid, value in extra:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), value), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA384(), rsa_padding=_PSS)


def _ia5(text: str) -> bytes:
    return bytes([0x16, len(text)]) + text.encode()


@functools.cache
def forge_amd(product: str = "Milan", kind: str = "VCEK") -> ForgedAmd:
    """A forged AMD hierarchy for ``product`` (Milan, Genoa, Turin) and ``kind`` (VCEK, VLEK),
    named and extended like AMD's (RSA-2048 to keep tests fast; AMD uses 4096). Cached: one per
    (product, kind) per test session."""
    spec = snp_product_named(product)
    ark_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ask_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    vcek_key = ec.generate_private_key(ec.SECP384R1())
    tcb = _FORGED_TCB[product]
    hwid = hashlib.sha512(b"forged chip " + product.encode()).digest()[: spec.hwid_length]
    chip_id = (hwid + bytes(64))[:64] if kind == "VCEK" else bytes(64)
    extra = [(f"{_AMD}.1", b"\x02\x01\x00"), (f"{_AMD}.2", _ia5(f"{product}-B0"))]
    for index, part in enumerate(spec.tcb_layout):
        if part is not None:
            extra.append((f"{_AMD}.{_SPL_OIDS[part]}", bytes([2, 1, tcb[index]])))
    if kind == "VCEK":
        extra.append((f"{_AMD}.4", hwid))
    else:
        extra.append((f"{_AMD}.5", _ia5("CN=forged-csp.example")))
    ark_name = f"ARK-{product}"
    ask_name = f"SEV-{product}" if kind == "VCEK" else f"SEV-VLEK-{product}"
    ark = _cert(ark_name, ark_key, ark_name, ark_key, ca=True)
    ask = _cert(ask_name, ask_key, ark_name, ark_key, ca=True)
    vcek = _cert(f"SEV-{kind}", vcek_key, ask_name, ask_key, ca=False, extra=extra)
    chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (vcek, ask, ark))
    return ForgedAmd(
        hashlib.sha256(ark.public_bytes(serialization.Encoding.DER)).hexdigest(),
        chain,
        vcek_key,
        chip_id,
        tcb,
        spec,
        kind,
    )


def snp_report(
    template: bytes,
    forged: ForgedAmd,
    *,
    report_data: bytes,
    measurement: bytes,
    debug: bool = False,
    version: int | None = None,
) -> bytes:
    """A report like ``template`` (a real vector) for the forged chip, with our fields, signed by
    ``forged``: its TCB (all four TCB_VERSIONs), chip id, signing key and (version 3+) CPUID."""
    report = bytearray(template)
    if version is not None:
        report[0:4] = version.to_bytes(4, "little")
        if version < 5:
            report[0x1F8:0x208] = bytes(16)
    policy = int.from_bytes(report[0x08:0x10], "little") & ~(1 << 19) | (int(debug) << 19)
    report[0x08:0x10] = policy.to_bytes(8, "little")
    report[0x48] = (report[0x48] & ~0x1C) | ((forged.kind == "VLEK") << 2)
    report[0x50:0x90], report[0x90:0xC0] = report_data, measurement
    for offset in (0x38, 0x180, 0x1E0, 0x1F0):
        report[offset : offset + 8] = forged.tcb
    report[0x1A0:0x1E0] = forged.chip_id
    if int.from_bytes(report[0:4], "little") >= 3:
        report[0x188:0x18B] = bytes(
            [forged.product.cpuid_family, forged.product.cpuid_model, report[0x18A]]
        )
    else:
        report[0x188:0x18B] = bytes(3)
    return forged.sign(bytes(report))


# -- fuzzing the parsers and verifiers ---------------------------------------------------------

#: ENCLAVA_FUZZ_EXAMPLES raises the example count for a deeper run (e.g. 5000 nightly).
FUZZ = settings(
    max_examples=int(os.environ.get("ENCLAVA_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
BYTE_EDITS = ("flip", "set", "delete", "insert", "truncate")


def edit_bytes(draw: st.DrawFn, out: bytearray, kind: str) -> None:
    """One edit of ``kind`` (of ``BYTE_EDITS``) at a drawn offset of ``out``, in place."""
    at = draw(st.integers(0, max(len(out) - 1, 0)))
    if kind == "flip" and out:
        out[at] ^= 1 << draw(st.integers(0, 7))
    elif kind == "set" and out:
        out[at] = draw(st.integers(0, 255))
    elif kind == "delete":
        del out[at : at + draw(st.integers(1, 64))]
    elif kind == "insert":
        out[at:at] = draw(st.binary(min_size=1, max_size=64))
    elif kind == "truncate":
        del out[at:]


@st.composite
def byte_edits(draw: st.DrawFn, data: bytes, kinds: tuple[str, ...] = BYTE_EDITS) -> bytes:
    """``data`` after 1-4 random edits of the given kinds."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        edit_bytes(draw, out, draw(st.sampled_from(kinds)))
    return bytes(out)
