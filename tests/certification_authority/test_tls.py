"""The CA's TLS identity: a self-signed P-256 server certificate naming its hosts, reused while it
is for the same key and names, and a key file that is encrypted under a per-start password
(0600)."""

from __future__ import annotations

import ipaddress
import ssl
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certification_authority.tls import issue_tls_certificate, load_or_create_tls, tls_names
from enclava.ca_link import spki_sha256


@pytest.fixture
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def test_the_names_are_loopback_plus_the_configured_ones():
    assert tls_names("") == ("127.0.0.1", "localhost")
    assert tls_names(" ca.example, 10.0.0.5,localhost ") == (
        "127.0.0.1",
        "localhost",
        "ca.example",
        "10.0.0.5",
    )


def test_the_certificate_is_a_server_leaf_for_exactly_those_names(key):
    cert = issue_tls_certificate(key, "enclava-ca", tls_names("ca.example"))
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert sans.get_values_for_type(x509.DNSName) == ["localhost", "ca.example"]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert (
        isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
        and cert.public_key().curve.name == "secp256r1"
    )


def test_files_are_reused_for_the_same_key_and_names_and_the_key_file_is_encrypted(tmp_path, key):
    first = load_or_create_tls(key, tmp_path, "enclava-ca")
    second = load_or_create_tls(key, tmp_path, "enclava-ca")
    assert (
        first.certificate_pem == second.certificate_pem
        and first.key_password != second.key_password
    )
    assert stat.S_IMODE(second.keyfile.stat().st_mode) == 0o600
    with pytest.raises(TypeError):  # encrypted: unreadable without this start's password
        serialization.load_pem_private_key(second.keyfile.read_bytes(), password=None)
    loaded = serialization.load_pem_private_key(
        second.keyfile.read_bytes(), second.key_password.encode()
    )
    assert loaded.private_numbers() == key.private_numbers()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # what uvicorn does with the three values
    context.load_cert_chain(second.certfile, second.keyfile, password=second.key_password)
    assert "password" not in repr(second) and second.key_password not in repr(second)


def test_another_key_or_other_names_reissue_the_certificate(tmp_path, key):
    first = load_or_create_tls(key, tmp_path, "enclava-ca")
    renamed = load_or_create_tls(key, tmp_path, "enclava-ca", tls_names("ca.example"))
    assert renamed.certificate_pem != first.certificate_pem and spki_sha256(
        renamed.certificate_pem
    ) == spki_sha256(first.certificate_pem)
    rotated = load_or_create_tls(ec.generate_private_key(ec.SECP256R1()), tmp_path, "enclava-ca")
    assert spki_sha256(rotated.certificate_pem) != spki_sha256(first.certificate_pem)
