"""Confidential serving end to end on the devnet (issue 17): a model owner publishes the shipped
model and prices its tokens, a provider starts a service of it (`provider-node serve`: start on
chain, certify, bind, serve, endpoint), two customers deposit and chat through the official
`openai` client with Enclava's verifying transport, every response verifies, tampered and
foreign-signed responses are refused offline, a revoked enclave is refused before anything is
sent, and the provider's settlement pays exactly the signed usage times the listed prices."""

from __future__ import annotations

import base64
import json
import os
import signal
from dataclasses import replace

import pytest
from eth_account import Account

from demo.parties import parties
from enclava.chain.services import ServiceClient
from enclava.client.serving import EnclaveNotValid, save_response, verify_saved_response
from enclava.devnet import dev_account
from enclava.protocol.errors import ReceiptForged, ReceiptResponseMismatch
from enclava.protocol.service_terms import price_of
from enclava.protocol.serving import sign_receipt
from tests.e2e.serving_support import MODEL_NAME, client_for, running_service
from tests.e2e.serving_support import verified as verified_service

pytestmark = pytest.mark.timeout(900)

DEPOSIT = 10**18
SECRETS = {"customer": "the vault code is 7741", "hospital_a": "patient Zebulon's lab values"}


@pytest.fixture(scope="module")
def service(devnet_manifest, tmp_path_factory):
    with running_service(devnet_manifest, tmp_path_factory.mktemp("provider-serving")) as running:
        yield running


def _revoke(service, enclave: str) -> None:
    """Governance (the devnet's deployer) revokes the enclave in the attestation registry."""
    market = parties(service["manifest"]).market
    call = market.contracts.attestation_registry.functions.revokeEnclave(enclave)
    market.chain.send_call(dev_account("deployer"), call)


def test_two_customers_chat_verified_and_the_settlement_pays_the_signed_usage(service, tmp_path):
    services: ServiceClient = service["services"]
    sid = service["service_id"]
    terms = services.terms(sid)
    assert terms.model_hash == "0x" + service["model"].content_hash.hex()
    ca, verified = verified_service(service)
    assert verified.statement.model_hash == terms.model_hash

    owner_before = services.credit_of(terms.model_owner)
    provider_before = services.credit_of(terms.provider)
    transports = {}
    answers: dict[str, list[str]] = {}
    for role, secret in SECRETS.items():
        customer = dev_account(role)
        services.deposit(customer, sid, DEPOSIT)
        client, transport = client_for(verified, customer)
        chat = client.chat.completions.create(
            model=MODEL_NAME,
            messages=[{"role": "user", "content": f"Remember: {secret}. What is a list?"}],
            max_tokens=24,
            temperature=0,
        )
        streamed = "".join(
            chunk.choices[0].delta.content or ""
            for chunk in client.chat.completions.create(
                model=MODEL_NAME,
                messages=[{"role": "user", "content": "Explain the for statement."}],
                max_tokens=24,
                stream=True,
            )
            if chunk.choices
        )
        completion = client.completions.create(
            model=MODEL_NAME, prompt="The import statement", max_tokens=16
        )
        client.models.list()  # carries the voucher for the last answer
        answers[role] = [
            chat.choices[0].message.content or "",
            streamed,
            completion.choices[0].text,
        ]
        assert all(text.strip() for text in answers[role])
        assert chat.usage is not None and chat.usage.completion_tokens > 0
        transports[role] = transport

    # each answer verified: one receipt per exchange, in sequence, by the statement's enclave
    for transport in transports.values():
        receipts = [exchange.receipt for exchange in transport.journal]
        assert [r.sequence for r in receipts] == list(range(1, len(receipts) + 1))
        assert {r.enclave for r in receipts} == {verified.enclave}
        assert transport.latest_voucher is not None

    # isolation: neither customer's secret reaches the other's answers or any log of the provider
    for role, secret in SECRETS.items():
        others = [t for r, texts in answers.items() if r != role for t in texts]
        assert all(secret not in text for text in others)
    logs = "".join(p.read_text(errors="replace") for p in service["folder"].rglob("*.log"))
    for role, secret in SECRETS.items():
        assert secret not in logs and "Explain the for statement" not in logs
        assert all(text.strip() not in logs for text in answers[role] if len(text.strip()) > 12)

    # offline verification; a tampered response and one signed by another enclave are refused
    exchange = transports["customer"].journal[0]
    saved = save_response(exchange, tmp_path / "response.json")
    assert verify_saved_response(saved, ca_certificate_pem=ca.identity.ca_certificate_pem)
    document = json.loads(saved.read_text())
    raw = bytearray(base64.b64decode(document["response_b64"]))
    raw[len(raw) // 2] ^= 0x20
    tampered = {**document, "response_b64": base64.b64encode(bytes(raw)).decode()}
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    with pytest.raises(ReceiptResponseMismatch):
        verify_saved_response(tmp_path / "tampered.json")
    other_enclave = Account.create()
    impostor = sign_receipt(
        other_enclave, replace(exchange.receipt, enclave=other_enclave.address, signature="")
    )
    foreign = {**document, "receipt": impostor.to_json()}
    (tmp_path / "foreign.json").write_text(json.dumps(foreign))
    with pytest.raises(ReceiptForged):
        verify_saved_response(tmp_path / "foreign.json")

    # a revoked enclave is refused before anything is sent (the statement is public; no token,
    # prompt or voucher leaves the client); the vouchers it signed still settle
    _revoke(service, verified.enclave)
    with pytest.raises(EnclaveNotValid):
        verified_service(service)

    # the provider settles at shutdown: payouts are the vouched counts times the listed prices
    serve = service["serve"]
    os.killpg(serve.pid, signal.SIGTERM)
    serve.wait(timeout=120)
    model_paid = provider_paid = 0
    for role, transport in transports.items():
        voucher = transport.latest_voucher.voucher
        account = services.account(sid, dev_account(role).address)
        assert (account.input_tokens, account.output_tokens, account.compute_ms) == (
            voucher.input_tokens,
            voucher.output_tokens,
            voucher.compute_ms,
        )
        model_part, provider_part, amount = price_of(
            terms, voucher.input_tokens, voucher.output_tokens, voucher.compute_ms
        )
        assert account.settled_amount == amount == voucher.amount
        assert account.balance == DEPOSIT - amount
        model_paid += model_part
        provider_paid += provider_part
    assert services.credit_of(terms.model_owner) - owner_before == model_paid > 0
    assert services.credit_of(terms.provider) - provider_before == provider_paid > 0
