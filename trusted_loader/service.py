"""The loader's one interface to its host: a small HTTP API on a local socket (see
enclava.protocol.loader_api).

Routes parse and delegate. What the host can ask for is deliberately narrow: start a certification
(it learns the enclave address and the CA nonce, and answers with its consent signature), run an
order by id, or have a timeout signed once the loader itself sees the order's window closed, and
start or stop a confidential service by its id (:mod:`trusted_loader.service_routes`). Errors
keep the service error shape; trouble with the machine's services (chain, CA) is a 503 so the host
retries, a missing certificate is a 409 so the host renews it first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from enclava.errors import TransientError
from enclava.protocol.loader_api import SignedOutcome, outcome_to_json
from enclava.service import create_service_app
from trusted_loader.enclave import EnclaveIdentity
from trusted_loader.errors import CertificationRequired
from trusted_loader.pipeline import LoaderContext, execute_order, sign_timeout
from trusted_loader.service_routes import add_service_routes

__all__ = ["build_loader_app"]

_ORDER_ID = r"^0x[0-9a-fA-F]{64}$"


class ConsentGiven(BaseModel):
    nonce: str = Field(pattern=r"^(0x)?[0-9a-fA-F]{64}$")
    provider_signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$")


def _transient(error: TransientError) -> JSONResponse:
    return JSONResponse(error.to_dict(), status_code=503)


def build_loader_app(
    identity: EnclaveIdentity, ctx: LoaderContext, *, measurement: bytes
) -> FastAPI:
    app = create_service_app(
        "trusted-loader", description="The trusted loader's local interface (inside the CVM)."
    )

    def status() -> dict[str, Any]:
        enclave = identity.current
        return {
            "provider": identity.provider,
            "measurement": "0x" + measurement.hex(),
            "enclave": enclave.address if enclave else None,
            "certified": bool(enclave and enclave.fresh()),
            "expires_at": enclave.expires_at if enclave else 0,
            "tee_type": enclave.tee_type if enclave else None,
            "simulated": enclave.simulated if enclave else None,
        }

    @app.get("/v1/enclave")
    def enclave_status() -> dict[str, Any]:
        """The enclave's public facts: address, certificate expiry, measured image."""
        return status()

    @app.post("/v1/enclave/consent-request", response_model=None)
    def consent_request() -> JSONResponse | dict[str, Any]:
        """Fresh enclave keys and a CA nonce: the host signs its consent over these two values."""
        try:
            address, nonce = identity.begin()
        except TransientError as error:
            return _transient(error)
        return {"enclave": address, "nonce": nonce, "provider": identity.provider}

    @app.post("/v1/enclave/certify", response_model=None)
    def certify(consent: ConsentGiven) -> JSONResponse | dict[str, Any]:
        """Attest the pending keys and get certified by the CA with the host's consent."""
        try:
            identity.finish(consent.nonce.removeprefix("0x"), consent.provider_signature)
        except TransientError as error:
            return _transient(error)
        return status()

    def signed(
        order_id: str, produce: Callable[[LoaderContext, str], SignedOutcome]
    ) -> JSONResponse | dict[str, Any]:
        if not _valid(order_id):
            return _bad_order_id(order_id)
        try:
            return outcome_to_json(produce(ctx, order_id))
        except CertificationRequired as error:
            return JSONResponse(error.to_dict(), status_code=409)
        except TransientError as error:
            return _transient(error)

    @app.post("/v1/orders/{order_id}/execute", response_model=None)
    def execute(order_id: str) -> JSONResponse | dict[str, Any]:
        """Run the order; the answer is a signed report or a signed failure."""
        return signed(order_id, execute_order)

    @app.post("/v1/orders/{order_id}/timeout", response_model=None)
    def timeout(order_id: str) -> JSONResponse | dict[str, Any]:
        """A signed timeout failure, only once the order's run window has closed by the loader's own
        clock."""
        return signed(order_id, sign_timeout)

    add_service_routes(app, ctx)
    return app


def _valid(order_id: str) -> bool:
    return re.fullmatch(_ORDER_ID, order_id) is not None


def _bad_order_id(order_id: str) -> JSONResponse:
    return JSONResponse(
        {
            "type": "invalid_request",
            "detail": f"{order_id[:80]!r} is not an order id",
            "hint": "Pass 0x followed by 64 hex digits.",
        },
        status_code=422,
    )
