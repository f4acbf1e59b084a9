"""Enclave certificates carry the attested facts and verify only under their CA, in their window."""

from __future__ import annotations

import base64
import time

import pyrage
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from certification_authority.certificates import (
    issue_ca_certificate,
    issue_enclave_certificate,
    verify_enclave_certificate,
)
from certification_authority.errors import CertificateInvalid
from enclava.protocol.csr import build_csr, enclave_address_of

PROVIDER = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


@pytest.fixture(scope="module")
def ca():
    key = ec.generate_private_key(ec.SECP256R1())
    return key, issue_ca_certificate(key, "test CA")


def _issue(ca, *, now=None, lifetime=3600, simulated=True):
    ca_key, ca_cert = ca
    enclave_key = ec.generate_private_key(ec.SECP256K1())
    recipient = str(pyrage.x25519.Identity.generate().to_public())
    csr = x509.load_pem_x509_csr(build_csr(enclave_key, recipient))
    now = int(time.time()) if now is None else now
    cert = issue_enclave_certificate(
        ca_key,
        ca_cert,
        csr,
        tee_type=3,
        measurement=b"\x11" * 48,
        provider_address=PROVIDER,
        simulated=simulated,
        now=now,
        lifetime_s=lifetime,
    )
    return enclave_key, recipient, cert.public_bytes(Encoding.PEM)


def test_issued_certificate_carries_the_attested_facts(ca):
    enclave_key, recipient, pem = _issue(ca)
    facts = verify_enclave_certificate(pem, ca[1], now=int(time.time()))
    assert facts.tee_type == 3 and facts.simulated is True
    assert facts.measurement == "11" * 48
    assert facts.enclave_address == enclave_address_of(enclave_key.public_key())
    assert facts.provider_address == PROVIDER
    assert facts.age_recipient == recipient
    assert facts.not_after - facts.not_before == 3600


def test_certificate_of_another_ca_is_refused(ca):
    _, _, pem = _issue(ca)
    other_key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(CertificateInvalid):
        verify_enclave_certificate(
            pem, issue_ca_certificate(other_key, "test CA"), now=int(time.time())
        )


def test_expired_certificate_is_refused(ca):
    _, _, pem = _issue(ca, now=int(time.time()) - 7200, lifetime=3600)
    with pytest.raises(CertificateInvalid) as info:
        verify_enclave_certificate(pem, ca[1], now=int(time.time()))
    assert info.value.code == "certificate_expired"


def test_tampered_certificate_is_refused(ca):
    _, _, pem = _issue(ca)
    der = bytearray(x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER))
    der[-80] ^= 0x01
    tampered = (
        b"-----BEGIN CERTIFICATE-----\n"
        + base64.encodebytes(bytes(der))
        + b"-----END CERTIFICATE-----\n"
    )
    with pytest.raises(CertificateInvalid):
        verify_enclave_certificate(tampered, ca[1], now=int(time.time()))


def test_garbage_is_a_typed_error(ca):
    with pytest.raises(CertificateInvalid):
        verify_enclave_certificate(b"not a certificate", ca[1], now=int(time.time()))
