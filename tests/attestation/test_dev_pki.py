"""The development PKI: deterministic from its public seed, shaped like Intel's so dcap-qvl accepts
it."""

from __future__ import annotations

import hashlib

import dcap_qvl
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from enclava.attestation import DEV_PKI_SEED, development_pki, development_root_der
from enclava.attestation.devpki import DEV_PLATFORM

# The development root every machine derives; if this changes, all simulated evidence changes.
DEV_ROOT_SHA256 = "291418f730052fd0dadd3a97c629760b27a86a1bbaf4e7eeae6eb5fe0d802c71"


def test_seed_says_it_is_public_and_for_development_only():
    assert b"PUBLIC" in DEV_PKI_SEED and b"DEVELOPMENT ONLY" in DEV_PKI_SEED


def test_root_is_the_same_everywhere():
    assert hashlib.sha256(development_root_der()).hexdigest() == DEV_ROOT_SHA256


def test_fresh_derivation_is_byte_identical():
    before = development_pki()
    development_pki.cache_clear()
    after = development_pki()
    assert after is not before
    assert (
        after.pck_chain_pem == before.pck_chain_pem
        and after.tcb_signing_chain_pem == before.tcb_signing_chain_pem
    )
    assert after.crl("pck", issued_at=1, validity_s=2) == before.crl(
        "pck", issued_at=1, validity_s=2
    )


def test_hierarchy_mirrors_intels():
    pki = development_pki()
    pki.pck_ca_cert.verify_directly_issued_by(pki.root_cert)
    pki.tcb_signing_cert.verify_directly_issued_by(pki.root_cert)
    pki.pck_cert.verify_directly_issued_by(pki.pck_ca_cert)
    constraints = {
        name: cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        for name, cert in [
            ("root", pki.root_cert),
            ("pck_ca", pki.pck_ca_cert),
            ("tcb", pki.tcb_signing_cert),
            ("pck", pki.pck_cert),
        ]
    }
    assert (constraints["root"].ca, constraints["root"].path_length) == (True, 1)
    assert (constraints["pck_ca"].ca, constraints["pck_ca"].path_length) == (True, 0)
    assert not constraints["tcb"].ca and not constraints["pck"].ca
    assert all(
        "INSECURE" in cert.subject.rfc4514_string() for cert in (pki.root_cert, pki.pck_cert)
    )


def test_pck_certificate_carries_the_sgx_extension_dcap_qvl_reads():
    extension = dcap_qvl.parse_pck_extension_from_pem(development_pki().pck_chain_pem.encode())
    assert extension.fmspc == DEV_PLATFORM.fmspc
    assert extension.pce_id == DEV_PLATFORM.pce_id
    assert extension.pce_svn == DEV_PLATFORM.pce_svn
    assert extension.cpu_svn == DEV_PLATFORM.cpu_svn
    assert extension.sgx_type == 1
    assert extension.get_value("1.2.840.113741.1.13.1.2.1") == bytes([DEV_PLATFORM.cpu_svn[0]])


@pytest.mark.parametrize("issuer", ["root", "pck"])
def test_crls_are_empty_signed_and_dated(issuer):
    pki = development_pki()
    crl = x509.load_der_x509_crl(pki.crl(issuer, issued_at=1_790_000_000, validity_s=3600))
    signer = pki.root_cert if issuer == "root" else pki.pck_ca_cert
    assert crl.is_signature_valid(signer.public_key()) and len(crl) == 0
    assert crl.issuer == signer.subject
    assert (crl.next_update_utc - crl.last_update_utc).total_seconds() == 3600


def test_root_der_is_the_root_certificate():
    pki = development_pki()
    assert development_root_der() == pki.root_cert.public_bytes(serialization.Encoding.DER)
