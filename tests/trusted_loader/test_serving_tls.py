"""The service's TLS identity: a fresh P-256 key, a self-signed certificate for its hosts, valid
for the service's lifetime, and files that exist only until the server has loaded them."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import ssl
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from trusted_loader.scratch import Scratch, wipe_tree
from trusted_loader.serving import ServingSetupFailed, make_tls_identity, tls_spki_sha256


def test_certificate_is_p256_self_signed_for_the_hosts_until_the_service_ends():
    now = time.time()
    identity = make_tls_identity(("127.0.0.1", "svc.example"), not_after=int(now) + 3600, now=now)
    cert = x509.load_pem_x509_certificate(identity.certificate_pem.encode())
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    cert.verify_directly_issued_by(cert)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert names.get_values_for_type(x509.DNSName) == ["svc.example"]
    assert cert.not_valid_after_utc == datetime.datetime.fromtimestamp(
        int(now) + 3600, datetime.UTC
    )
    assert cert.not_valid_before_utc.timestamp() <= now


def test_spki_hash_is_over_the_public_key_and_each_identity_is_fresh():
    end = int(time.time()) + 60
    first, second = (
        make_tls_identity(("a",), not_after=end),
        make_tls_identity(("a",), not_after=end),
    )
    spki = (
        x509.load_pem_x509_certificate(first.certificate_pem.encode())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    assert first.spki_sha256 == "0x" + hashlib.sha256(spki).hexdigest()
    assert tls_spki_sha256(first.certificate_pem) == first.spki_sha256 != second.spki_sha256


def test_an_ended_service_or_no_host_gets_no_certificate():
    with pytest.raises(ServingSetupFailed):
        make_tls_identity(("a",), not_after=int(time.time()) - 1)
    with pytest.raises(ServingSetupFailed):
        make_tls_identity((), not_after=int(time.time()) + 60)


def test_server_files_are_private_load_into_ssl_and_are_wiped(tmp_path):
    identity = make_tls_identity(("localhost",), not_after=int(time.time()) + 60)
    with Scratch(tmp_path) as scratch:
        folder = scratch.sub("tls")
        key_file, cert_file = identity.server_files(folder)
        assert key_file.stat().st_mode & 0o777 == 0o600
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert_file, key_file)
        wipe_tree(folder)
        assert not folder.exists()
