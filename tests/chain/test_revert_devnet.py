"""A real revert on the devnet comes back as the contract's custom error with its arguments: refused
at the gas estimate, and mined with status 0 (the call replayed to read the error)."""

from __future__ import annotations

import hashlib
import os

import pytest
from eth_account import Account

from enclava.chain import ChainClient, MarketClient
from enclava.chain.errors import TransactionFailed, TransactionReverted
from enclava.chain.revert import HINTS
from enclava.chain.rpc import translated
from enclava.chain.types import ResourceKind
from enclava.devnet import dev_account
from enclava.protocol.order import OrderInput
from enclava.protocol.tee import TeeType

FUNDER_INDEX = 11  # this module's own devnet account (no role and no other test uses it)


@pytest.fixture(scope="module")
def market(devnet_manifest) -> MarketClient:
    return MarketClient.from_manifest(devnet_manifest)


def _funded(market: MarketClient):
    account = Account.create()
    ChainClient(market.chain.rpc_url).transfer(
        dev_account(FUNDER_INDEX), account.address, 50 * 10**18
    )
    return account


@pytest.fixture(scope="module")
def weights_as_engine(market):
    """A TEE offer, and a weights listing to misuse as the engine of an order."""
    provider, owner = _funded(market), _funded(market)
    market.register_provider(provider, market.min_stake())
    tee_offer_id = market.publish_tee_offer(
        provider, tee_type=int(TeeType.SIMULATED), gpu_class="none", price_per_second=1, slots=1
    )
    weights_id = market.list_resource(
        owner,
        kind=ResourceKind.MODEL,
        cid="bafy-weights",
        content_hash=hashlib.sha256(os.urandom(16)).digest(),
        price=1000,
    )
    return tee_offer_id, weights_id


def _order_call(market: MarketClient, weights_id: int, tee_offer_id: int):
    inputs = [OrderInput("bafy-input", hashlib.sha256(b"input").digest()).as_tuple()]
    return market.contracts.marketplace.functions.createOrder(
        weights_id, [], tee_offer_id, inputs, b"recipient-key", 60
    )


def test_weights_id_as_engine_is_refused_with_the_decoded_error(market, weights_as_engine):
    tee_offer_id, weights_id = weights_as_engine
    customer = _funded(market)
    with pytest.raises(TransactionReverted) as caught:
        market.create_order(
            customer,
            engine_id=weights_id,
            resource_ids=[],
            tee_offer_id=tee_offer_id,
            inputs=[OrderInput("bafy-input", hashlib.sha256(b"input").digest())],
            recipient_key=b"recipient-key",
            max_duration=60,
        )
    error = caught.value
    assert type(error) is TransactionReverted
    assert error.error_name == "MarketplaceResourceKindMismatch"
    assert error.error_args == {"resourceId": weights_id}
    assert f"MarketplaceResourceKindMismatch(resourceId={weights_id})" in error.message
    assert error.hint == HINTS["MarketplaceResourceKindMismatch"]
    assert market.w3.eth.get_transaction_count(customer.address) == 0  # nothing was sent


def test_a_mined_failure_is_decoded_by_replaying_its_call(market, weights_as_engine):
    tee_offer_id, weights_id = weights_as_engine
    customer = _funded(market)
    call = _order_call(market, weights_id, tee_offer_id)
    body = {"to": call.address, "data": call._encode_transaction_data(), "value": 1060}
    with pytest.raises(TransactionFailed) as caught:
        market.chain.send(customer, {**body, "gas": 500_000})  # a fixed gas skips the estimate
    error = caught.value
    assert error.error_name == "MarketplaceResourceKindMismatch"
    assert error.error_args == {"resourceId": weights_id}
    assert market.w3.eth.get_transaction_count(customer.address) == 1  # it was mined, and failed


def test_a_view_calls_revert_is_decoded_inside_translated(market):
    unknown = 10**9
    with pytest.raises(TransactionReverted) as caught:
        with translated("getResource"):
            market.contracts.resource_registry.functions.getResource(unknown).call()
    assert caught.value.error_name == "ResourceUnknown"
    assert caught.value.error_args == {"resourceId": unknown}
    assert "ResourceUnknown(resourceId=1000000000)" in caught.value.message
