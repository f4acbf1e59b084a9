"""ServiceClient on the real devnet (integration: anvil with the deployed ServiceMarket): a model
owner prices a model, a provider starts a service and publishes its endpoint, two customers
deposit and sign cumulative vouchers, a relayer settles them, the payees' credits equal the signed
counts times the listed prices exactly, and refusals come back as the contract's named errors.

Time is never moved on the shared devnet: the close notice's end is covered by the contract tests.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os

import pytest
from eth_account import Account

from certification_authority.onchain import EnclaveRegistrar, EnclaveRegistration
from enclava.chain import ChainClient, MarketClient, ServiceClient
from enclava.chain.errors import TransactionReverted
from enclava.chain.services import ServiceNotFound, ServiceStatus, service_id_bytes
from enclava.chain.types import ResourceKind
from enclava.devnet import dev_account
from enclava.protocol.consent import sign_enclave_consent
from enclava.protocol.service_terms import ServiceTerms, price_of
from enclava.protocol.tee import TeeType

FUNDER_INDEX = 11  # this folder's devnet account (test_revert_devnet.py funds from it too)
PRICE_PER_SECOND = 10**9
INPUT_PRICE = 2 * 10**6
OUTPUT_PRICE = 5 * 10**6
LIFETIME = 7 * 24 * 3600
MEASUREMENT = hashlib.sha256(b"test_services").digest()


@pytest.fixture(scope="module")
def clients(devnet_manifest) -> tuple[MarketClient, ServiceClient]:
    return MarketClient.from_manifest(devnet_manifest), ServiceClient.from_manifest(devnet_manifest)


def _funded(market: MarketClient, ether: int = 20):
    account = Account.create()
    ChainClient(market.chain.rpc_url).transfer(
        dev_account(FUNDER_INDEX), account.address, ether * 10**18
    )
    return account


def _governance(market: MarketClient, call) -> None:
    """A registry call by the devnet's governance (the deployer owns the attestation registry)."""
    tx = call.build_transaction({"from": dev_account("deployer").address, "gas": 200_000})
    market.chain.send(dev_account("deployer"), {"to": tx["to"], "data": tx["data"], "value": 0})


def _certified_enclave(market: MarketClient, ca, provider) -> str:
    """A fresh SIMULATED enclave of ``provider``, registered by ``ca`` with its consent."""
    enclave = Account.create()
    registrar = EnclaveRegistrar(market.chain, market.contracts, ca)
    reg = EnclaveRegistration(
        enclave.address,
        int(TeeType.SIMULATED),
        MEASUREMENT,
        provider.address,
        market.chain_time() + 3600,
        os.urandom(32),
    )
    consent = sign_enclave_consent(
        provider,
        enclave=enclave.address,
        provider=provider.address,
        nonce=reg.nonce,
        chain_id=registrar.chain_id,
        registry=registrar.registry_address,
    )
    registrar.submit(reg, registrar.sign(reg), consent)
    return str(enclave.address)


@pytest.fixture(scope="module")
def world(clients):
    """A bonded provider with a SIMULATED CPU offer, and a model priced per token."""
    market, services = clients
    provider, owner = _funded(market), _funded(market)
    market.register_provider(provider, market.min_stake())
    tee_offer_id = market.publish_tee_offer(
        provider,
        tee_type=int(TeeType.SIMULATED),
        gpu_class="cpu",
        price_per_second=PRICE_PER_SECOND,
        slots=1,
    )
    model_id = market.list_resource(
        owner,
        kind=ResourceKind.MODEL,
        cid="bafy-served-model",
        content_hash=hashlib.sha256(os.urandom(16)).digest(),
        price=1,
    )
    services.set_token_prices(owner, model_id, input_price=INPUT_PRICE, output_price=OUTPUT_PRICE)
    ca = _funded(market)
    registry = market.contracts.attestation_registry
    _governance(market, registry.functions.addCaSigner(ca.address))
    _governance(market, registry.functions.allowMeasurement(int(TeeType.SIMULATED), MEASUREMENT))
    return {
        "provider": provider,
        "owner": owner,
        "offer": tee_offer_id,
        "model": model_id,
        "ca": ca,
    }


@pytest.fixture(scope="module")
def started(clients, world) -> ServiceTerms:
    _, services = clients
    terms = services.terms_for(
        world["provider"].address,
        tee_offer_id=world["offer"],
        model_id=world["model"],
        ends_at=services.chain_time() + LIFETIME,
    )
    service_id = services.start_service(world["provider"], terms)
    stored = services.terms(service_id)
    assert stored.service_id == service_id
    return stored


def test_started_service_reads_back_with_its_terms_endpoint_and_state(clients, world, started):
    _, services = clients
    assert started.model_owner == world["owner"].address
    assert (started.input_token_price, started.output_token_price) == (INPUT_PRICE, OUTPUT_PRICE)
    assert (started.provider_per_token, started.provider_price) == (False, PRICE_PER_SECOND)
    assert services.token_prices(world["model"]) == (INPUT_PRICE, OUTPUT_PRICE)
    assert services.serving_price(world["offer"]) == (False, PRICE_PER_SECOND)
    state = services.service_state(started.service_id)
    assert state.status is ServiceStatus.LIVE and state.ends_at == started.ends_at
    assert services.is_live(started.service_id)
    assert services.endpoint(started.service_id) is None
    services.set_endpoint(world["provider"], started, "https://127.0.0.1:9443")
    assert services.endpoint(started.service_id) == "https://127.0.0.1:9443"
    listed = services.started_services(provider=world["provider"].address)
    assert started in listed
    assert all(t.provider == world["provider"].address for t in listed)


def test_two_customers_settle_and_payouts_are_counts_times_prices(clients, world, started):
    market, services = clients
    a, b, relayer = _funded(market), _funded(market), _funded(market)
    owner, provider = world["owner"].address, world["provider"].address
    credits_before = services.credit_of(owner), services.credit_of(provider)
    for customer in (a, b):
        services.deposit(customer, started.service_id, 10**16)
    usage = {a: [(120, 40, 1_500), (300, 95, 4_001)], b: [(7, 3, 250)]}
    for customer, steps in usage.items():
        for counts in steps:
            voucher = services.voucher(
                started,
                customer.address,
                input_tokens=counts[0],
                output_tokens=counts[1],
                compute_ms=counts[2],
            )
            signature = services.sign_voucher(customer, voucher)
            tx = services.settle(relayer, started, voucher, signature)
            assert services.settled(tx)[0]["amount"] == voucher.amount
    final = {a: usage[a][-1], b: usage[b][-1]}
    model_total = sum(i * INPUT_PRICE + o * OUTPUT_PRICE for i, o, _ in final.values())
    provider_total = sum(ms * PRICE_PER_SECOND // 1000 for _, _, ms in final.values())
    assert services.credit_of(owner) - credits_before[0] == model_total
    assert services.credit_of(provider) - credits_before[1] == provider_total
    for customer, counts in final.items():
        account = services.account(started.service_id, customer.address)
        assert account.balance == 10**16 - price_of(started, *counts)[2]
        assert (account.input_tokens, account.output_tokens, account.compute_ms) == counts
    before, owed = services.chain.balance(owner), services.credit_of(owner)
    tx = services.withdraw(world["owner"])
    receipt = services.chain.w3.eth.get_transaction_receipt(tx.tx_hash)
    gas_cost = int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])
    assert services.credit_of(owner) == 0
    assert services.chain.balance(owner) == before + owed - gas_cost


def test_refused_vouchers_come_back_as_named_service_errors(clients, world, started):
    market, services = clients
    customer, stranger = _funded(market), _funded(market)
    services.deposit(customer, started.service_id, 10**12)
    voucher = services.voucher(
        started, customer.address, input_tokens=10, output_tokens=10, compute_ms=10
    )
    # the stranger signs the very same usage as if it were theirs
    forged = services.sign_voucher(
        stranger, dataclasses.replace(voucher, customer=stranger.address)
    )
    cases = [
        ("ServiceInvalidSignature", voucher, forged),
        (
            "ServiceAmountMismatch",
            dataclasses.replace(voucher, amount=voucher.amount + 1),
            None,
        ),
    ]
    big = services.voucher(
        started, customer.address, input_tokens=10**6, output_tokens=0, compute_ms=0
    )
    cases.append(("ServiceBalanceTooLow", big, None))
    for name, v, signature in cases:
        with pytest.raises(TransactionReverted) as caught:
            services.settle(stranger, started, v, signature or services.sign_voucher(customer, v))
        assert caught.value.error_name == name
    services.settle(stranger, started, voucher, services.sign_voucher(customer, voucher))
    with pytest.raises(TransactionReverted) as caught:
        services.settle(stranger, started, voucher, services.sign_voucher(customer, voucher))
    assert caught.value.error_name == "ServiceVoucherStale"


def test_close_request_holds_the_balance_until_the_notice_ends(clients, started):
    market, services = clients
    customer = _funded(market)
    services.deposit(customer, started.service_id, 10**12)
    services.request_close(customer, started.service_id)
    account = services.account(started.service_id, customer.address)
    assert account.closable_at >= services.chain_time() + services.close_notice() - 5
    with pytest.raises(TransactionReverted) as caught:
        services.reclaim(customer, started.service_id)
    assert caught.value.error_name == "ServiceCloseNoticePending"
    with pytest.raises(TransactionReverted) as caught:
        services.deposit(customer, started.service_id, 1)
    assert caught.value.error_name == "ServiceAccountClosing"


def test_start_is_refused_to_another_provider_and_stop_ends_the_service(clients, world):
    market, services = clients
    intruder = _funded(market)
    terms = services.terms_for(
        world["provider"].address,
        tee_offer_id=world["offer"],
        model_id=world["model"],
        ends_at=services.chain_time() + LIFETIME,
    )
    with pytest.raises(TransactionReverted) as caught:
        services.start_service(intruder, terms)
    assert caught.value.error_name == "ServiceNotProvider"
    stored = services.terms(services.start_service(world["provider"], terms))
    services.stop_service(world["provider"], stored)
    assert services.service_state(stored.service_id).status is ServiceStatus.STOPPED
    assert not services.is_live(stored.service_id)
    with pytest.raises(TransactionReverted) as caught:
        services.deposit(intruder, stored.service_id, 1)
    assert caught.value.error_name == "ServiceNotLive"


def test_bound_enclave_reads_back_in_the_service_view(clients, world, started):
    market, services = clients
    provider = world["provider"]
    first, second = (_certified_enclave(market, world["ca"], provider) for _ in range(2))
    with pytest.raises(TransactionReverted) as caught:
        services.bind_enclave(provider, started, Account.create().address)
    assert caught.value.error_name == "ServiceEnclaveInvalid"
    services.bind_enclave(provider, started, first)
    assert services.service_view(started.service_id).enclave == first
    services.bind_enclave(provider, started, second)
    view = services.service_view(started.service_id)
    assert (view.status, view.enclave, view.terms) == (ServiceStatus.LIVE, second, started)


def test_unknown_or_malformed_service_ids_are_service_not_found(clients):
    _, services = clients
    with pytest.raises(ServiceNotFound):
        services.terms("0x" + "00" * 32)
    with pytest.raises(ServiceNotFound):
        service_id_bytes("0x1234")
    assert services.service_state("0x" + "00" * 32).status is ServiceStatus.NONE
    view = services.service_view("0x" + "00" * 32)
    assert (view.status, view.enclave, view.terms) == (ServiceStatus.NONE, None, None)
