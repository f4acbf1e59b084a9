"""The chain follower: reads ``OrderCreated`` for this provider from a persisted block cursor and
accepts what fits, idempotently.

For each order: a job row is saved (``accepting``) before ``acceptOrder`` is sent, then becomes
``queued`` with its deadline before its task is queued. Re-reading the same blocks changes nothing.
An order that does not fit (all slots busy) holds the cursor just before its block, so it is
considered again once a slot frees.
"""

from __future__ import annotations

from collections.abc import Callable

from web3 import Web3

from enclava.chain.market import deadline_of, orders_created
from enclava.errors import ChainError
from enclava.logs import get_logger
from enclava.protocol.order import OrderStatus, OrderTerms
from provider_node.runtime import Runtime

__all__ = ["OrderFollower"]

log = get_logger("provider_node.follower")

MAX_RANGE = 2_000


class OrderFollower:
    def __init__(
        self,
        rt: Runtime,
        tee_offers: dict[int, int],
        enqueue: Callable[[str], None],
        on_accepted: Callable[[str], None] = lambda _order_id: None,
    ) -> None:
        self.rt = rt
        self.tee_offers = tee_offers  # TEE offer id -> slots
        self.enqueue = enqueue
        self.on_accepted = on_accepted

    def poll_once(self) -> int:
        """Handle new blocks; return how many orders were accepted."""
        market, jobs = self.rt.market, self.rt.jobs
        latest = int(market.w3.eth.block_number)
        cursor = jobs.cursor()
        start = (cursor + 1) if cursor is not None else self.rt.settings.deploy_block
        if start > latest:
            return 0
        end = min(latest, start + MAX_RANGE - 1)
        created = orders_created(market.contracts, start, end, provider=self.rt.account.address)
        accepted = 0
        for entry in created:
            verdict = self.consider(entry.order_id, entry.terms)
            if verdict == "full":
                jobs.set_cursor(entry.block_number - 1)
                return accepted
            accepted += verdict == "accepted"
        jobs.set_cursor(end)
        return accepted

    def consider(self, order_id: str, terms: OrderTerms) -> str:
        jobs, market = self.rt.jobs, self.rt.market
        if terms.tee_offer_id not in self.tee_offers or jobs.get(order_id) is not None:
            return "ignored"
        if market.status(order_id) != OrderStatus.OPEN:
            return "ignored"
        if jobs.open_count(terms.tee_offer_id) >= self.tee_offers[terms.tee_offer_id]:
            return "full"
        if not jobs.add(order_id, tee_offer_id=terms.tee_offer_id, deadline=0, status="accepting"):
            return "ignored"
        try:
            tx = market.accept_order(self.rt.account, order_id)
        except ChainError as exc:
            jobs.discard(order_id)
            if market.status(order_id) != OrderStatus.OPEN:
                log.info("order taken elsewhere", extra={"order_id": order_id})
                return "ignored"
            log.warning("accept failed; will retry", extra={"order_id": order_id, "type": exc.code})
            return "full"
        deadline = deadline_of(market.contracts, terms)
        jobs.queue(order_id, deadline=deadline)
        log.info(
            "order accepted", extra={"order_id": order_id, "tx": tx.tx_hash, "deadline": deadline}
        )
        self.on_accepted(order_id)
        self.enqueue(order_id)
        return "accepted"

    def adopt_accepting(self) -> None:
        """After a crash between ``acceptOrder`` and ``queued``: finish the bookkeeping from the
        chain."""
        market, jobs = self.rt.market, self.rt.jobs
        for job in jobs.open_jobs():
            if job.status != "accepting":
                continue
            order = market.order(job.order_id)
            if (
                order.status == OrderStatus.ACCEPTED
                and Web3.to_checksum_address(order.terms.provider) == self.rt.account.address
            ):
                jobs.queue(job.order_id, deadline=order.deadline)
                self.enqueue(job.order_id)
            elif order.status == OrderStatus.OPEN:
                jobs.discard(job.order_id)
            else:
                jobs.finish(job.order_id, "failed", reason=f"on chain: {order.status.name.lower()}")
