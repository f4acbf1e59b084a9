"""The GPU extensions of enclave certificates: gpu_class (ASCII) and gpu_count (one byte), present
together or not at all; a certificate without them (every older one too) certifies no GPU."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pyrage
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from certification_authority.authority import certified_gpus
from certification_authority.certificates import (
    issue_ca_certificate,
    issue_enclave_certificate,
    verify_enclave_certificate,
)
from certification_authority.errors import CertificateInvalid, GpuClassesMixed
from enclava.protocol.csr import ENCLAVA_OID_ARC, ENCLAVA_OIDS, build_csr
from enclava.protocol.tee import is_gpu_class

PROVIDER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


@pytest.fixture(scope="module")
def ca():
    key = ec.generate_private_key(ec.SECP256R1())
    return key, issue_ca_certificate(key, "test CA")


def _csr() -> x509.CertificateSigningRequest:
    recipient = str(pyrage.x25519.Identity.generate().to_public())
    return x509.load_pem_x509_csr(build_csr(ec.generate_private_key(ec.SECP256K1()), recipient))


def _issue(ca, **gpu) -> bytes:
    ca_key, ca_cert = ca
    cert = issue_enclave_certificate(
        ca_key,
        ca_cert,
        _csr(),
        tee_type=3,
        measurement=b"\x11" * 48,
        provider_address=PROVIDER,
        simulated=True,
        now=int(time.time()),
        lifetime_s=3600,
        **gpu,
    )
    return cert.public_bytes(Encoding.PEM)


def test_the_gpu_extensions_sit_under_enclavas_arc_after_the_others():
    assert ENCLAVA_OIDS["gpu_class"].dotted_string == f"{ENCLAVA_OID_ARC}.7"
    assert ENCLAVA_OIDS["gpu_count"].dotted_string == f"{ENCLAVA_OID_ARC}.8"


def test_a_gpu_certificate_carries_class_and_count(ca):
    pem = _issue(ca, gpu_class="H100", gpu_count=2)
    facts = verify_enclave_certificate(pem, ca[1], now=int(time.time()))
    assert (facts.gpu_class, facts.gpu_count, facts.has_gpu) == ("H100", 2, True)
    cert = x509.load_pem_x509_certificate(pem)
    raw = {ext.oid: ext.value.value for ext in cert.extensions if ext.oid in ENCLAVA_OIDS.values()}
    assert raw[ENCLAVA_OIDS["gpu_class"]] == b"H100"
    assert raw[ENCLAVA_OIDS["gpu_count"]] == b"\x02"


def test_a_certificate_without_gpu_extensions_certifies_no_gpu(ca):
    pem = _issue(ca)
    cert = x509.load_pem_x509_certificate(pem)
    assert {ENCLAVA_OIDS["gpu_class"], ENCLAVA_OIDS["gpu_count"]}.isdisjoint(
        ext.oid for ext in cert.extensions
    )
    facts = verify_enclave_certificate(pem, ca[1], now=int(time.time()))
    assert (facts.gpu_class, facts.gpu_count, facts.has_gpu) == ("", 0, False)


@pytest.mark.parametrize(
    "gpu",
    [
        {"gpu_class": "H100"},  # a class without GPUs
        {"gpu_count": 1},  # GPUs without a class
        {"gpu_class": "H 100", "gpu_count": 1},
        {"gpu_class": "x" * 33, "gpu_count": 1},
        {"gpu_class": "H100", "gpu_count": 256},
        {"gpu_class": "H100", "gpu_count": -1},
        {"gpu_class": "H100", "gpu_count": True},
        {"gpu_class": "Ｈ100", "gpu_count": 1},
    ],
)
def test_issuing_refuses_inconsistent_gpu_fields(ca, gpu):
    with pytest.raises(CertificateInvalid):
        _issue(ca, **gpu)


def _forged(ca, extensions: dict[str, bytes]) -> bytes:
    """A certificate signed by the CA with hand-made GPU extension values."""
    ca_key, ca_cert = ca
    good = x509.load_pem_x509_certificate(_issue(ca))
    builder = (
        x509.CertificateBuilder()
        .subject_name(good.subject)
        .issuer_name(ca_cert.subject)
        .public_key(good.public_key())
        .serial_number(good.serial_number)
        .not_valid_before(good.not_valid_before_utc)
        .not_valid_after(good.not_valid_after_utc)
    )
    for ext in good.extensions:
        builder = builder.add_extension(ext.value, critical=ext.critical)
    for name, value in extensions.items():
        builder = builder.add_extension(
            x509.UnrecognizedExtension(ENCLAVA_OIDS[name], value), critical=False
        )
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(Encoding.PEM)


@pytest.mark.parametrize(
    "extensions",
    [
        {"gpu_class": b"H100"},
        {"gpu_count": b"\x01"},
        {"gpu_class": b"H100", "gpu_count": b"\x00"},
        {"gpu_class": b"H100", "gpu_count": b"\x01\x00"},
        {"gpu_class": b"H100", "gpu_count": b""},
        {"gpu_class": b"", "gpu_count": b"\x01"},
        {"gpu_class": b"H\xff100", "gpu_count": b"\x01"},
        {"gpu_class": b"H 100", "gpu_count": b"\x01"},
    ],
)
def test_reading_refuses_malformed_gpu_extensions(ca, extensions):
    with pytest.raises(CertificateInvalid):
        verify_enclave_certificate(_forged(ca, extensions), ca[1], now=int(time.time()))


def test_the_certified_class_is_the_gpus_one_class():
    gpus = [SimpleNamespace(gpu_class="H100"), SimpleNamespace(gpu_class="H100")]
    assert certified_gpus(gpus) == ("H100", 2)
    assert certified_gpus([]) == ("", 0)
    with pytest.raises(GpuClassesMixed) as info:
        certified_gpus([SimpleNamespace(gpu_class="H100"), SimpleNamespace(gpu_class="H200")])
    assert info.value.code == "gpu_classes_mixed" and info.value.http_status == 422


@pytest.mark.parametrize(
    ("label", "ok"),
    [
        ("H100", True),
        ("H100-80GB", True),
        ("x" * 32, True),
        ("", False),
        ("x" * 33, False),
        ("H 100", False),
        ("H100\x00", False),
        (b"H100", False),
        (None, False),
    ],
)
def test_gpu_class_labels(label, ok):
    assert is_gpu_class(label) is ok
