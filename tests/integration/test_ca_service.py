"""The CA on the devnet: real HTTP, real evidence format, real on-chain registration."""

from __future__ import annotations

import json

import httpx
import pyrage
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from eth_account.messages import encode_defunct
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certification_authority.authority import provider_consent_message
from certification_authority.certificates import build_csr, enclave_address_of
from enclava.attestation import bind_report_data
from enclava.attestation.simulated import SimulatedTdxAttester
from enclava.chain import ChainClient
from enclava.chain.contracts import ContractSet
from enclava.devnet import dev_account
from enclava.devnet.measurements import DEV_LOADER_MEASUREMENT


@pytest.fixture(scope="module")
def ca_url(devnet_manifest):
    return devnet_manifest.services["ca"].url


def _certify_body(ca_url, *, measurement=DEV_LOADER_MEASUREMENT, provider_role="provider", nonce=None):
    nonce = nonce or httpx.post(f"{ca_url}/v1/challenge").json()["nonce"]
    key = ec.generate_private_key(ec.SECP256K1())
    spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    evidence = SimulatedTdxAttester(measurement).attest(bind_report_data(bytes.fromhex(nonce), spki))
    enclave = enclave_address_of(key.public_key())
    provider = dev_account(provider_role)
    consent = provider.sign_message(encode_defunct(text=provider_consent_message(enclave, nonce)))
    return enclave, {
        "evidence": json.loads(evidence.to_json()),
        "csr_pem": build_csr(key, str(pyrage.x25519.Identity.generate().to_public())).decode(),
        "nonce": nonce, "provider": provider.address, "provider_signature": "0x" + consent.signature.hex(),
    }


def test_ca_identity_carries_its_own_evidence(ca_url):
    reply = httpx.get(f"{ca_url}/v1/ca", params={"nonce": "ab" * 32}).json()
    assert reply["signer_address"] == dev_account("ca").address
    assert reply["age_recipient"].startswith("age1")
    assert reply["evidence"]["tee_type"] == "simulated"  # real-format TDX quote from the dev PKI


def test_certify_issues_a_certificate_and_registers_the_enclave(ca_url, devnet_manifest):
    enclave, body = _certify_body(ca_url)
    reply = httpx.post(f"{ca_url}/v1/certify", json=body, timeout=30)
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert result["enclave_address"] == enclave and result["simulated"] is True and result["tee_type"] == 3
    assert result["registration_tx"].startswith("0x")
    chain = ChainClient(devnet_manifest.rpc_url)
    contracts = ContractSet(chain.w3, devnet_manifest.contracts)
    valid, reason = contracts.attestation_registry.functions.checkEnclave(enclave).call()
    assert valid, reason
    record = contracts.attestation_registry.functions.getEnclave(enclave).call()
    assert record[0] == dev_account("provider").address


def test_a_reused_nonce_is_refused(ca_url):
    _, body = _certify_body(ca_url)
    assert httpx.post(f"{ca_url}/v1/certify", json=body, timeout=30).status_code == 200
    _, again = _certify_body(ca_url, nonce=body["nonce"])
    reply = httpx.post(f"{ca_url}/v1/certify", json=again, timeout=30)
    assert reply.status_code in (400, 401, 403) and reply.json()["type"].startswith("nonce")


def test_a_measurement_off_the_on_chain_allow_list_is_refused(ca_url):
    _, body = _certify_body(ca_url, measurement=b"\x42" * 48)
    reply = httpx.post(f"{ca_url}/v1/certify", json=body, timeout=30)
    assert reply.status_code >= 400 and reply.json()["type"] == "measurement_not_allowed"


def test_consent_signed_by_someone_else_is_refused(ca_url):
    _, body = _certify_body(ca_url)
    body["provider"] = dev_account("provider_b").address
    reply = httpx.post(f"{ca_url}/v1/certify", json=body, timeout=30)
    assert reply.status_code == 401 and reply.json()["type"] == "provider_consent_invalid"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(["evidence", "csr_pem", "nonce", "provider", "provider_signature", "x"]),
                       st.one_of(st.text(max_size=40), st.integers(), st.none(),
                                 st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=3))))
def test_garbled_certify_requests_never_answer_500(ca_url, body):
    reply = httpx.post(f"{ca_url}/v1/certify", json=body, timeout=30)
    assert 400 <= reply.status_code < 500, reply.text
    assert set(reply.json()) >= {"type", "detail"}
