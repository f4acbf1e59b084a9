"""`enclava order create | cancel` and `enclava balance show | withdraw` with a TEE offer no node
serves, so the order stays open until its customer cancels it."""

from __future__ import annotations

import os
import re

import pytest
from eth_account import Account

from enclava.chain.market import MarketClient
from enclava.chain.types import ResourceKind
from enclava.protocol.order import OrderStatus
from enclava.protocol.tee import TeeType
from tests.cli.conftest import fund, funded_wallet

pytestmark = pytest.mark.devnet
PRICE_PER_SECOND = 10**9


@pytest.fixture(scope="module")
def idle_tee_offer(devnet_manifest):
    """A registered provider's TEE offer and an engine listing, straight on chain (no node runs)."""
    market = MarketClient.from_manifest(devnet_manifest)
    provider, owner = Account.create(), Account.create()
    fund(devnet_manifest, provider.address, 5)
    fund(devnet_manifest, owner.address, 1)
    market.register_provider(provider, market.min_stake())
    tee_offer = market.publish_tee_offer(
        provider,
        tee_type=TeeType.SIMULATED,
        gpu_class="cpu",
        price_per_second=PRICE_PER_SECOND,
        slots=1,
    )
    engine = market.list_resource(
        owner,
        kind=ResourceKind.ENGINE,
        cid="bafkreiidleengine",
        content_hash=os.urandom(32),
        price=7 * 10**12,
    )
    return market, tee_offer, engine


def _order_id(stdout: str) -> str:
    return re.search(r"^order_id=(0x[0-9a-f]{64})$", stdout, re.MULTILINE).group(1)


def test_cancel_sends_the_escrow_back_and_leaves_nothing_to_withdraw(
    cli, devnet_manifest, idle_tee_offer, tmp_path
):
    market, tee_offer, engine = idle_tee_offer
    customer = funded_wallet(cli, devnet_manifest, "canceller", eth=2)
    data = tmp_path / "input.bin"
    data.write_bytes(b"my private input")
    created = cli(
        "order",
        "create",
        "--engine",
        engine,
        "--tee-offer",
        tee_offer,
        "--input",
        data,
        "--max-duration",
        100,
        "--yes",
        "--wallet",
        "canceller",
    )
    order_id = _order_id(created.stdout)
    escrow = 7 * 10**12 + 100 * PRICE_PER_SECOND
    assert "total" in created.stdout and str(escrow) in created.stdout
    assert market.status(order_id) == OrderStatus.OPEN

    funded_wallet(cli, devnet_manifest, "stranger", eth=1)
    assert (
        "not_your_order"
        in cli("order", "cancel", order_id, "--wallet", "stranger", expect=1).stderr
    )
    before = market.chain.balance(customer.address)
    cancelled = cli("order", "cancel", order_id, "--wallet", "canceller")
    assert "cancelled" in cancelled.stdout and "sent back to your wallet" in cancelled.stdout
    assert (
        market.status(order_id) == OrderStatus.CANCELLED
        and market.refunded(order_id, customer.address) == escrow
    )
    gas_paid = before + escrow - market.chain.balance(customer.address)
    assert 0 <= gas_paid < 10**15  # the escrow arrived, less the cancel transaction's gas
    assert market.credit_of(customer.address) == 0
    assert "credit_wei=0" in cli("balance", "show", "--wallet", "canceller").stdout
    assert (
        "order_finished"
        in cli("order", "cancel", order_id, "--wallet", "canceller", expect=1).stderr
    )
    assert (
        "nothing_to_withdraw"
        in cli("balance", "withdraw", "--wallet", "canceller", expect=1).stderr
    )


def test_declined_confirmation_places_no_order(cli, devnet_manifest, idle_tee_offer):
    market, tee_offer, engine = idle_tee_offer
    customer = funded_wallet(cli, devnet_manifest, "hesitant", eth=2)
    nonce = market.w3.eth.get_transaction_count(customer.address)
    declined = cli(
        "order",
        "create",
        "--engine",
        engine,
        "--tee-offer",
        tee_offer,
        "--max-duration",
        10,
        "--wallet",
        "hesitant",
        input="n\n",
        expect=1,
    )
    assert "order_declined" in declined.stderr and "Nothing was paid" in declined.stderr
    assert market.w3.eth.get_transaction_count(customer.address) == nonce


def test_order_mistakes_give_a_code_and_a_hint(cli, idle_tee_offer, tmp_path):
    _, tee_offer, engine = idle_tee_offer
    unknown = cli("order", "status", "0x" + "ab" * 32, expect=1)
    assert "order_not_found" in unknown.stderr and "hint" in unknown.stderr
    assert "order_not_found" in cli("order", "status", "12345", expect=1).stderr
    missing = cli(
        "order",
        "create",
        "--engine",
        engine,
        "--tee-offer",
        tee_offer,
        "--input",
        tmp_path / "nope.npy",
        "--yes",
        "--wallet",
        "canceller",
        expect=1,
    )
    assert "file_missing" in missing.stderr
    assert (
        "resource_not_found"
        in cli(
            "order",
            "create",
            "--engine",
            999999,
            "--tee-offer",
            tee_offer,
            "--yes",
            "--wallet",
            "canceller",
            expect=1,
        ).stderr
    )
    assert "order_not_found" in cli("report", "verify", "0x" + "cd" * 32, expect=1).stderr
