"""A split model's tail through the marketplace: the route forwards to the owner's real tail
service."""

from __future__ import annotations

import uuid

import chain_story
import numpy as np
import pytest
from fastapi.testclient import TestClient
from market_helpers import index, market_settings, metadata, relay, sign_in, signed_listing

from enclava.splitnn import load_model
from marketplace_api import create_app
from research.splitnn import digits_28
from tests.e2e.provider_process import free_port
from tests.e2e.tail_server import serving_tail

pytestmark = pytest.mark.devnet
SPLIT = "linear784x128_sq"


@pytest.fixture(scope="module")
def market(devnet_manifest, tmp_path_factory):
    """The tails here run on loopback over http: the devnet's opt-in (production refuses them)."""
    settings = market_settings(
        devnet_manifest, tmp_path_factory.mktemp("market-tail"), insecure_allow_loopback_tail=True
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def tail_url():
    with serving_tail() as url:
        yield url


@pytest.fixture(scope="module")
def owner(market, story):
    account = chain_story.fresh_account(story, eth=1)
    return account, sign_in(market, account)


def _listing(market, story, owner, tail: str | None) -> int:
    account, token = owner
    meta = metadata(f"Split model {uuid.uuid4().hex[:8]}", price=10**15)
    if tail is not None:
        meta["tail_url"] = tail
    return relay(market, story, account, token, meta)["resource_id"]


def test_tail_route_forwards_activations_and_returns_the_tails_predictions(
    market, story, owner, tail_url
):
    resource_id = _listing(market, story, owner, tail_url)
    model = load_model()
    x, _ = digits_28("test")
    acts = model.head(SPLIT).forward(x[:16])
    reply = market.post(
        f"/v1/models/{resource_id}/tail/{SPLIT}", json={"activations": acts.tolist()}
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["labels"] == model.tail(SPLIT).predict(acts).tolist()
    index(market)
    assert market.get(f"/v1/listings/{resource_id}").json()["metadata"]["tail_url"] == tail_url


def test_tail_route_passes_the_tails_refusal_through_in_the_error_shape(
    market, story, owner, tail_url
):
    resource_id = _listing(market, story, owner, tail_url)
    reply = market.post(
        f"/v1/models/{resource_id}/tail/{SPLIT}", json={"activations": [[1.0, 2.0]]}
    )
    assert reply.status_code == 422
    assert reply.json()["type"] == "invalid_activation_shape" and reply.json()["hint"]
    unknown = market.post(
        f"/v1/models/{resource_id}/tail/no_such_split", json={"activations": [[1.0]]}
    )
    assert unknown.status_code == 404 and unknown.json()["type"] == "unknown_split"


def test_tail_route_without_a_tail_or_listing_is_not_found(market, story, owner):
    resource_id = _listing(market, story, owner, None)
    reply = market.post(
        f"/v1/models/{resource_id}/tail/{SPLIT}", json={"activations": [[0.0] * 128]}
    )
    assert reply.status_code == 404 and reply.json()["type"] == "not_found"
    missing = market.post(f"/v1/models/{10**9}/tail/{SPLIT}", json={"activations": [[0.0] * 128]})
    assert missing.status_code == 404 and missing.json()["type"] == "not_found"


def test_tail_route_reports_an_unreachable_tail_as_tail_unavailable(market, story, owner):
    resource_id = _listing(market, story, owner, f"http://127.0.0.1:{free_port()}")
    reply = market.post(
        f"/v1/models/{resource_id}/tail/{SPLIT}", json={"activations": [[0.0] * 128]}
    )
    assert reply.status_code == 502 and reply.json()["type"] == "tail_unavailable"


def test_listing_refuses_a_tail_url_that_is_not_http(market, story, owner):
    account, token = owner
    meta = {**metadata("Bad tail", price=10**15), "tail_url": "file:///etc/passwd"}
    body = {**signed_listing(story, account, price=meta["price_wei"]), "metadata": meta}
    reply = market.post("/v1/listings", json=body, headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 422


def test_tail_predictions_through_the_route_match_the_plain_model(market, story, owner, tail_url):
    resource_id = _listing(market, story, owner, tail_url)
    model = load_model()
    x, _ = digits_28("test")
    acts = model.head(SPLIT).forward(x[16:48])
    probs = np.asarray(
        market.post(
            f"/v1/models/{resource_id}/tail/{SPLIT}", json={"activations": acts.tolist()}
        ).json()["probabilities"]
    )
    assert np.allclose(probs, model.tail(SPLIT).predict_proba(acts), atol=1e-5)
