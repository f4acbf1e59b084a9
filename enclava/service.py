"""What every Enclava HTTP service shares: one error shape, /healthz, Prometheus /metrics.

Routes stay thin; a raised :class:`EnclavaError` becomes ``{"type", "detail", "hint"}`` with a
4xx status, anything else becomes a 500 with a generic detail (the cause is logged, never echoed).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from enclava import __version__
from enclava.errors import EnclavaError
from enclava.logs import get_logger

__all__ = ["create_service_app", "status_for"]


def status_for(error: EnclavaError) -> int:
    """The HTTP status of ``error``: its class says it (``http_status``), never its code string."""
    return error.http_status


def create_service_app(name: str, *, description: str = "") -> FastAPI:
    app = FastAPI(title=name, version=__version__, description=description)
    registry = CollectorRegistry()
    errors = Counter(
        "enclava_errors_total", "Errors answered, by type", ["type"], registry=registry
    )
    app.state.metrics_registry = registry
    log = get_logger(name)

    @app.exception_handler(EnclavaError)
    async def _enclava_error(request: Request, exc: EnclavaError) -> JSONResponse:
        errors.labels(exc.code).inc()
        log.info("request refused", extra={"path": request.url.path, "type": exc.code})
        return JSONResponse(exc.to_dict(), status_code=status_for(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors.labels("invalid_request").inc()
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return JSONResponse(
            {
                "type": "invalid_request",
                "detail": detail,
                "hint": "Fix the request fields named above.",
            },
            status_code=422,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        errors.labels("internal_error").inc()
        log.error(
            "unexpected error", extra={"path": request.url.path, "error_type": type(exc).__name__}
        )
        return JSONResponse(
            {
                "type": "internal_error",
                "detail": "internal error",
                "hint": "Retry; if it persists, report it with the time of the request.",
            },
            status_code=500,
        )

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "service": name, "version": __version__}

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
