"""The provider's EIP-712 consent to an enclave: signed and recovered through one typed-data
builder, refused with ConsentInvalid when malformed. (The contract tests check the registry's
digest against eth-account's; the integration tests register real consents on the devnet.)"""

from __future__ import annotations

import os

import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_defunct, encode_typed_data

from enclava.protocol.consent import (
    ConsentInvalid,
    consent_typed_data,
    recover_consent_signer,
    sign_enclave_consent,
)

REGISTRY = "0x" + "12" * 20
CHAIN_ID = 31337


@pytest.fixture
def parties():
    provider, enclave = Account.create(), Account.create()
    return provider, enclave.address, os.urandom(32)


def _where(enclave: str, provider: str, nonce: bytes | str, changes: dict | None = None) -> dict:
    return {
        "enclave": enclave,
        "provider": provider,
        "nonce": nonce,
        "chain_id": CHAIN_ID,
        "registry": REGISTRY,
        **(changes or {}),
    }


def test_sign_enclave_consent_recovers_to_the_provider(parties):
    provider, enclave, nonce = parties
    signature = sign_enclave_consent(provider, **_where(enclave, provider.address, nonce))
    assert signature.startswith("0x") and len(bytes.fromhex(signature[2:])) == 65
    recovered = recover_consent_signer(
        signature, **_where(enclave, provider.address, "0x" + nonce.hex())
    )
    assert recovered == provider.address


@pytest.mark.parametrize(
    "change",
    [
        {"enclave": "0x" + "34" * 20},
        {"nonce": b"\x01" * 32},
        {"chain_id": 1},
        {"registry": "0x" + "56" * 20},
    ],
)
def test_consent_recovers_someone_else_for_another_enclave_nonce_or_domain(parties, change):
    provider, enclave, nonce = parties
    signature = sign_enclave_consent(provider, **_where(enclave, provider.address, nonce))
    assert (
        recover_consent_signer(signature, **_where(enclave, provider.address, nonce, change))
        != provider.address
    )


def test_an_eip191_text_signature_is_no_consent(parties):
    provider, enclave, nonce = parties
    text = provider.sign_message(encode_defunct(text=f"{enclave}:{nonce.hex()}")).signature
    assert (
        recover_consent_signer(bytes(text), **_where(enclave, provider.address, nonce))
        != provider.address
    )


def test_consent_typed_data_is_the_registry_domain_and_type(parties):
    provider, enclave, nonce = parties
    typed = consent_typed_data(**_where(enclave.lower(), provider.address, nonce))
    assert typed["domain"] == {
        "name": "Enclava AttestationRegistry",
        "version": "1",
        "chainId": CHAIN_ID,
        "verifyingContract": "0x" + "12" * 20,
    }
    assert [f["type"] for f in typed["types"]["EnclaveConsent"]] == [
        "address",
        "address",
        "bytes32",
    ]
    assert typed["message"]["enclave"] == enclave
    assert len(_hash_eip191_message(encode_typed_data(full_message=typed))) == 32


@pytest.mark.parametrize(
    "signature", ["", "0x", "0xzz", "0x" + "00" * 64, "0x" + "00" * 65, b"\x01" * 66]
)
def test_a_malformed_signature_is_consent_invalid(parties, signature):
    provider, enclave, nonce = parties
    with pytest.raises(ConsentInvalid) as caught:
        recover_consent_signer(signature, **_where(enclave, provider.address, nonce))
    assert (
        caught.value.code == "provider_consent_invalid"
        and "sign_enclave_consent" in caught.value.hint
    )


@pytest.mark.parametrize(
    "change",
    [
        {"nonce": b"\x01" * 31},
        {"nonce": "0xnothex"},
        {"enclave": "0x1234"},
        {"registry": "registry"},
    ],
)
def test_a_malformed_nonce_or_address_is_consent_invalid(parties, change):
    provider, enclave, nonce = parties
    with pytest.raises(ConsentInvalid):
        sign_enclave_consent(provider, **_where(enclave, provider.address, nonce, change))
