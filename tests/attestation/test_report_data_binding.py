"""report_data = SHA-512(domain tag || nonce || SPKI DER): one function for enclave and CA."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from enclava.attestation import (
    NONCE_LENGTH,
    REPORT_DATA_DOMAIN,
    REPORT_DATA_LENGTH,
    EvidenceFormatError,
    bind_report_data,
    report_data_matches,
)

NONCE = bytes(range(NONCE_LENGTH))


def _spki(key) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


KEY = _spki(ec.derive_private_key(7, ec.SECP256R1()))


def test_binding_is_sha512_of_tag_nonce_and_spki():
    assert bind_report_data(NONCE, KEY) == hashlib.sha512(REPORT_DATA_DOMAIN + NONCE + KEY).digest()
    assert len(bind_report_data(NONCE, KEY)) == REPORT_DATA_LENGTH


def test_binding_changes_with_nonce_and_key():
    other_key = _spki(ed25519.Ed25519PrivateKey.from_private_bytes(bytes(32)))
    values = {
        bind_report_data(NONCE, KEY),
        bind_report_data(bytes(32), KEY),
        bind_report_data(NONCE, other_key),
    }
    assert len(values) == 3


def test_report_data_matches_only_the_exact_binding():
    expected = bind_report_data(NONCE, KEY)
    assert report_data_matches(expected, NONCE, KEY)
    assert not report_data_matches(expected[:-1] + bytes([expected[-1] ^ 1]), NONCE, KEY)


@pytest.mark.parametrize("nonce", [b"", bytes(31), bytes(33), "0" * 32])
def test_nonce_must_be_32_bytes(nonce):
    with pytest.raises(EvidenceFormatError):
        bind_report_data(nonce, KEY)


@pytest.mark.parametrize(
    "key", [b"", b"\x30\x00", KEY + b"\x00", KEY[:-1], KEY.hex().encode(), None]
)
def test_key_must_be_spki_der(key):
    with pytest.raises(EvidenceFormatError):
        bind_report_data(NONCE, key)


def test_alternative_encoding_of_the_same_key_is_refused():
    """A compressed-point SPKI names the same key; only the one canonical (uncompressed) DER
    binds."""
    public = ec.derive_private_key(7, ec.SECP256R1()).public_key()
    point = public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    algorithm = KEY[
        2 : KEY.index(b"\x03\x42\x00")
    ]  # the AlgorithmIdentifier SEQUENCE of the canonical SPKI
    body = algorithm + bytes([0x03, len(point) + 1, 0x00]) + point
    compressed = bytes([0x30, len(body)]) + body
    assert serialization.load_der_public_key(compressed).public_numbers() == public.public_numbers()
    with pytest.raises(EvidenceFormatError, match="canonical"):
        bind_report_data(NONCE, compressed)


# -- v2: the GPUs' evidence digest joins the preimage -------------------------------------------

GPU_DIGEST = hashlib.sha256(b"gpu evidence").digest()


def test_gpu_binding_is_sha512_of_v2_tag_nonce_gpu_digest_and_spki():
    from enclava.attestation import GPU_DIGEST_LENGTH, REPORT_DATA_DOMAIN_V2

    assert GPU_DIGEST_LENGTH == 32 and REPORT_DATA_DOMAIN_V2 != REPORT_DATA_DOMAIN
    assert (
        bind_report_data(NONCE, KEY, GPU_DIGEST)
        == hashlib.sha512(REPORT_DATA_DOMAIN_V2 + NONCE + GPU_DIGEST + KEY).digest()
    )


def test_no_gpu_digest_is_the_v1_binding_byte_for_byte():
    assert bind_report_data(NONCE, KEY, None) == bind_report_data(NONCE, KEY)
    assert bind_report_data(NONCE, KEY) == hashlib.sha512(REPORT_DATA_DOMAIN + NONCE + KEY).digest()


def test_gpu_binding_differs_from_v1_and_with_every_gpu_digest():
    values = {
        bind_report_data(NONCE, KEY),
        bind_report_data(NONCE, KEY, GPU_DIGEST),
        bind_report_data(NONCE, KEY, bytes(32)),
        bind_report_data(NONCE, KEY, GPU_DIGEST[:-1] + bytes([GPU_DIGEST[-1] ^ 1])),
    }
    assert len(values) == 4


def test_report_data_matches_needs_the_same_gpu_digest():
    bound = bind_report_data(NONCE, KEY, GPU_DIGEST)
    assert report_data_matches(bound, NONCE, KEY, GPU_DIGEST)
    assert not report_data_matches(bound, NONCE, KEY)
    assert not report_data_matches(bind_report_data(NONCE, KEY), NONCE, KEY, GPU_DIGEST)
    assert not report_data_matches(bound, NONCE, KEY, bytes(32))


@pytest.mark.parametrize("digest", [b"", bytes(31), bytes(33), "00" * 32, bytearray(32)])
def test_gpu_digest_must_be_32_bytes(digest):
    with pytest.raises(EvidenceFormatError):
        bind_report_data(NONCE, KEY, digest)
