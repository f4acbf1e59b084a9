"""On the devnet: the CA's registrar records an enclave's GPUs, the clients read them back, and an
order on a TEE offer that promises a GPU settles only with a report of an enclave certified with
that GPU class (the CPU-only enclave's report is refused with the decoded custom error)."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from certification_authority.chain_view import Web3ChainView
from certification_authority.onchain import EnclaveRegistrar, EnclaveRegistration
from enclava.chain import ChainClient, MarketClient
from enclava.chain.errors import TransactionReverted
from enclava.chain.types import EnclaveStatus, ResourceKind
from enclava.devnet import dev_account
from enclava.protocol.consent import sign_enclave_consent
from enclava.protocol.order import IntegrityReport, OrderInput, OrderStatus
from enclava.protocol.tee import TeeType, encode_gpu_class

FUNDER_INDEX = 11  # this folder's devnet account (test_revert_devnet.py funds from it too)
MEASUREMENT = hashlib.sha256(b"test_enclave_gpu_devnet").digest()


def _funded(market: MarketClient) -> LocalAccount:
    account: LocalAccount = Account.create()
    ChainClient(market.chain.rpc_url).transfer(
        dev_account(FUNDER_INDEX), account.address, 20 * 10**18
    )
    return account


def _governance(market: MarketClient, call: Any) -> None:
    """A registry call by the devnet's governance (the deployer owns the attestation registry)."""
    tx = call.build_transaction({"from": dev_account("deployer").address, "gas": 200_000})
    market.chain.send(dev_account("deployer"), {"to": tx["to"], "data": tx["data"], "value": 0})


@pytest.fixture(scope="module")
def market(devnet_manifest) -> MarketClient:
    return MarketClient.from_manifest(devnet_manifest)


@pytest.fixture(scope="module")
def world(market):
    """A fresh CA trusted by governance, a provider with an "H100" and a "cpu" TEE offer, an engine,
    and two enclaves of the provider: one certified with 2 H100s, one without a GPU."""
    registry = market.contracts.attestation_registry
    ca = _funded(market)
    _governance(market, registry.functions.addCaSigner(ca.address))
    _governance(market, registry.functions.allowMeasurement(int(TeeType.SIMULATED), MEASUREMENT))
    provider, owner, customer, relayer = (_funded(market) for _ in range(4))
    market.register_provider(provider, market.min_stake())
    offers = {
        label: market.publish_tee_offer(
            provider, tee_type=TeeType.SIMULATED, gpu_class=label, price_per_second=1, slots=4
        )
        for label in ("H100", "cpu")
    }
    engine = market.list_resource(
        owner,
        kind=ResourceKind.ENGINE,
        cid="bafy-gpu-engine",
        content_hash=hashlib.sha256(b"gpu engine").digest(),
        price=1000,
    )
    registrar = EnclaveRegistrar(market.chain, market.contracts, ca)
    enclaves = {}
    for name, gpu_class, gpu_count in (("gpu", "H100", 2), ("cpu", "", 0)):
        enclave: LocalAccount = Account.create()
        reg = EnclaveRegistration(
            enclave.address,
            int(TeeType.SIMULATED),
            MEASUREMENT,
            provider.address,
            market.chain_time() + 3600,
            os.urandom(32),
            gpu_class=gpu_class,
            gpu_count=gpu_count,
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
        enclaves[name] = enclave
    return {
        "provider": provider,
        "customer": customer,
        "relayer": relayer,  # submits every report (anyone may)
        "engine": engine,
        "offers": offers,
        "enclaves": enclaves,
    }


def _accepted_order(market: MarketClient, world: dict[str, Any], offer: str) -> str:
    order_id, _ = market.create_order(
        world["customer"],
        engine_id=world["engine"],
        resource_ids=[],
        tee_offer_id=world["offers"][offer],
        inputs=[OrderInput("bafy-input", hashlib.sha256(b"input").digest())],
        recipient_key=b"recipient-key",
        max_duration=60,
    )
    market.accept_order(world["provider"], order_id)
    return order_id


def _complete(
    market: MarketClient, world: dict[str, Any], order_id: str, enclave: LocalAccount
) -> None:
    order = market.order(order_id)
    report = IntegrityReport(
        order_id=bytes.fromhex(order_id.removeprefix("0x")),
        engine_hash=bytes(order.terms.engine_hash),
        inputs_hash=bytes(order.terms.inputs_hash),
        output_hash=hashlib.sha256(b"output").digest(),
        output_cid="bafy-output",
        tee_type=int(TeeType.SIMULATED),
        measurement=MEASUREMENT,
        enclave=enclave.address,
        started_at=order.accepted_at,
        finished_at=max(order.accepted_at, market.chain_time()),
    )
    market.complete_order(
        world["relayer"], order.terms, report, market.sign_report(enclave, report)
    )


def test_the_registry_records_the_certified_gpus_and_the_clients_read_them(market, world):
    gpu, cpu = world["enclaves"]["gpu"], world["enclaves"]["cpu"]
    record = market.enclave(gpu.address)
    assert (record.gpu_class, record.gpu_count, record.provider) == (
        "H100",
        2,
        world["provider"].address,
    )
    status, viewed = market.enclave_status(cpu.address)
    assert status is EnclaveStatus.VALID and (viewed.gpu_class, viewed.gpu_count) == ("", 0)
    assert market.tee_offer_gpu_class(world["offers"]["H100"]) == "H100"
    assert market.tee_offer_gpu_class(world["offers"]["cpu"]) == "cpu"


def test_a_gpu_offers_order_is_refused_to_the_cpu_only_enclave_and_paid_to_the_gpu_one(
    market, world
):
    order_id = _accepted_order(market, world, "H100")
    with pytest.raises(TransactionReverted) as caught:
        _complete(market, world, order_id, world["enclaves"]["cpu"])
    assert caught.value.error_name == "MarketplaceEnclaveGpuMismatch"
    assert caught.value.error_args == {
        "offered": encode_gpu_class("H100"),
        "certified": bytes(32),
    }
    assert market.status(order_id) is OrderStatus.ACCEPTED
    _complete(market, world, order_id, world["enclaves"]["gpu"])
    assert market.status(order_id) is OrderStatus.COMPLETED
    assert market.verify_report(order_id) == (True, "")


def test_a_cpu_offers_order_is_served_by_the_cpu_only_enclave(market, world):
    order_id = _accepted_order(market, world, "cpu")
    _complete(market, world, order_id, world["enclaves"]["cpu"])
    assert market.status(order_id) is OrderStatus.COMPLETED


def test_the_brokers_chain_view_reads_the_orders_offered_gpu_class(market, world):
    view = Web3ChainView(market.contracts, from_block=market.from_block)
    for offer in ("H100", "cpu"):
        order_id = _accepted_order(market, world, offer)
        seen = view.order(order_id)
        assert seen is not None and seen.gpu_class == offer
