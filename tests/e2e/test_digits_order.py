"""Happy path: a customer's encrypted digits are classified inside the (simulated) enclave."""

from __future__ import annotations

import json

import numpy as np
import pytest

from demo.context import open_policy
from demo.parties import publish_blob, publish_engine_folder
from demo.story import MODEL_PRICE, npy_bytes
from enclava.chain.types import ResourceKind
from enclava.client import fetch_result, place_order, wait_for_order
from enclava.crypto import wallet_identity, wallet_recipient
from enclava.devnet import dev_account
from enclava.protocol.order import OrderStatus
from engines.digits_classifier.model import predict_plain
from engines.digits_classifier.weights import digits_split, train_reference_weights, weights_to_npz


@pytest.fixture(scope="module")
def digits_model(market_parties):
    engine = publish_engine_folder(market_parties, "model_owner", "digits_classifier")
    weights = train_reference_weights(seed=0)
    model = publish_blob(
        market_parties,
        "model_owner",
        ResourceKind.MODEL,
        weights_to_npz(weights),
        MODEL_PRICE,
        open_policy(engine.engine_hash_hex),
    )
    return engine, model, weights


def test_digits_order_completes_with_predictions_equal_to_a_plain_run(
    market_parties, provider, digits_model
):
    engine, model, weights = digits_model
    p, customer = market_parties, dev_account("customer")
    _, _, images, _ = digits_split()
    batch = images[:32].reshape(-1, 8, 8).astype(np.float32)
    placed = place_order(
        p.market,
        p.store,
        p.broker,
        customer,
        engine_id=engine.resource_id,
        resource_ids=[model.resource_id],
        tee_offer_id=provider.tee_offer_id(),
        inputs=[npy_bytes(batch)],
        recipient=wallet_recipient(customer),
        max_duration=600,
    )
    order = wait_for_order(p.market, placed.order_id, timeout=240)
    assert order.status == OrderStatus.COMPLETED, provider.jobs().get(placed.order_id)

    files = fetch_result(p.market, p.store, placed.order_id, wallet_identity(customer))
    assert json_of(files["predictions.json"]) == predict_plain(weights, batch)
    assert p.market.verify_report(placed.order_id) == (True, "")

    paid = p.market.payouts_for_order(placed.order_id)
    assert sum(paid.values()) == placed.escrow
    owner = dev_account("model_owner").address
    assert paid[owner] == engine_price(p, engine) + MODEL_PRICE
    used = paid.get(dev_account("provider").address, 0)
    assert used % order.terms.price_per_second == 0
    assert paid.get(customer.address, 0) == placed.escrow - paid[owner] - used


def json_of(data: bytes) -> dict:
    return json.loads(data.decode())


def engine_price(p, engine) -> int:
    return p.market.resource(engine.resource_id)["price"]


def test_provider_metrics_count_orders_and_time_per_stage(provider):
    import httpx

    assert httpx.get(f"{provider.url}/healthz", timeout=5).json()["status"] == "ok"
    metrics = httpx.get(f"{provider.url}/metrics", timeout=5).text
    completed = [
        line
        for line in metrics.splitlines()
        if line.startswith('enclava_provider_orders_total{outcome="completed"}')
    ]
    assert completed and float(completed[0].split()[-1]) >= 1
    assert 'enclava_provider_stage_seconds_total{stage="workload"}' in metrics
