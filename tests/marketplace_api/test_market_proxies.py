"""Who the client is: X-Forwarded-For believed only from MARKET_TRUSTED_PROXIES, and the rate limit
keys on it."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from marketplace_api.errors import TrustedProxiesInvalid
from marketplace_api.proxies import ProxyHeadersMiddleware, TrustedProxies
from marketplace_api.ratelimit import RateLimitMiddleware, TokenBuckets

PROXY = "10.0.0.5"


def _app(trusted: list[str], burst: int = 1000) -> Starlette:
    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "client": request.client.host if request.client else None,
                "scheme": request.url.scheme,
            }
        )

    app = Starlette(routes=[Route("/whoami", whoami)])
    app.add_middleware(RateLimitMiddleware, buckets=TokenBuckets(burst, 0.001))
    app.add_middleware(ProxyHeadersMiddleware, proxies=TrustedProxies(trusted))
    return app


def test_no_trusted_proxy_means_forwarded_headers_are_ignored() -> None:
    with TestClient(_app([]), client=(PROXY, 1234)) as client:
        reply = client.get(
            "/whoami", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
        )
    assert reply.json() == {"client": PROXY, "scheme": "http"}


def test_a_trusted_proxy_names_the_client_and_the_scheme() -> None:
    with TestClient(_app(["10.0.0.0/8"]), client=(PROXY, 1234)) as client:
        reply = client.get(
            "/whoami", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
        )
    assert reply.json() == {"client": "203.0.113.9", "scheme": "https"}


def test_through_a_trusted_proxy_the_clients_own_claims_on_the_left_are_ignored() -> None:
    with TestClient(_app(["10.0.0.0/8"]), client=(PROXY, 1234)) as client:
        reply = client.get("/whoami", headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.9, 10.0.0.7"})
    assert reply.json()["client"] == "203.0.113.9"  # right-most hop that is not one of our proxies


def test_a_peer_that_is_not_a_trusted_proxy_is_rate_limited_whatever_it_forwards() -> None:
    with TestClient(_app(["10.0.0.0/8"], burst=3), client=("192.0.2.44", 1234)) as client:
        codes = [
            client.get("/whoami", headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
            for i in range(5)
        ]
    assert codes == [200, 200, 200, 429, 429]


def test_clients_behind_a_trusted_proxy_have_a_bucket_each() -> None:
    with TestClient(_app(["10.0.0.0/8"], burst=2), client=(PROXY, 1234)) as client:
        codes = [
            client.get("/whoami", headers={"X-Forwarded-For": f"203.0.113.{i % 3}"}).status_code
            for i in range(6)
        ]
        assert codes == [200] * 6
        assert client.get("/whoami", headers={"X-Forwarded-For": "203.0.113.0"}).status_code == 429


@pytest.mark.parametrize(
    "peer, forwarded, expected",
    [
        ("127.0.0.1", "203.0.113.9", "127.0.0.1"),  # loopback is not trusted unless configured
        (PROXY, "not-an-address", PROXY),  # a malformed hop: believe only the proxy
        (PROXY, "", PROXY),
        (PROXY, "10.0.0.9, 10.0.0.8", "10.0.0.9"),  # only proxies: the left-most of them
        (PROXY, "[2001:db8::1]", "2001:db8::1"),
    ],
)
def test_client_of(peer: str, forwarded: str, expected: str) -> None:
    assert TrustedProxies(["10.0.0.0/8"]).client_of(peer, forwarded) == expected


def test_an_entry_that_is_no_network_is_a_config_error() -> None:
    with pytest.raises(TrustedProxiesInvalid) as refused:
        TrustedProxies(["10.0.0.0/8", "proxy.internal"])
    assert (
        "proxy.internal" in refused.value.message and "MARKET_TRUSTED_PROXIES" in refused.value.hint
    )
