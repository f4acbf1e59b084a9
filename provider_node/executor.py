"""What a worker does with a job: plain functions the Celery tasks call and tests call directly.

``run_job`` is safe to run twice: it claims the job row first (one live holder at a time), looks at
the order on chain (an order already completed or failed is only recorded), has the trusted loader
(its own process, see provider_node.loader_link) run it under a renewed lease, and publishes the
report or failure the enclave signed. Transient trouble (the loader, the chain or the CA
unreachable) releases the job for a retry. This process signs nothing for the enclave: an order
whose outcome the chain refuses is not run again; the customer's ``timeoutOrder`` after the
deadline refunds it (with the provider's slashed stake).
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

from enclava.chain.errors import ChainRefused
from enclava.errors import TransientError
from enclava.logs import get_logger
from enclava.protocol.engine.reasons import describe_reason
from enclava.protocol.loader_api import SignedOutcome
from enclava.protocol.order import OrderFailure, OrderStatus
from provider_node.earnings import log_completion
from provider_node.errors import LoaderRefused
from provider_node.runtime import Runtime

__all__ = ["run_job", "fail_job", "JobResult"]

log = get_logger("provider_node.executor")

JobResult = str  # "completed" | "failed" | "skipped" | "recorded" | "refused"


@contextmanager
def _lease(rt: Runtime, order_id: str, holder: str) -> Iterator[None]:
    """Renew the job's lease every third of its length while the body runs."""
    stop = threading.Event()
    period = max(1.0, rt.settings.lease_s / 3)

    def renew() -> None:
        while not stop.wait(period):
            rt.jobs.renew(order_id, holder, rt.settings.lease_s)

    thread = threading.Thread(target=renew, name=f"lease-{order_id[:10]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _record_final(rt: Runtime, order_id: str, status: OrderStatus) -> JobResult:
    final = "completed" if status == OrderStatus.COMPLETED else "failed"
    rt.jobs.finish(order_id, final, reason=f"on chain: {status.name.lower()}")
    return "recorded"


def run_job(rt: Runtime, order_id: str, holder: str) -> JobResult:
    job = rt.jobs.claim(order_id, holder, rt.settings.lease_s)
    if job is None:
        log.info("job not claimed (finished or held elsewhere)", extra={"order_id": order_id})
        return "skipped"
    try:
        status = rt.market.status(order_id)
        if status != OrderStatus.ACCEPTED:
            return _record_final(rt, order_id, status)
        if time.time() >= job.deadline - rt.settings.deadline_margin_s:
            return fail_job(rt, order_id)
        with _lease(rt, order_id, holder):
            outcome = rt.loader.execute(order_id)
        return _publish(rt, order_id, outcome)
    except TransientError as error:  # the loader, the chain or the CA unreachable: retried ...
        if isinstance(error, ChainRefused):  # ... unless it is the chain's final word on the call
            log.error(
                "the chain refused the enclave's outcome; the order is left to its timeout "
                "(refund)",
                extra={"order_id": order_id, "type": error.code, "detail": error.message[:300]},
            )
            rt.jobs.finish(order_id, "failed", reason=f"outcome refused on chain: {error.code}")
            return "refused"
        rt.jobs.release(order_id, holder, rt.settings.lease_s * 2)
        raise


def _failure(outcome: SignedOutcome) -> OrderFailure:
    """The signed failure of an outcome that is not a report (the loader answers one of the two)."""
    if outcome.failure is None:
        raise LoaderRefused(
            f"the trusted loader answered neither a report nor a failure for {outcome.order_id}",
            remote_type="invalid_answer",
        )
    return outcome.failure


def _publish(rt: Runtime, order_id: str, outcome: SignedOutcome) -> JobResult:
    order = rt.market.order(order_id)
    if order.status != OrderStatus.ACCEPTED:
        return _record_final(rt, order_id, order.status)
    if outcome.report is not None:  # completed
        start = time.perf_counter()
        _wait_for_block_time(rt, outcome.report.finished_at)
        tx = rt.market.complete_order(rt.account, order.terms, outcome.report, outcome.signature)
        outcome.stages["report_tx"] = time.perf_counter() - start
        rt.jobs.finish(order_id, "completed", tx_hash=tx.tx_hash, stages=outcome.stages)
        log_completion(rt.market, order.terms, outcome.report, tx)
        return "completed"
    failure = _failure(outcome)
    tx = rt.market.fail_order(rt.account, order.terms, failure, outcome.signature)
    rt.jobs.finish(
        order_id, "failed", reason=outcome.reason, tx_hash=tx.tx_hash, stages=outcome.stages
    )
    _log_failure("order failed on chain", order_id, failure, tx.tx_hash)
    return "failed"


def _log_failure(what: str, order_id: str, failure: OrderFailure, tx_hash: str) -> None:
    """The failure in words (``describe_reason``), never the engine's output: that is in the
    detail envelope (``detail_cid``), which only the customer can open."""
    words = describe_reason(failure.reason_code)
    log.info(
        f"{what}: {words.line()}",
        extra={
            "order_id": order_id,
            "reason": words.name,
            "reason_code": words.code,
            "detail_cid": failure.detail_cid,
            "tx": tx_hash,
        },
    )


#: Longest wait for the chain's clock to reach a report's ``finishedAt`` before publishing anyway.
MAX_CLOCK_WAIT_S = 30.0


def _wait_for_block_time(rt: Runtime, finished_at: int) -> None:
    """The contract refuses a report that finishes after the block that records it. A chain whose
    recent blocks ran ahead of the wall clock (several blocks in one second each take the next
    second) can be a few seconds ahead of the enclave's measured end, and a measured end rounded up
    to the second can be up to a second ahead of the chain: wait until the wall clock or the latest
    block has reached it. (Not "one past the latest block": anvil gives a block mined in the same
    second as the latest one that same timestamp, and gas estimation runs on it.)"""
    deadline = time.monotonic() + MAX_CLOCK_WAIT_S
    while time.monotonic() < deadline:
        if time.time() >= finished_at or rt.market.chain_time() >= finished_at:
            return
        time.sleep(0.2)


def fail_job(rt: Runtime, order_id: str, *, holder: str | None = None) -> JobResult:
    """Fail an accepted order whose window has closed (customer refunded), with a timeout the
    enclave signs."""
    order = rt.market.order(order_id)
    if order.status != OrderStatus.ACCEPTED:
        return _record_final(rt, order_id, order.status)
    outcome = rt.loader.timeout(order_id)
    failure = _failure(outcome)
    tx = rt.market.fail_order(rt.account, order.terms, failure, outcome.signature)
    rt.jobs.finish(order_id, "failed", reason=outcome.reason or "timeout", tx_hash=tx.tx_hash)
    _log_failure("order failed cleanly", order_id, failure, tx.tx_hash)
    return "failed"
