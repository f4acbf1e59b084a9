"""Helpers for the CA verifier tests: vectors, enclave keys, and a forged AMD chain.

The forged chain (our own ARK → ASK → VCEK, RSA-PSS like AMD's) exists for two reasons: to prove
that a self-consistent chain under *another* root is refused, and, when a test explicitly pins
its ARK, to drive the SEV-SNP path through the full pipeline with report_data of our choosing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from enclava.errors import EnclavaError

VECTORS = Path(__file__).resolve().parents[2] / "fixtures" / "attestation"
TDX_PINNED_TIME = 1752919234  # the last second at which the vector's collateral is all valid
SNP_VALID_TIME = 1795000000  # 2026-11: inside the VCEK's validity (2022-09-24 .. 2029-09-24)


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


@dataclass(frozen=True)
class ForgedAmd:
    """A complete SEV-SNP signing setup under a root that is not AMD's."""

    ark_sha256: str
    chain_pem: bytes
    vcek_key: ec.EllipticCurvePrivateKey
    chip_id: bytes
    tcb: bytes  # REPORTED_TCB the VCEK certifies

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


def forge_amd() -> ForgedAmd:
    """Generate a fresh forged AMD hierarchy (RSA-2048 to keep tests fast; AMD uses 4096)."""
    ark_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ask_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    vcek_key = ec.generate_private_key(ec.SECP384R1())
    chip_id, tcb = hashlib.sha512(b"forged chip").digest(), bytes([2, 0, 0, 0, 0, 0, 5, 0x44])
    spl = [
        ("1.3.6.1.4.1.3704.1.3.1", b"\x02\x01\x02"),
        ("1.3.6.1.4.1.3704.1.3.2", b"\x02\x01\x00"),
        ("1.3.6.1.4.1.3704.1.3.3", b"\x02\x01\x05"),
        ("1.3.6.1.4.1.3704.1.3.8", b"\x02\x01\x44"),
        ("1.3.6.1.4.1.3704.1.4", chip_id),
    ]
    ark = _cert("ARK-Forged", ark_key, "ARK-Forged", ark_key, ca=True)
    ask = _cert("SEV-Forged", ask_key, "ARK-Forged", ark_key, ca=True)
    vcek = _cert("SEV-VCEK", vcek_key, "SEV-Forged", ask_key, ca=False, extra=spl)
    chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (vcek, ask, ark))
    return ForgedAmd(
        hashlib.sha256(ark.public_bytes(serialization.Encoding.DER)).hexdigest(),
        chain,
        vcek_key,
        chip_id,
        tcb,
    )


def snp_report(
    template: bytes,
    forged: ForgedAmd,
    *,
    report_data: bytes,
    measurement: bytes,
    debug: bool = False,
) -> bytes:
    """A report like ``template`` (the vector) for the forged chip, with our fields, signed by
    ``forged``."""
    report = bytearray(template)
    policy = int.from_bytes(report[0x08:0x10], "little") & ~(1 << 19) | (int(debug) << 19)
    report[0x08:0x10] = policy.to_bytes(8, "little")
    report[0x50:0x90], report[0x90:0xC0] = report_data, measurement
    report[0x180:0x188], report[0x1A0:0x1E0] = forged.tcb, forged.chip_id
    return forged.sign(bytes(report))
