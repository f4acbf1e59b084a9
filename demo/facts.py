"""What the demo records while it plays: stage times, transactions with their gas, CIDs, each
order's timeline and verification, and named checks. The summary prints these; the tests assert on
them."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from eth_typing import HexStr

from enclava.chain.market import MarketClient
from enclava.client.orders import TERMINAL
from enclava.errors import ChainError, EnclavaError
from enclava.protocol.order import OrderStatus
from enclava.report import Checklist

__all__ = [
    "TxFact",
    "OrderFacts",
    "DemoFacts",
    "OrderTimeline",
    "watch_order",
    "tx_fact",
    "accept_tx",
    "DemoStepFailed",
]


class DemoStepFailed(EnclavaError):
    code = "demo_step_failed"
    hint = (
        "Read the devnet's logs (`enclava devnet logs SERVICE --name NAME`) for the service that "
        "failed."
    )


@dataclass(frozen=True)
class TxFact:
    label: str
    tx_hash: str
    gas_used: int
    block_number: int


@dataclass
class OrderFacts:
    """One order as the summary shows it."""

    title: str
    order_id: str
    stages: dict[str, float] = field(default_factory=dict)
    txs: list[TxFact] = field(default_factory=list)
    cids: dict[str, str] = field(default_factory=dict)
    checklist: Checklist | None = None
    page_url: str = ""
    page_verified: bool = False
    page_verdict: str = ""  # the page's own words, e.g. "verified (simulated TEE), 1 check skipped"
    outcome: dict[str, Any] = field(
        default_factory=dict
    )  # what the party got (predictions, weights shapes)

    @property
    def gas(self) -> int:
        return sum(tx.gas_used for tx in self.txs)


@dataclass
class DemoFacts:
    devnet: str
    stage_times: dict[str, float] = field(default_factory=dict)
    txs: list[TxFact] = field(default_factory=list)
    cids: dict[str, str] = field(default_factory=dict)
    orders: list[OrderFacts] = field(default_factory=list)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    services: dict[str, str] = field(default_factory=dict)

    @contextmanager
    def stage(self, label: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stage_times[label] = self.stage_times.get(label, 0.0) + time.perf_counter() - start

    def check(self, name: str, passed: bool, detail: str = "") -> bool:
        self.checks.append((name, bool(passed), detail))
        return bool(passed)

    @property
    def all_passed(self) -> bool:
        return bool(self.checks) and all(ok for _, ok, _ in self.checks)


@dataclass(frozen=True)
class OrderTimeline:
    """``perf_counter`` instants the customer saw: the order accepted, and its terminal status."""

    status: OrderStatus
    accepted_at: float | None
    finished_at: float


def watch_order(
    market: MarketClient, order_id: str, *, timeout: float = 600.0, poll: float = 0.05
) -> OrderTimeline:
    """Poll the order's status closely, noting when it was accepted and when it ended."""
    deadline = time.monotonic() + timeout
    accepted_at = None
    while True:
        status = market.status(order_id)
        now = time.perf_counter()
        if accepted_at is None and status not in (OrderStatus.NONE, OrderStatus.OPEN):
            accepted_at = now
        if status in TERMINAL:
            return OrderTimeline(status, accepted_at, now)
        if time.monotonic() >= deadline:
            raise DemoStepFailed(
                f"order {order_id} is still {status.name} after {timeout:.0f} s",
                hint="Is the provider node running? `enclava devnet status` lists it.",
            )
        time.sleep(poll)


def tx_fact(market: MarketClient, label: str, tx_hash: str) -> TxFact:
    try:
        receipt = market.w3.eth.get_transaction_receipt(HexStr(tx_hash))
    except Exception as exc:  # web3 raises several types for a missing receipt or a dead node
        raise ChainError(f"cannot read the receipt of {tx_hash}: {exc}") from exc
    return TxFact(
        label,
        tx_hash if tx_hash.startswith("0x") else "0x" + tx_hash,
        int(receipt["gasUsed"]),
        int(receipt["blockNumber"]),
    )


def accept_tx(market: MarketClient, order_id: str) -> TxFact:
    """The provider's ``acceptOrder`` transaction, found by the order's ``OrderAccepted`` event."""
    try:
        logs = market.contracts.marketplace.events.OrderAccepted.get_logs(
            from_block=market.from_block,
            argument_filters={"orderId": bytes.fromhex(order_id.removeprefix("0x"))},
        )
    except Exception as exc:
        raise ChainError(f"cannot read OrderAccepted events: {exc}") from exc
    if not logs:
        raise DemoStepFailed(f"order {order_id} has no OrderAccepted event")
    return tx_fact(
        market, "acceptOrder (provider)", "0x" + bytes(logs[-1]["transactionHash"]).hex()
    )
