"""What a worker does with a job: plain functions the Celery tasks call and tests call directly.

``run_job`` is safe to run twice: it claims the job row first (one live holder at a time), looks at
the order on chain (an order already completed or failed is only recorded), runs the trusted
loader under a renewed lease, and publishes the signed report or failure. Transient trouble (the
chain or the CA unreachable) releases the job for a retry; the order itself is never left without
an outcome before its deadline if any worker can still sign one.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

from enclava.chain.orders import OrderFailure
from enclava.chain.types import OrderStatus
from enclava.engine.reasons import Reason
from enclava.errors import ChainError
from enclava.logs import get_logger
from provider_node.runtime import Runtime
from trusted_loader.errors import CaUnavailable, CertificationFailed
from trusted_loader.pipeline import OrderOutcome, execute_order

__all__ = ["run_job", "fail_job", "TRANSIENT", "is_transient", "JobResult"]

log = get_logger("provider_node.executor")

#: Errors worth a retry with back-off rather than failing the order.
TRANSIENT = (ChainError, CaUnavailable, CertificationFailed)
#: ChainError codes that are the contract's final word, not a hiccup of the node.
_FINAL_CHAIN_CODES = ("tx_reverted", "tx_failed", "call_invalid")


def is_transient(error: BaseException) -> bool:
    if isinstance(error, ChainError):
        return error.code not in _FINAL_CHAIN_CODES
    return isinstance(error, TRANSIENT)

JobResult = str  # "completed" | "failed" | "skipped" | "recorded"


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
            return fail_job(rt, order_id, Reason.TIMEOUT, holder=holder)
        with _lease(rt, order_id, holder):
            outcome = execute_order(rt.loader_context(), order_id)
        return _publish(rt, order_id, outcome)
    except TRANSIENT as error:
        if not is_transient(error):
            log.error("the chain refused the outcome; failing the order",
                      extra={"order_id": order_id, "type": error.code})
            return fail_job(rt, order_id, Reason.INTERNAL_ERROR)
        rt.jobs.release(order_id, holder, rt.settings.lease_s * 2)
        raise


def _publish(rt: Runtime, order_id: str, outcome: OrderOutcome) -> JobResult:
    order = rt.market.order(order_id)
    if order.status != OrderStatus.ACCEPTED:
        return _record_final(rt, order_id, order.status)
    if outcome.completed:
        start = time.perf_counter()
        tx = rt.market.complete_order(rt.account, order.terms, outcome.report, outcome.signature)
        outcome.stages["report_tx"] = time.perf_counter() - start
        rt.jobs.finish(order_id, "completed", tx_hash=tx.tx_hash, stages=outcome.stages)
        log.info("order completed", extra={"order_id": order_id, "tx": tx.tx_hash, "gas": tx.gas_used})
        return "completed"
    tx = rt.market.fail_order(rt.account, order.terms, outcome.failure, outcome.signature)
    rt.jobs.finish(order_id, "failed", reason=outcome.reason, tx_hash=tx.tx_hash, stages=outcome.stages)
    log.info("order failed on chain", extra={"order_id": order_id, "reason": outcome.reason, "tx": tx.tx_hash})
    return "failed"


def fail_job(rt: Runtime, order_id: str, reason: Reason, *, holder: str | None = None) -> JobResult:
    """Fail an accepted order cleanly (customer refunded) with a failure signed by this worker's enclave."""
    order = rt.market.order(order_id)
    if order.status != OrderStatus.ACCEPTED:
        return _record_final(rt, order_id, order.status)
    enclave = rt.enclave()
    failure = OrderFailure(order_id=bytes.fromhex(order_id.removeprefix("0x")), enclave=enclave.address,
                           reason_code=int(reason))
    tx = rt.market.fail_order(rt.account, order.terms, failure, rt.market.sign_failure(enclave.account, failure))
    rt.jobs.finish(order_id, "failed", reason=reason.name.lower(), tx_hash=tx.tx_hash)
    log.info("order failed cleanly", extra={"order_id": order_id, "reason": reason.name.lower(), "tx": tx.tx_hash})
    return "failed"
