"""What an order needs, in the listings: an engine's input schema (validated as a JSON Schema),
the engine a weights listing is for (same owner only), and the engine's ``weights``."""

from __future__ import annotations

import chain_story
import pytest
from market_helpers import index, metadata, relay, sign_in, signed_listing

pytestmark = pytest.mark.devnet

DIGITS = {
    "type": "array",
    "items": {"type": "array", "minItems": 8, "maxItems": 8},
}


@pytest.fixture(scope="module")
def owner(market, story):
    account = chain_story.fresh_account(story, eth=1)
    return account, sign_in(market, account)


@pytest.fixture(scope="module")
def engine(market, story, owner):
    account, token = owner
    meta = {**metadata("Paired engine", price=7), "input_schema": DIGITS}
    return relay(market, story, account, token, meta, kind=1)["resource_id"]


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def _post(market, story, account, token, meta, **listing):
    body = {**signed_listing(story, account, price=meta["price_wei"], **listing), "metadata": meta}
    return market.post("/v1/listings", json=body, headers=_auth(token))


def test_engine_lists_its_input_schema_and_the_weights_that_name_it(market, story, owner, engine):
    account, token = owner
    weights = relay(
        market,
        story,
        account,
        token,
        {**metadata("Paired weights", price=9), "engine_resource_id": engine},
    )["resource_id"]
    index(market)
    shown = market.get(f"/v1/listings/{engine}").json()
    assert shown["metadata"]["input_schema"] == DIGITS
    assert shown["weights"] == [weights]
    paired = market.get(f"/v1/listings/{weights}").json()
    assert paired["metadata"]["engine_resource_id"] == engine
    assert paired["engine_resource_id"] == engine


def test_an_invalid_json_schema_is_refused(market, story, owner):
    account, token = owner
    meta = {**metadata("Bad schema", price=5), "input_schema": {"type": "no-such-type"}}
    reply = _post(market, story, account, token, meta, kind=1)
    assert reply.status_code == 422, reply.text
    assert "input_schema" in reply.text and "not a valid JSON Schema" in reply.text


def test_an_oversized_schema_is_refused(market, story, owner):
    account, token = owner
    huge = {"type": "object", "description": "x" * (17 * 1024)}
    reply = _post(
        market, story, account, token, {**metadata("Huge", price=5), "input_schema": huge}, kind=1
    )
    assert reply.status_code == 422 and "at most 16384" in reply.text


def test_weights_cannot_name_another_owners_engine(market, story, owner, engine):
    other = chain_story.fresh_account(story, eth=1)
    token = sign_in(market, other)
    nonce = story.contracts.resource_registry.functions.nonces(other.address).call()
    reply = _post(
        market, story, other, token, {**metadata("Stolen", price=5), "engine_resource_id": engine}
    )
    assert reply.status_code == 422 and reply.json()["type"] == "listing_invalid"
    assert "not by" in reply.json()["detail"]
    # refused before the relay: nothing was listed on chain for this owner
    assert story.contracts.resource_registry.functions.nonces(other.address).call() == nonce


def test_weights_cannot_name_a_resource_that_is_no_engine(market, story, owner):
    account, token = owner
    model = relay(market, story, account, token, metadata("Plain weights", price=5))["resource_id"]
    meta = {**metadata("Weights of weights", price=5), "engine_resource_id": model}
    reply = _post(market, story, account, token, meta)
    assert reply.status_code == 422 and "not an engine" in reply.json()["detail"]


def test_an_engine_cannot_name_an_engine(market, story, owner, engine):
    account, token = owner
    meta = {**metadata("Engine of engine", price=5), "engine_resource_id": engine}
    reply = _post(market, story, account, token, meta, kind=1)
    assert reply.status_code == 422 and "cannot name an engine" in reply.json()["detail"]
