"""One order from the customer's chair, measured: place it, watch it, read the provider's stage
times, download and decrypt the result, verify the report independently and on the marketplace.

The demo plays it for each story order; the end-to-end benchmark plays it N times.
"""

from __future__ import annotations

import html
import re
import time

import httpx
from eth_account.signers.local import LocalAccount

from demo.context import DemoContext
from demo.facts import DemoStepFailed, OrderFacts, accept_tx, tx_fact, watch_order
from enclava.client import completed_report, fetch_result, place_order
from enclava.crypto import wallet_identity, wallet_recipient
from enclava.protocol import loader_api
from enclava.protocol.order import OrderStatus
from enclava.report import read_completion, verify_order_report

__all__ = ["run_order", "LOADER_STAGES", "STAGE_ORDER", "check_report_page"]

#: The loader's stages (the wire's list) and the node's report transaction, as stored per job.
LOADER_STAGES = (*loader_api.LOADER_STAGES, "report_tx")
#: Every stage of an order, in the order they happen (customer-side stages are timed here).
STAGE_ORDER = (
    "upload",
    "order_tx",
    "input_key_deposit",
    "pickup",
    *LOADER_STAGES,
    "queue_other",
    "result_download_decrypt",
)


def _loader_stages(ctx: DemoContext, order_id: str, timeout: float = 30.0) -> dict[str, float]:
    """The stage times the provider publishes for the job (``GET /v1/jobs/{order_id}`` on its HTTP
    face; the job is finished right after the report transaction)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = httpx.get(f"{ctx.provider.url}/v1/jobs/{order_id}", timeout=10)
            job = reply.json() if reply.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            job = {}
        if job.get("status") in ("completed", "failed") and job.get("stages"):
            return {name: float(seconds) for name, seconds in job["stages"].items()}
        if time.monotonic() > deadline:
            raise DemoStepFailed(f"the provider recorded no stage times for {order_id}")
        time.sleep(0.1)


def run_order(
    ctx: DemoContext,
    customer: LocalAccount,
    *,
    title: str,
    engine_id: int,
    resource_ids: list[int],
    inputs: list[bytes],
    max_duration: int = 300,
    check_page: bool = True,
    timeout: float = 600.0,
) -> tuple[OrderFacts, dict[str, bytes]]:
    """Place, wait, fetch and verify one order; returns its facts and the decrypted result files."""
    start = time.perf_counter()
    placed = place_order(
        ctx.market,
        ctx.store,
        ctx.broker,
        customer,
        engine_id=engine_id,
        resource_ids=resource_ids,
        tee_offer_id=ctx.provider.tee_offer_id(),
        inputs=inputs,
        recipient=wallet_recipient(customer),
        max_duration=max_duration,
    )
    mined = start + placed.timings.get("upload", 0.0) + placed.timings["order_tx"]
    timeline = watch_order(ctx.market, placed.order_id, timeout=timeout)
    if timeline.status != OrderStatus.COMPLETED:
        raise DemoStepFailed(
            f"order {placed.order_id} ended {timeline.status.name}, not COMPLETED",
            hint=f"Read the provider's log under {ctx.provider.folder}.",
        )
    fetch_start = time.perf_counter()
    files = fetch_result(ctx.market, ctx.store, placed.order_id, wallet_identity(customer))
    done = time.perf_counter()

    facts = OrderFacts(title=title, order_id=placed.order_id)
    loader = _loader_stages(ctx, placed.order_id)
    facts.stages.update(placed.timings)
    facts.stages["pickup"] = max(0.0, (timeline.accepted_at or mined) - mined)
    facts.stages.update({name: loader.get(name, 0.0) for name in LOADER_STAGES})
    running = timeline.finished_at - (timeline.accepted_at or mined)
    facts.stages["queue_other"] = max(
        0.0, running - sum(loader.get(name, 0.0) for name in LOADER_STAGES)
    )
    facts.stages["result_download_decrypt"] = done - fetch_start
    facts.stages["total"] = done - start

    completion = read_completion(
        ctx.market.contracts, placed.order_id, from_block=ctx.market.from_block
    )
    accepted = accept_tx(ctx.market, placed.order_id)
    facts.txs = [
        tx_fact(ctx.market, f"createOrder: {title}", placed.tx_hash),
        tx_fact(ctx.market, f"acceptOrder: {title}", accepted.tx_hash),
        tx_fact(ctx.market, f"completeOrder: {title}", completion.tx_hash),
    ]
    report, _ = completed_report(ctx.market, placed.order_id)
    facts.cids = {f"input {n}": cid for n, cid in enumerate(placed.input_cids)}
    facts.cids["result"] = report.output_cid

    ciphertext = ctx.store.get_bytes(report.output_cid, max_size=1 << 30)
    verify_start = time.perf_counter()
    facts.checklist = verify_order_report(
        ctx.market.contracts,
        placed.order_id,
        result_ciphertext=ciphertext,
        from_block=ctx.market.from_block,
    )
    facts.stages["report_verify"] = time.perf_counter() - verify_start
    facts.page_url = ctx.report_page(placed.order_id)
    if check_page:
        facts.page_verdict = check_report_page(ctx, placed.order_id)
        facts.page_verified = bool(facts.page_verdict)
    return facts, files


def _wait_indexed(ctx: DemoContext, order_id: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = httpx.get(f"{ctx.market_url}/v1/orders/{order_id}", timeout=10)
            if reply.status_code == 200 and reply.json().get("status") == "COMPLETED":
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise DemoStepFailed(
                f"the marketplace's indexer does not show {order_id} completed after "
                f"{timeout:.0f} s",
                hint="Check `enclava devnet logs marketplace`.",
            )
        time.sleep(0.3)


_VERDICT = re.compile(r'<p id="verdict" class="status (verified[^"]*)">([^<]*)</p>')


def check_report_page(ctx: DemoContext, order_id: str, timeout: float = 90.0) -> str:
    """Wait for the indexer to show the order completed; the page's verdict in its own words when
    the API and the page say verified (on the devnet's simulated TEE: "verified (simulated TEE),
    ..."), else ""."""
    _wait_indexed(ctx, order_id, timeout)
    try:
        api = httpx.get(f"{ctx.market_url}/v1/reports/{order_id}", timeout=60).json()
        page = httpx.get(ctx.report_page(order_id), timeout=60).text
    except (httpx.HTTPError, ValueError) as exc:
        raise DemoStepFailed(
            f"the marketplace did not answer for the report of {order_id}: {exc}"
        ) from exc
    shown = _VERDICT.search(page)
    if not api.get("verified") or shown is None:
        return ""
    return html.unescape(shown.group(2)).strip()
