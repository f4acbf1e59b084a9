"""What the provider earned on a completed order, and why.

The marketplace pays a completed order out in ``Marketplace._creditPayouts``: every resource owner
is credited the price in the order's terms, the provider is credited ``pricePerSecond x billed``
where ``billed = min(finishedAt - startedAt, maxDuration)`` — the report's times, which the
enclave measured, bounded by the chain (``acceptedAt <= startedAt <= finishedAt <= block time``) —
and the customer gets the rest of the compute escrow back. :func:`billing` recomputes the
provider's share from the terms and the report alone; :func:`order_earnings` adds what the chain's
``Credited`` and ``Refunded`` events actually paid, so a line can show both and a mismatch shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from web3 import Web3
from web3.exceptions import Web3Exception

from enclava.errors import ChainError
from enclava.logs import get_logger
from enclava.protocol.order import IntegrityReport, OrderTerms

if TYPE_CHECKING:
    from enclava.chain.market import MarketClient
    from enclava.chain.rpc import TxResult

__all__ = [
    "Earnings",
    "billing",
    "order_earnings",
    "completed_earnings",
    "log_completion",
    "EARNINGS_UNREADABLE",
]

log = get_logger("provider_node.earnings")

#: What reading the payouts raises when the RPC fails (in Enclava's words or in web3's).
EARNINGS_UNREADABLE = (ChainError, Web3Exception, ValueError, OSError)


@dataclass(frozen=True)
class Earnings:
    """One completed order's bill: the provider's part and every payout the chain made."""

    order_id: str
    provider: str
    started_at: int
    finished_at: int
    max_duration_s: int
    price_per_second: int
    #: ``finishedAt - startedAt``, what the enclave measured
    ran_s: int
    #: ``min(ran_s, max_duration_s)``, what the contract bills
    billed_s: int
    #: ``billed_s x price_per_second``, the provider's credit
    earned_wei: int
    #: (resource id, owner, price) for each resource in the terms
    owners: tuple[tuple[int, str, int], ...] = ()
    #: account -> wei the chain paid for the order (``Credited`` + ``Refunded``); empty if unread
    paid: dict[str, int] = field(default_factory=dict)

    @property
    def credited_to_provider(self) -> int | None:
        """What the chain credited the provider (None when the payouts were not read)."""
        if not self.paid:
            return None
        return self.paid.get(self.provider, 0)

    def line(self) -> str:
        """``order 0x… completed: billed 4 s x 1,000 wei/s = 4,000 wei to provider 0x…; …``"""
        text = (
            f"order {self.order_id} completed: billed {self.billed_s} s x "
            f"{self.price_per_second:,} wei/s = {self.earned_wei:,} wei to provider "
            f"{self.provider} (ran {self.ran_s} s, startedAt {self.started_at}, finishedAt "
            f"{self.finished_at}, max {self.max_duration_s} s)"
        )
        if self.owners:
            text += "; owners " + ", ".join(
                f"{owner} {price:,} wei (resource {rid})" for rid, owner, price in self.owners
            )
        credited = self.credited_to_provider
        if credited is not None and credited != self.earned_wei:
            text += f"; BUT the chain credited the provider {credited:,} wei"
        return text

    def fields(self) -> dict[str, Any]:
        """The figures as log fields and JSON (nothing secret)."""
        return {
            "order_id": self.order_id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "ran_s": self.ran_s,
            "billed_s": self.billed_s,
            "max_duration_s": self.max_duration_s,
            "price_per_second": self.price_per_second,
            "earned_wei": self.earned_wei,
            "credited_wei": self.credited_to_provider,
            "payouts": {account: str(wei) for account, wei in self.paid.items()},
        }


def billing(order_id: str, terms: OrderTerms, report: IntegrityReport) -> Earnings:
    """The bill ``_creditPayouts`` makes from these terms and this report (no chain reads)."""
    ran = max(0, int(report.finished_at) - int(report.started_at))
    billed = min(ran, int(terms.max_duration))
    return Earnings(
        order_id=order_id,
        provider=Web3.to_checksum_address(terms.provider),
        started_at=int(report.started_at),
        finished_at=int(report.finished_at),
        max_duration_s=int(terms.max_duration),
        price_per_second=int(terms.price_per_second),
        ran_s=ran,
        billed_s=billed,
        earned_wei=billed * int(terms.price_per_second),
        owners=tuple((int(p.resource_id), p.payee, int(p.amount)) for p in terms.payments),
    )


def order_earnings(
    market: MarketClient, order_id: str, terms: OrderTerms, report: IntegrityReport
) -> Earnings:
    """:func:`billing` plus the payouts the chain made for the order (its events)."""
    return replace(billing(order_id, terms, report), paid=market.payouts_for_order(order_id))


def completed_earnings(market: MarketClient, order_id: str) -> Earnings | None:
    """The earnings of ``order_id`` from the chain alone (its ``OrderCompleted`` report), or None
    when it has not completed."""
    completed = market.completion(order_id)
    if completed is None:
        return None
    report, _ = completed
    return order_earnings(market, order_id, market.order(order_id).terms, report)


def log_completion(
    market: MarketClient, terms: OrderTerms, report: IntegrityReport, tx: TxResult
) -> Earnings:
    """Log the one line that says what a completed order earned and why. The order is settled
    already: if the payouts cannot be read now, the line carries the bill without them."""
    order_id = "0x" + bytes(report.order_id).hex()
    try:
        earned = order_earnings(market, order_id, terms, report)
    except EARNINGS_UNREADABLE:
        earned = billing(order_id, terms, report)
    log.info(earned.line(), extra={**earned.fields(), "tx": tx.tx_hash, "gas": tx.gas_used})
    return earned
