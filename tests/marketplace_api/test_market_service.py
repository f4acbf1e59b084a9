"""Service edges: rate limit, error shape, CORS, OpenAPI docs, metrics, and the devnet-started
service."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from market_helpers import market_settings

from marketplace_api import create_app

pytestmark = pytest.mark.devnet


@pytest.fixture(scope="module")
def limited(devnet_manifest, tmp_path_factory):
    settings = market_settings(
        devnet_manifest,
        tmp_path_factory.mktemp("limited"),
        rate_limit_burst=3,
        rate_limit_per_s=0.01,
        cors_origins=["https://app.example"],
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_rate_limit_answers_429_in_the_one_error_shape(limited):
    codes = [limited.get("/v1/catalogue").status_code for _ in range(3)]
    refused = limited.get("/v1/catalogue")
    assert codes == [200, 200, 200] and refused.status_code == 429
    assert (
        set(refused.json()) == {"type", "detail", "hint"}
        and refused.json()["type"] == "rate_limited"
    )
    assert int(refused.headers["retry-after"]) >= 1
    assert limited.get("/healthz").status_code == 200  # health checks are never limited
    assert "market_rate_limited_total 1.0" in limited.get("/metrics").text


def test_cors_allows_only_configured_origins(devnet_manifest, tmp_path):
    settings = market_settings(devnet_manifest, tmp_path, cors_origins=["https://app.example"])
    with TestClient(create_app(settings)) as client:
        allowed = client.get("/healthz", headers={"Origin": "https://app.example"})
        other = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in other.headers


def test_unknown_route_and_unknown_ids_use_the_one_error_shape(market):
    for path in (
        "/v1/nothing-here",
        "/v1/orders/0x" + "ab" * 32,
        "/v1/tee-offers/999999",
        "/v1/models/999999",
    ):
        reply = market.get(path)
        assert reply.status_code == 404 and set(reply.json()) == {"type", "detail", "hint"}, path
    bad = market.get("/v1/orders/not-an-id")
    assert bad.status_code == 422 and bad.json()["type"] == "invalid_request"


def test_openapi_docs_and_metrics_are_served(market):
    assert market.get("/docs").status_code == 200
    paths = market.get("/openapi.json").json()["paths"]
    assert {"/v1/auth/verify", "/v1/listings", "/v1/catalogue", "/v1/reports/{order_id}"} <= set(
        paths
    )
    assert "market_indexed_block" in market.get("/metrics").text


def test_devnet_starts_the_marketplace_and_names_it_in_the_manifest(devnet_manifest):
    url = devnet_manifest.services["marketplace"].url
    assert httpx.get(f"{url}/healthz", timeout=10).json()["service"] == "marketplace-api"
    assert httpx.get(f"{url}/v1/catalogue", timeout=10).status_code == 200


def test_openapi_declares_the_one_error_shape_and_the_integer_bounds(market):
    doc = market.get("/openapi.json").json()
    tee_offer = doc["paths"]["/v1/tee-offers/{tee_offer_id}"]["get"]
    schema = tee_offer["responses"]["default"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/ErrorBody")
    assert set(doc["components"]["schemas"]["ErrorBody"]["required"]) == {"type", "detail", "hint"}
    assert (
        "HTTPValidationError" not in doc["components"]["schemas"]
    )  # never sent: validation errors are the shape
    assert tee_offer["parameters"][0]["schema"]["maximum"] == 2**256 - 1
    pages = {
        p["name"]: p["schema"]
        for p in doc["paths"]["/v1/wallets/{address}/orders"]["get"]["parameters"]
    }
    assert pages["page"]["maximum"] == 10_000 and pages["per_page"]["maximum"] == 100
