"""The node's HTTP face: ``/healthz`` (chain and Redis reachable), Prometheus ``/metrics``, the
job counts (``/v1/status``) and one job's public progress and earnings (``/v1/jobs/{order_id}``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from enclava.service import create_service_app
from provider_node.earnings import EARNINGS_UNREADABLE, completed_earnings

if TYPE_CHECKING:
    from provider_node.node import ProviderNode

__all__ = ["build_app"]


def build_app(node: ProviderNode) -> FastAPI:
    app = create_service_app("provider-node", description="Enclava provider node.")
    app.state.metrics_registry.register(node)

    @app.get("/v1/status", tags=["ops"])
    def status() -> dict[str, Any]:
        jobs = node.rt.jobs.all_jobs()
        return {
            "provider": node.rt.account.address,
            "tee_offers": {str(k): v for k, v in node.tee_offers.items()},
            "jobs": {
                s: sum(j.status == s for j in jobs)
                for s in ("accepting", "queued", "running", "completed", "failed")
            },
        }

    @app.get("/v1/jobs/{order_id}", tags=["ops"], response_model=None)
    def job(order_id: str) -> dict[str, Any] | JSONResponse:
        """Where one order's job stands: its status and, once finished, the seconds per stage
        (the loader's stages and the report transaction; nothing secret); once completed, what
        the provider earned and why (``billed_s``, ``earned_wei``, ``billing``: from the chain's
        report and payouts, see provider_node.earnings)."""
        record = node.rt.jobs.get(order_id)
        if record is None:
            return JSONResponse(
                {"type": "not_found", "detail": f"this node has no job for order {order_id}"},
                status_code=404,
            )
        body: dict[str, Any] = {
            "order_id": record.order_id,
            "status": record.status,
            "stages": record.stages,
        }
        if record.status == "completed":
            try:
                earned = completed_earnings(node.rt.market, record.order_id)
            except EARNINGS_UNREADABLE as exc:  # the chain is unreachable: the job still answers
                body["billing_error"] = type(exc).__name__
                earned = None
            if earned is not None:
                # wei as strings: JSON numbers lose precision above 2^53
                body.update(
                    billed_s=earned.billed_s,
                    earned_wei=str(earned.earned_wei),
                    billing=earned.fields(),
                    billing_line=earned.line(),
                )
        return body

    return app
