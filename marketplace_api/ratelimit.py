"""A per-client-IP token bucket as ASGI middleware; refusals use the one error shape (429).

The client is the ASGI scope's client: the TCP peer, or what a *configured* proxy forwarded
(:mod:`marketplace_api.proxies` runs outside this middleware); a header alone never picks a bucket.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from marketplace_api.errors import RateLimited

__all__ = ["TokenBuckets", "RateLimitMiddleware"]

_EXEMPT = ("/healthz", "/metrics")


class TokenBuckets:
    """``burst`` tokens per client, refilled at ``per_s`` a second; one token per request."""

    def __init__(self, burst: int, per_s: float, *, max_clients: int = 100_000) -> None:
        self.burst, self.per_s, self.max_clients = burst, per_s, max_clients
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client: str, now: float | None = None) -> float:
        """0 when allowed, else the seconds until a token is available."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.per_s)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                allowed = 0.0
            else:
                self._buckets[client] = (tokens, now)
                allowed = (1.0 - tokens) / self.per_s if self.per_s > 0 else math.inf
            if len(self._buckets) > self.max_clients:  # forget the oldest half; a bounded memory
                for key in sorted(self._buckets, key=lambda k: self._buckets[k][1])[
                    : self.max_clients // 2
                ]:
                    del self._buckets[key]
            return allowed


class RateLimitMiddleware(BaseHTTPMiddleware):
    def __init__(
        self, app: ASGIApp, buckets: TokenBuckets, on_refuse: Callable[[], None] | None = None
    ) -> None:
        super().__init__(app)
        self.buckets = buckets
        self.on_refuse = on_refuse

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if self.buckets.burst <= 0 or request.url.path in _EXEMPT:
            return await call_next(request)
        client = request.client.host if request.client else "unknown"
        wait = self.buckets.take(client)
        if wait:
            if self.on_refuse:
                self.on_refuse()
            error = RateLimited(f"too many requests from {client}")
            retry = "3600" if math.isinf(wait) else str(max(1, math.ceil(wait)))
            return JSONResponse(error.to_dict(), status_code=429, headers={"Retry-After": retry})
        return await call_next(request)
