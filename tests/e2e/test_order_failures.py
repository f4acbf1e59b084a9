"""Orders that must fail: each ends on chain with its reason, the customer refunded in full, no key
released, and nothing left in the loader's scratch area."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from eth_account import Account

from demo.context import open_policy
from demo.parties import order_as_customer, publish_blob, publish_engine_at, publish_engine_folder
from demo.story import MODEL_PRICE
from enclava.chain.types import ResourceKind
from enclava.cli.main import app
from enclava.client import wait_for_order
from enclava.crypto import new_resource_key, seal, wallet_recipient
from enclava.devnet import dev_account
from enclava.protocol.engine.reasons import Reason, describe_reason
from enclava.protocol.order import OrderInput, OrderStatus
from tests.cli.conftest import PASSWORD, Cli
from tests.engines.fixture_engine import fixture_source, write_engine

#: What the crashing fixture engine writes to stderr, and nothing else does.
MARKER = "marker e2e-7c1f"


def misbehaving_engine(market_parties, tmp_path: Path, fixture: str, memory: int = 1024):
    folder = write_engine(tmp_path / fixture, fixture_source(fixture), cpu=5, memory=memory, wall=6)
    return publish_engine_at(market_parties, "model_owner", folder, price=10**15)


def _order(p, provider, engine_id, resource_ids=()):
    return order_as_customer(p, provider.tee_offer_id(), engine_id, resource_ids)


def assert_failed_and_refunded(p, provider, order_id: str, escrow: int, reason: Reason) -> None:
    order = wait_for_order(p.market, order_id, timeout=240)
    assert order.status == OrderStatus.FAILED, provider.jobs().get(order_id)
    assert p.market.failure_reason(order_id) == int(reason)
    assert p.market.payouts_for_order(order_id) == {dev_account("customer").address: escrow}
    assert provider.scratch_entries() == []


@pytest.mark.parametrize(
    "fixture, memory, reason",
    [
        ("socket_connect", 1024, Reason.NETWORK_DENIED),
        ("sleep_forever", 1024, Reason.TIMEOUT),
        ("allocate", 256, Reason.MEMORY_EXCEEDED),
        ("import_torch", 150, Reason.MEMORY_EXCEEDED),
        ("torch_address_space", 1024, Reason.MEMORY_EXCEEDED),
    ],
)
def test_misbehaving_engine_fails_the_order_with_its_reason(
    market_parties, provider, tmp_path, fixture, memory, reason
):
    engine = misbehaving_engine(market_parties, tmp_path, fixture, memory)
    placed = _order(market_parties, provider, engine.resource_id)
    assert_failed_and_refunded(market_parties, provider, placed.order_id, placed.escrow, reason)


def test_crashing_engine_shows_its_customer_the_reason_and_its_stderr(
    market_parties, provider, tmp_path, devnet_manifest
):
    """`order status` says the reason in words with the hint; with the customer's wallet it also
    decrypts the engine's stderr, which is in no log of the provider's and in no other hands."""
    p = market_parties
    engine = misbehaving_engine(p, tmp_path, "crash_with_message")
    placed = _order(p, provider, engine.resource_id)
    assert_failed_and_refunded(p, provider, placed.order_id, placed.escrow, Reason.ENGINE_FAILED)
    code, detail_cid = p.market.failure(placed.order_id)
    assert code == Reason.ENGINE_FAILED and detail_cid
    assert MARKER.encode() not in p.store.get_bytes(detail_cid)  # encrypted to the customer

    cli = Cli(
        {
            "ENCLAVA_HOME": str(tmp_path / "home"),
            "ENCLAVA_WALLET_PASSWORD": PASSWORD,
            "COLUMNS": "200",
            "ENCLAVA_MANIFEST": f"{devnet_manifest.state_dir}/manifest.json",
        }
    )
    words = describe_reason(Reason.ENGINE_FAILED)
    shown = cli("order", "status", placed.order_id).output
    assert f"failure reason: {words.title} (engine_failed, reason 3)" in shown
    assert f"what to do: {words.hint}" in shown
    assert MARKER not in shown

    customer = dev_account("customer")
    cli("wallet", "import", "--wallet", "customer", env={"ENCLAVA_PRIVATE_KEY": customer.key.hex()})
    # The engine's own traceback is the output here, so not `cli(...)`, which refuses tracebacks.
    run = cli.runner.invoke(
        app, ["order", "status", placed.order_id, "--wallet", "customer"], env=cli.env
    )
    assert run.exit_code == 0 and run.exception is None, run.output
    shown = run.output
    assert 'Traceback (most recent call last):\n  File "/engine/main.py", line 2' in shown
    assert "ValueError: cannot read the customer's file: row 17 has 3 columns" in shown
    assert MARKER in shown and "engine failed with exit code 1" in shown

    stranger = Account.create()
    cli("wallet", "import", "--wallet", "stranger", env={"ENCLAVA_PRIVATE_KEY": stranger.key.hex()})
    refused = cli("order", "status", placed.order_id, "--wallet", "stranger", expect=1).output
    assert MARKER not in refused

    logs = [f for f in provider.folder.rglob("*") if f.is_file()]
    assert logs and not [f for f in logs if MARKER.encode() in f.read_bytes()]


def test_tampered_input_fails_before_any_key_is_released(market_parties, provider):
    p, customer = market_parties, dev_account("customer")
    engine = publish_engine_folder(p, "model_owner", "digits_classifier")
    weights = publish_blob(
        p,
        "model_owner",
        ResourceKind.MODEL,
        b"weights",
        MODEL_PRICE,
        open_policy(engine.engine_hash_hex),
    )
    key = new_resource_key()
    stored = p.store.add(seal(b"the real input", key))
    claimed = OrderInput(
        stored.cid, hashlib.sha256(b"another file").digest()
    )  # not what IPFS holds
    escrow = p.market.quote(engine.resource_id, [weights.resource_id], provider.tee_offer_id(), 300)
    order_id, _ = p.market.create_order(
        customer,
        engine_id=engine.resource_id,
        resource_ids=[weights.resource_id],
        tee_offer_id=provider.tee_offer_id(),
        inputs=[claimed],
        recipient_key=wallet_recipient(customer).encode(),
        max_duration=300,
    )
    p.broker.deposit_order_inputs(customer, order_id, key)
    assert_failed_and_refunded(p, provider, order_id, escrow, Reason.INPUT_HASH_MISMATCH)
    view = p.broker.audit(dev_account("model_owner"), weights.resource_id)
    assert [e for e in view["entries"] if e["order_id"] == order_id] == []


def test_policy_that_excludes_the_customer_denies_the_key(market_parties, provider):
    p = market_parties
    engine = publish_engine_folder(p, "model_owner", "digits_classifier")
    weights = publish_blob(
        p,
        "model_owner",
        ResourceKind.MODEL,
        b"weights",
        MODEL_PRICE,
        {
            **open_policy(engine.engine_hash_hex),
            "allowed_customers": [dev_account("hospital_a").address],
        },
    )
    placed = _order(p, provider, engine.resource_id, [weights.resource_id])
    assert_failed_and_refunded(
        p, provider, placed.order_id, placed.escrow, Reason.KEY_RELEASE_DENIED
    )
    entries = [
        e
        for e in p.broker.audit(dev_account("model_owner"), weights.resource_id)["entries"]
        if e["order_id"] == placed.order_id
    ]
    assert [e["decision"] for e in entries] == ["denied"]
    assert entries[0]["reason"] == "policy_customer_refused"
