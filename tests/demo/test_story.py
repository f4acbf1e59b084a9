"""The demo's story on the session devnet: the facts its summary prints are the facts that hold."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from demo import STAGE_ORDER, DemoFacts
from demo.story import (
    HOSPITALS,
    customer_images,
    order_digits,
    publish_digits,
    train_together,
)
from demo.summary import print_summary
from enclava.protocol.engine import order_seed
from engines.digits_classifier.model import predict_plain
from engines.tabular_trainer.shares import split_breast_cancer
from engines.tabular_trainer.trainer import train_plain


@pytest.fixture(scope="module")
def story(demo_context, devnet_manifest):
    facts = DemoFacts(devnet=devnet_manifest.name)
    listing = publish_digits(demo_context, facts)
    digits = order_digits(demo_context, facts, listing)
    training = train_together(demo_context, facts)
    return facts, listing, digits, training


def test_customer_predictions_equal_a_plain_run_of_the_engine(story):
    facts, listing, digits, _ = story
    images, labels = customer_images(16)
    expected = predict_plain(listing.weights, images)
    assert digits.outcome["predictions"] == expected["predictions"]
    assert digits.outcome["true labels"] == labels
    assert ("digits: predictions equal a plain local run of the engine", True) in [
        c[:2] for c in facts.checks
    ]


def test_both_orders_verify_independently_and_on_the_report_page(story):
    facts, _, digits, training = story
    for order in (digits, training):
        assert order.checklist is not None and order.checklist.valid, order.checklist.to_dict()
        assert all(item.ok for item in order.checklist.items), [
            i for i in order.checklist.items if not i.ok
        ]
        assert order.page_verified and order.page_url.endswith(f"/reports/{order.order_id}")
        # the devnet's enclaves are simulated: the page must say so, never a plain "verified"
        assert order.page_verdict.startswith("verified (simulated TEE)"), order.page_verdict
        assert [tx.label.split(":")[0] for tx in order.txs] == [
            "createOrder",
            "acceptOrder",
            "completeOrder",
        ]
        assert all(tx.gas_used > 0 and tx.tx_hash.startswith("0x") for tx in order.txs)
        assert set(STAGE_ORDER) - {"input_key_deposit"} <= set(order.stages)
        assert order.cids["result"].startswith("bafk")
    assert facts.all_passed, [c for c in facts.checks if not c[1]]


def test_two_hospitals_weights_equal_plain_training_on_pooled_shares(story, demo_context):
    _, _, _, training = story
    shares = split_breast_cancer(len(HOSPITALS), seed=0)
    expected, _ = train_plain(shares, seed=order_seed(training.order_id))
    assert training.outcome["weights"] == {k: list(v.shape) for k, v in expected.items()}
    assert training.outcome["metrics"]["rows_per_share"] == [len(s[1]) for s in shares]
    checks = {name: ok for name, ok, _ in story[0].checks}
    assert checks["training: weights equal plain training on the pooled shares"] is True


def test_summary_prints_every_order_transaction_and_cid(story):
    facts = story[0]
    out = io.StringIO()
    print_summary(facts, Console(file=out, width=240))
    text = out.getvalue()
    for order in facts.orders:
        assert order.order_id in text and order.page_url in text
    for tx in facts.txs:
        assert tx.tx_hash in text
    for cid in facts.cids.values():
        assert cid in text
