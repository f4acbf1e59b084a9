"""A provider whose loader reads the chain through a lying RPC node (a real HTTP proxy in front of
anvil rewriting ``OrderCreated``) learns nothing: the loader refuses every order whose terms do not
hash to the order id or whose recipient key does not hash to ``recipientKeyHash``, before any key
is asked for; the order fails with its own reason and the customer is refunded in full.

On the code before the loader checked terms against the id, the recipient swap completed with the
result encrypted to the provider's key and a report that verified on chain.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pyrage import x25519

from demo.parties import order_as_customer, parties, publish_engine_folder
from enclava.client import wait_for_order
from enclava.devnet import dev_account
from enclava.protocol.engine.reasons import Reason
from enclava.protocol.order import OrderStatus
from tests.adversarial.rpc_proxy import OrderCreatedData, lying_rpc
from tests.e2e.provider_process import running_provider

#: The provider's own age identity: what it would like results encrypted to.
ATTACKER = x25519.Identity.generate()
ATTACKER_RECIPIENT = str(ATTACKER.to_public()).encode()


class _Switch:
    """The rewrite the proxy applies now (tests set it; between tests it passes logs through)."""

    def __init__(self) -> None:
        self.rewrite: Callable[[OrderCreatedData], OrderCreatedData] = lambda data: data

    def __call__(self, data: OrderCreatedData) -> OrderCreatedData:
        return self.rewrite(data)


@pytest.fixture(scope="module")
def liar(devnet_manifest, tmp_path_factory):
    switch = _Switch()
    with lying_rpc(devnet_manifest.rpc_url, switch) as (url, rewritten):
        folder = tmp_path_factory.mktemp("provider-liar")
        with running_provider(
            devnet_manifest, "liar", folder, extra_config=f'loader_rpc_url = "{url}"\n'
        ) as proc:
            yield proc, switch, rewritten


@pytest.fixture(scope="module")
def p(devnet_manifest):
    return parties(devnet_manifest)


def _swap_recipient(data: OrderCreatedData) -> OrderCreatedData:
    terms, inputs, hashes, _key = data
    return terms, inputs, hashes, ATTACKER_RECIPIENT


def _swap_recipient_and_hash(data: OrderCreatedData) -> OrderCreatedData:
    from web3 import Web3

    terms, inputs, hashes, _key = data
    terms[9] = bytes(Web3.keccak(ATTACKER_RECIPIENT))
    return terms, inputs, hashes, ATTACKER_RECIPIENT


def _run_attack(p, liar, rewrite, reason: Reason, engine=None) -> str:
    proc, switch, rewritten = liar
    engine = engine or publish_engine_folder(p, "model_owner", "digits_classifier")
    before = len(rewritten)
    switch.rewrite = rewrite
    try:
        placed = order_as_customer(p, proc.tee_offer_id(), engine.resource_id)
        order = wait_for_order(p.market, placed.order_id, timeout=240)
    finally:
        switch.rewrite = lambda data: data
    assert len(rewritten) > before, "the proxy never rewrote the order: the attack did not happen"
    assert order.status == OrderStatus.FAILED, proc.jobs().get(placed.order_id)
    assert p.market.failure_reason(placed.order_id) == int(reason)
    assert p.market.payouts_for_order(placed.order_id) == {
        dev_account("customer").address: placed.escrow
    }
    audit = p.broker.audit(dev_account("model_owner"), engine.resource_id)
    assert [e for e in audit["entries"] if e["order_id"] == placed.order_id] == [], (
        "a key was asked for"
    )
    assert proc.scratch_entries() == []
    return placed.order_id


def test_recipient_key_swapped_by_rpc_fails_before_any_key_is_released(p, liar):
    _run_attack(p, liar, _swap_recipient, Reason.RECIPIENT_KEY_MISMATCH)


def test_recipient_key_and_its_hash_swapped_by_rpc_fail_on_the_order_id(p, liar):
    _run_attack(p, liar, _swap_recipient_and_hash, Reason.ORDER_TERMS_MISMATCH)


def test_engine_swapped_by_rpc_fails_on_the_order_id(p, liar):
    wanted = publish_engine_folder(p, "model_owner", "digits_classifier")
    own = publish_engine_folder(p, "provider", "tabular_trainer")  # the provider's own engine

    def swap_engine(data: OrderCreatedData) -> OrderCreatedData:
        terms, inputs, hashes, key = data
        payments = list(terms[10])
        payments[0] = (own.resource_id, payments[0][1], payments[0][2])
        terms[10], terms[7] = payments, own.content_hash
        return terms, inputs, hashes, key

    _run_attack(p, liar, swap_engine, Reason.ORDER_TERMS_MISMATCH, engine=wanted)
    audit = p.broker.audit(dev_account("provider"), own.resource_id)
    assert [e for e in audit["entries"] if e["event"] == "key_release"] == [], (
        "the provider's engine key left"
    )
