"""The node's HTTP face: ``/healthz`` (chain and Redis reachable) and Prometheus ``/metrics``."""

from __future__ import annotations

from fastapi import FastAPI

from enclava.service import create_service_app

__all__ = ["build_app"]


def build_app(node) -> FastAPI:
    app = create_service_app("provider-node", description="Enclava provider node.")
    app.state.metrics_registry.register(node)

    @app.get("/v1/status", tags=["ops"])
    def status() -> dict:
        jobs = node.rt.jobs.all_jobs()
        return {
            "provider": node.rt.account.address,
            "offers": {str(k): v for k, v in node.offers.items()},
            "jobs": {
                s: sum(j.status == s for j in jobs)
                for s in ("accepting", "queued", "running", "completed", "failed")
            },
        }

    return app
