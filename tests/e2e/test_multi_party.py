"""Three hospitals train one model together; each key is released by its owner's own policy."""

from __future__ import annotations

import numpy as np
import pytest

from demo.context import open_policy
from demo.parties import publish_blob, publish_engine_folder
from demo.story import DATA_PRICE, npz_arrays
from enclava.chain.types import ResourceKind
from enclava.client import fetch_result, place_order, wait_for_order
from enclava.crypto import wallet_identity, wallet_recipient
from enclava.devnet import dev_account
from enclava.protocol.engine import order_seed
from enclava.protocol.engine.reasons import Reason
from enclava.protocol.order import OrderStatus
from engines.tabular_trainer.shares import share_to_npz, split_breast_cancer
from engines.tabular_trainer.trainer import train_plain

HOSPITALS = ("hospital_a", "hospital_b", "hospital_c")


@pytest.fixture(scope="module")
def trainer(market_parties):
    return publish_engine_folder(market_parties, "model_owner", "tabular_trainer")


def _publish_shares(p, engine_hash: str, policies=None):
    shares = split_breast_cancer(len(HOSPITALS), seed=0)
    policies = policies or [open_policy(engine_hash)] * len(HOSPITALS)
    return shares, [
        publish_blob(p, role, ResourceKind.DATASET, share_to_npz(share), DATA_PRICE, policy)
        for role, share, policy in zip(HOSPITALS, shares, policies)
    ]


def _entries_for(p, role, resource_id, order_id):
    view = p.broker.audit(dev_account(role), resource_id)
    return [e for e in view["entries"] if e["order_id"] == order_id and e["event"] == "key_release"]


def test_three_hospitals_train_one_model_equal_to_pooled_plaintext(
    market_parties, provider, trainer
):
    p, customer = market_parties, dev_account("customer")
    shares, published = _publish_shares(p, trainer.engine_hash_hex)
    placed = place_order(
        p.market,
        p.store,
        p.broker,
        customer,
        engine_id=trainer.resource_id,
        resource_ids=[r.resource_id for r in published],
        tee_offer_id=provider.tee_offer_id(),
        inputs=[],
        recipient=wallet_recipient(customer),
        max_duration=600,
    )
    order = wait_for_order(p.market, placed.order_id, timeout=300)
    assert order.status == OrderStatus.COMPLETED, provider.jobs().get(placed.order_id)

    files = fetch_result(p.market, p.store, placed.order_id, wallet_identity(customer))
    expected, _ = train_plain(shares, seed=order_seed(placed.order_id))
    got = npz_arrays(files["weights.npz"])
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        assert np.array_equal(got[name], value), name
    for role, resource in zip(HOSPITALS, published):
        decisions = [
            e["decision"] for e in _entries_for(p, role, resource.resource_id, placed.order_id)
        ]
        assert decisions == ["granted"], (role, decisions)
    paid = p.market.payouts_for_order(placed.order_id)
    assert sum(paid.values()) == placed.escrow
    for role in HOSPITALS:
        assert paid[dev_account(role).address] == DATA_PRICE


def test_an_owner_whose_policy_excludes_the_engine_stops_the_order_before_any_key_leaves(
    market_parties, provider, trainer
):
    p, customer = market_parties, dev_account("customer")
    other_engine = "0x" + "ab" * 32
    policies = [
        open_policy(trainer.engine_hash_hex),
        open_policy(trainer.engine_hash_hex),
        open_policy(other_engine),
    ]
    _, published = _publish_shares(p, trainer.engine_hash_hex, policies)
    placed = place_order(
        p.market,
        p.store,
        p.broker,
        customer,
        engine_id=trainer.resource_id,
        resource_ids=[r.resource_id for r in published],
        tee_offer_id=provider.tee_offer_id(),
        inputs=[],
        recipient=wallet_recipient(customer),
        max_duration=600,
    )
    order = wait_for_order(p.market, placed.order_id, timeout=300)
    assert order.status == OrderStatus.FAILED
    assert p.market.failure_reason(placed.order_id) == int(Reason.KEY_RELEASE_DENIED)
    assert p.market.payouts_for_order(placed.order_id) == {customer.address: placed.escrow}
    for role, resource in zip(HOSPITALS, published):
        entries = _entries_for(p, role, resource.resource_id, placed.order_id)
        assert entries and all(e["decision"] == "denied" for e in entries), (role, entries)
    refused = _entries_for(p, "hospital_c", published[2].resource_id, placed.order_id)
    assert refused[0]["reason"] == "policy_engine_refused"
