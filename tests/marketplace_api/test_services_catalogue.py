"""The service and its endpoint appear in the catalogue (issue 17), on the real devnet.

A model owner lists a MODEL resource and prices its tokens, a provider starts a ServiceMarket
service for it, publishes its endpoint and binds a CA-certified enclave (no enclave process is
needed to index), then stops it; the marketplace's indexer follows each step into ``GET
/v1/services``, ``GET /v1/services/{id}``, the catalogue page and the model's page. A deployment
without a ServiceMarket indexes as before, with no services.
"""

from __future__ import annotations

import json
import os

import chain_story
import pytest
from fastapi.testclient import TestClient
from market_helpers import index, market_settings

from enclava.chain.services import ServiceClient
from enclava.chain.types import ResourceKind
from marketplace_api import create_app

INPUT_PRICE, OUTPUT_PRICE = 3 * 10**9, 7 * 10**9
ENDPOINT = "https://serving.example:8443"


@pytest.fixture(scope="module")
def served(story):
    """A started service with its endpoint and bound enclave: (ServiceClient, terms, ids...)."""
    provider, owner = chain_story.fresh_account(story), chain_story.fresh_account(story)
    tee_offer_id = chain_story.register_provider(story, provider)
    model_id = chain_story.list_resource(story, owner, os.urandom(64), kind=ResourceKind.MODEL)
    services = ServiceClient(story.chain, story.contracts)
    services.set_token_prices(owner, model_id, input_price=INPUT_PRICE, output_price=OUTPUT_PRICE)
    ends_at = services.chain_time() + 3600
    offered = services.terms_for(
        provider.address, tee_offer_id=tee_offer_id, model_id=model_id, ends_at=ends_at
    )
    service_id = services.start_service(provider, offered)
    terms = services.terms(service_id)
    services.set_endpoint(provider, terms, ENDPOINT)
    enclave = chain_story.certify_enclave(story, provider)
    services.bind_enclave(provider, terms, enclave.address)
    return {
        "services": services,
        "terms": terms,
        "service_id": service_id,
        "provider": provider,
        "model_id": model_id,
        "tee_offer_id": tee_offer_id,
        "enclave": enclave.address,
        "ends_at": ends_at,
    }


def test_a_started_service_is_listed_with_its_terms_endpoint_and_enclave(market, served):
    index(market)
    reply = market.get(f"/v1/services/{served['service_id']}")
    assert reply.status_code == 200, reply.text
    svc = reply.json()
    assert svc["service_id"] == served["service_id"]
    assert svc["model_id"] == served["model_id"]
    assert svc["provider"] == served["provider"].address
    assert svc["tee_offer_id"] == served["tee_offer_id"] and svc["tee_type"] == "SIMULATED"
    assert svc["input_token_price_wei"] == str(INPUT_PRICE)
    assert svc["output_token_price_wei"] == str(OUTPUT_PRICE)
    per_token, price = served["services"].serving_price(served["tee_offer_id"])
    assert svc["provider_price_mode"] == ("per_token" if per_token else "per_second")
    assert svc["provider_price_wei"] == str(price)
    assert svc["ends_at"] == served["ends_at"]
    assert svc["status"] == "LIVE" and svc["live"] is True
    assert svc["endpoint"] == ENDPOINT
    assert svc["enclave"] == served["enclave"]
    assert svc["model"]["model_hash"] == served["terms"].model_hash
    assert svc["terms"] == served["terms"].to_json()  # what a client checks against the id

    listed = market.get("/v1/services", params={"model_id": served["model_id"]}).json()
    assert [s["service_id"] for s in listed["items"]] == [served["service_id"]]
    assert listed["total"] == 1 and listed["page"] == 1
    mine = market.get("/v1/services", params={"provider": served["provider"].address}).json()
    assert [s["service_id"] for s in mine["items"]] == [served["service_id"]]


def test_the_catalogue_shows_the_models_token_prices_and_the_live_service(market, served):
    index(market)
    found = market.get("/v1/catalogue", params={"kind": "model", "per_page": 100}).json()
    item = next(i for i in found["items"] if i["resource_id"] == served["model_id"])
    assert item["token_prices"] == {"input_wei": str(INPUT_PRICE), "output_wei": str(OUTPUT_PRICE)}
    detail = market.get(f"/v1/models/{served['model_id']}").json()
    assert [s["service_id"] for s in detail["services"]] == [served["service_id"]]
    page = market.get("/")
    assert page.status_code == 200
    assert f'data-service-id="{served["service_id"]}"' in page.text
    assert ENDPOINT in page.text
    model_page = market.get(f"/models/{served['model_id']}")
    assert model_page.status_code == 200
    assert 'id="token-prices"' in model_page.text
    assert f'data-service-id="{served["service_id"]}"' in model_page.text


def test_an_unknown_or_malformed_service_id_is_refused_in_the_error_shape(market):
    unknown = market.get("/v1/services/0x" + "00" * 32)
    assert unknown.status_code == 404
    body = unknown.json()
    assert body["type"] == "service_not_found" and body["hint"] and body["detail"]
    malformed = market.get("/v1/services/0x1234")
    assert malformed.status_code == 422 and set(malformed.json()) >= {"type", "detail", "hint"}
    too_big = market.get("/v1/services", params={"per_page": 101})
    assert too_big.status_code == 422


def test_the_services_routes_are_in_the_openapi_docs(market):
    paths = market.get("/openapi.json").json()["paths"]
    assert "/v1/services" in paths and "/v1/services/{service_id}" in paths
    params = {p["name"] for p in paths["/v1/services"]["get"]["parameters"]}
    assert {"model_id", "provider", "live", "page", "per_page"} <= params


def test_a_stopped_service_is_no_longer_live(market, served):
    services = served["services"]
    services.stop_service(served["provider"], served["terms"])
    index(market)
    svc = market.get(f"/v1/services/{served['service_id']}").json()
    assert svc["status"] == "STOPPED" and svc["live"] is False and svc["stopped_at"]
    live = market.get("/v1/services", params={"live": "true", "per_page": 100}).json()
    assert served["service_id"] not in [s["service_id"] for s in live["items"]]
    assert f'data-service-id="{served["service_id"]}"' not in market.get("/").text


def test_a_deployment_without_a_service_market_indexes_no_services(
    devnet_manifest, tmp_path, served
):
    four = {k: v for k, v in devnet_manifest.contracts.items() if k != "ServiceMarket"}
    addresses = tmp_path / "addresses.json"
    addresses.write_text(json.dumps(four))
    app = create_app(market_settings(devnet_manifest, tmp_path, addresses=str(addresses)))
    with TestClient(app) as client:
        assert not app.state.services.chain.contracts.has_service_market
        assert index(client) > 0  # the other contracts' events are indexed as before
        listed = client.get("/v1/services")
        assert listed.status_code == 200 and listed.json()["total"] == 0
        assert client.get(f"/v1/services/{served['service_id']}").status_code == 404
