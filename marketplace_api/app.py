"""Composes the marketplace service: settings (checked) → DB, chain, sessions, indexer → routes and
middleware.

Middleware, outermost first: trusted-proxy headers (who the client is) → CORS → rate limit → routes.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from eth_account import Account
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from prometheus_client import Counter, Gauge
from starlette.exceptions import HTTPException as StarletteHTTPException

from enclava.service import create_service_app
from marketplace_api import pages, routes_api, routes_audit, routes_auth, routes_tail
from marketplace_api.auth import SessionAuthority
from marketplace_api.chain import connect
from marketplace_api.db import make_engine, make_sessionmaker
from marketplace_api.deps import Services
from marketplace_api.indexer import Indexer
from marketplace_api.proxies import ProxyHeadersMiddleware, TrustedProxies
from marketplace_api.ratelimit import RateLimitMiddleware, TokenBuckets
from marketplace_api.settings import MarketSettings, check_settings
from marketplace_api.tail_egress import TailPolicy

__all__ = ["create_app"]

DESCRIPTION = (
    "Enclava marketplace: wallet sign-in (EIP-4361), listings relayed on chain, a catalogue "
    "indexed from chain events, orders and independently verified integrity reports."
)
_HTTP_TYPES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}


def create_app(settings: MarketSettings | None = None) -> FastAPI:
    settings = settings or MarketSettings()
    check_settings(settings)
    proxies = TrustedProxies(settings.trusted_proxies)
    app = create_service_app("marketplace-api", description=DESCRIPTION)
    registry = app.state.metrics_registry
    limited = Counter(
        "market_rate_limited_total", "Requests refused by the rate limit", registry=registry
    )
    indexed = Gauge("market_indexed_block", "Last block the indexer has applied", registry=registry)

    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    chain = connect(settings)
    secret = (
        settings.session_secret.encode() if settings.session_secret else secrets.token_bytes(32)
    )
    indexer = Indexer(chain, sessions, batch_blocks=settings.index_batch_blocks)
    indexed.set_function(indexer.cursor)
    app.state.services = Services(
        settings=settings,
        chain=chain,
        chain_id=chain.client.chain_id(),
        sessions=sessions,
        auth=SessionAuthority(
            sessions,
            secret=secret,
            ttl_s=settings.session_ttl_s,
            nonce_ttl_s=settings.siwe_nonce_ttl_s,
        ),
        indexer=indexer,
        relayer=Account.from_key(settings.relayer_key) if settings.relayer_key else None,
        tail_policy=TailPolicy(allow_loopback=settings.insecure_allow_loopback_tail),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.indexer_enabled:
            indexer.start(settings.index_interval_s)
        try:
            yield
        finally:
            indexer.stop()
            engine.dispose()

    app.router.lifespan_context = lifespan

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = _HTTP_TYPES.get(exc.status_code, "http_error")
        return JSONResponse(
            {
                "type": kind,
                "detail": str(exc.detail),
                "hint": "Check the URL and method; see /docs.",
            },
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    app.include_router(routes_auth.router)
    app.include_router(routes_api.router)
    app.include_router(routes_tail.router)
    app.include_router(routes_audit.router)
    app.include_router(pages.router)
    app.add_middleware(
        RateLimitMiddleware,
        buckets=TokenBuckets(settings.rate_limit_burst, settings.rate_limit_per_s),
        on_refuse=limited.inc,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(ProxyHeadersMiddleware, proxies=proxies)  # added last: outermost
    return app
