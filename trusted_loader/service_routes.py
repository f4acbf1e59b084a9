"""The host's routes for confidential services on the loader's local socket.

``POST /v1/services/{id}`` starts one (the host names where customers reach it: host names for
the TLS certificate, the port, the model's served name); the loader checks everything else itself
(:mod:`trusted_loader.service_mode`) and answers with the signed statement. ``GET /v1/services``
lists the running ones, ``GET /v1/services/{id}/vouchers`` gives each customer's latest verified
voucher (to settle), ``DELETE /v1/services/{id}`` stops one. The chain id and ServiceMarket of
the vouchers' domain are the loader's own chain settings; the one switch that loosens isolation
(``LOADER_SERVING_INSECURE_UNSANDBOXED_ENGINE``) comes from the loader's environment, never
from a request.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from enclava.errors import EnclavaError, TransientError
from enclava.protocol.serving import encode_statement
from trusted_loader.pipeline import LoaderContext
from trusted_loader.service_mode import RunningService, start_service
from trusted_loader.serving import ServingSettings

__all__ = ["ServiceStart", "add_service_routes"]

_SERVICE_ID = re.compile(r"^0x[0-9a-fA-F]{64}$")


class ServiceStart(BaseModel):
    """What the host decides about a service: where it is reached and under which name."""

    model_config = ConfigDict(extra="forbid")

    hosts: tuple[str, ...] = Field(min_length=1, max_length=16)
    port: int = Field(ge=1, le=65535)
    model_name: str = Field(min_length=1, max_length=128)
    bind_host: str = "0.0.0.0"
    credit_responses: int = Field(default=1, ge=1, le=64)
    engine_args: tuple[str, ...] = Field(default=(), max_length=16)


def _statement(running: RunningService) -> dict[str, Any]:
    statement: dict[str, Any] = json.loads(encode_statement(running.statement))
    return statement


def add_service_routes(app: FastAPI, ctx: LoaderContext) -> None:
    running: dict[str, RunningService] = {}
    lock = threading.Lock()

    def refused(error: EnclavaError) -> JSONResponse:
        status = 503 if isinstance(error, TransientError) else error.http_status
        return JSONResponse(error.to_dict(), status_code=status)

    @app.post("/v1/services/{service_id}", response_model=None)
    def start(service_id: str, request: ServiceStart) -> JSONResponse | dict[str, Any]:
        """Start serving ``service_id``'s model; the answer is its signed statement."""
        if not _SERVICE_ID.fullmatch(service_id):
            return JSONResponse(
                {"type": "invalid_request", "detail": "not a service id", "hint": "0x + 64 hex"},
                status_code=422,
            )
        key = service_id.lower()
        with lock:
            if key in running:
                return _statement(running[key])
            try:
                settings = ServingSettings(
                    **request.model_dump(),
                    chain_id=ctx.market.chain.chain_id(),
                    service_market=ctx.market.contracts.service_market.address,
                )
                running[key] = start_service(ctx, key, settings)
            except EnclavaError as error:
                return refused(error)
            return _statement(running[key])

    @app.get("/v1/services")
    def listing() -> dict[str, Any]:
        """The services this enclave serves now, each with its statement."""
        with lock:
            return {"services": [_statement(r) for r in running.values()]}

    @app.get("/v1/services/{service_id}/vouchers", response_model=None)
    def vouchers(service_id: str) -> JSONResponse | dict[str, Any]:
        """Every customer's latest verified voucher, for the host to settle on chain."""
        with lock:
            service = running.get(service_id.lower())
        if service is None:
            return JSONResponse(
                {"type": "not_found", "detail": "no such service here", "hint": "Start it first."},
                status_code=404,
            )
        latest = service.serving.ledger.latest_vouchers()
        return {"service_id": service.service_id, "vouchers": [v.to_json() for v in latest]}

    @app.delete("/v1/services/{service_id}")
    def stop(service_id: str) -> dict[str, Any]:
        """Stop a service: the server, the engine, and the model's scratch area."""
        with lock:
            service = running.pop(service_id.lower(), None)
        if service is not None:
            service.stop()
        return {"stopped": service is not None}
