"""Listings: relayed on chain, indexed, edited by their owner only; catalogue search and filters."""

from __future__ import annotations

import uuid

import chain_story
import pytest
from eth_account import Account
from market_helpers import index, metadata, relay, sign_in, signed_listing

pytestmark = pytest.mark.devnet


@pytest.fixture(scope="module")
def owner(market, story):
    account = chain_story.fresh_account(story, eth=1)
    return account, sign_in(market, account)


def _auth(token):
    return {"Authorization": f"Bearer {token}"}


def test_relay_creates_an_on_chain_resource_that_the_indexer_picks_up(market, story, owner):
    account, token = owner
    tag = uuid.uuid4().hex[:8]
    made = relay(market, story, account, token, metadata(f"Relayed {tag}", price=123))
    resource = story.contracts.resource_registry.functions.getResource(made["resource_id"]).call()
    assert (
        resource[0] == account.address and resource[1] == 123
    )  # owner, price: on chain, paid by the relayer
    assert market.get(f"/v1/listings/{made['resource_id']}").status_code == 404  # not indexed yet
    assert index(market) >= 1
    detail = market.get(f"/v1/listings/{made['resource_id']}").json()
    assert (
        detail["owner"] == account.address
        and detail["kind"] == "model"
        and detail["price_wei"] == "123"
    )
    assert detail["metadata"]["name"] == f"Relayed {tag}"


def test_relay_for_another_wallet_is_refused(market, story, owner):
    _, token = owner
    other = Account.create()
    body = {**signed_listing(story, other, price=5), "metadata": metadata("x", price=5)}
    reply = market.post("/v1/listings", json=body, headers=_auth(token))
    assert reply.status_code == 403 and reply.json()["type"] == "not_owner"


def test_relay_with_a_bad_signature_fails_on_chain(market, story, owner):
    account, token = owner
    body = {**signed_listing(story, account, price=5), "metadata": metadata("x", price=5)}
    body["listing"]["price_wei"] = body["metadata"]["price_wei"] = 6  # no longer what was signed
    reply = market.post("/v1/listings", json=body, headers=_auth(token))
    assert reply.status_code == 502 and reply.json()["type"] == "relay_failed"
    assert "ResourceInvalidSignature" in reply.json()["detail"]


def test_relay_without_sign_in_is_refused(market, story, owner):
    account, _ = owner
    market.cookies.clear()
    body = {**signed_listing(story, account, price=5), "metadata": metadata("x", price=5)}
    reply = market.post("/v1/listings", json=body)
    assert reply.status_code == 401 and reply.json()["type"] == "not_signed_in"


def test_invalid_metadata_is_refused_in_the_one_error_shape(market, story, owner):
    account, token = owner
    bad = metadata("x", price=5) | {"engine_hash": "0x1234", "task": "Not A Task"}
    reply = market.post(
        "/v1/listings",
        json={**signed_listing(story, account, price=5), "metadata": bad},
        headers=_auth(token),
    )
    assert reply.status_code == 422
    body = reply.json()
    assert (
        body["type"] == "invalid_request"
        and "engine_hash" in body["detail"]
        and "task" in body["detail"]
    )
    assert set(body) == {"type", "detail", "hint"}


def test_only_the_owner_can_edit_metadata(market, story, owner):
    account, token = owner
    made = relay(market, story, account, token, metadata("Editable", price=77))
    index(market)
    url = f"/v1/listings/{made['resource_id']}/metadata"
    changed = metadata("Edited name", price=77, description="now better")
    assert market.put(url, json=changed, headers=_auth(token)).status_code == 200
    assert (
        market.get(f"/v1/models/{made['resource_id']}").json()["metadata"]["name"] == "Edited name"
    )
    stranger = sign_in(market, Account.create())
    refused = market.put(url, json=metadata("Hijacked", price=77), headers=_auth(stranger))
    assert refused.status_code == 403 and refused.json()["type"] == "not_owner"
    assert (
        market.get(f"/v1/models/{made['resource_id']}").json()["metadata"]["name"] == "Edited name"
    )
    market.cookies.clear()
    assert market.put(url, json=changed).status_code == 401


def test_catalogue_search_filters_and_pagination(market, story, owner):
    account, token = owner
    tag = uuid.uuid4().hex[:10]
    specs = [
        ("Digits classifier", "image-classification", ("SIMULATED",), 100, 2),
        ("Digits trainer", "training", ("TDX", "SIMULATED"), 300, 2),
        ("Cancer model", "tabular-classification", ("TDX",), 500, 2),
        ("Digits dataset", "image-classification", ("SEV_SNP",), 50, 3),
    ]
    for name, task, tee, price, kind in specs:
        relay(
            market,
            story,
            account,
            token,
            metadata(f"{name} {tag}", price=price, task=task, tee=tee),
            kind=kind,
        )
    index(market)

    def names(**params):
        reply = market.get("/v1/catalogue", params={"q": tag, **params})
        assert reply.status_code == 200, reply.text
        return sorted(
            item["metadata"]["name"].removesuffix(f" {tag}") for item in reply.json()["items"]
        )

    assert names() == ["Cancer model", "Digits classifier", "Digits dataset", "Digits trainer"]
    assert (
        market.get("/v1/catalogue", params={"q": f"digits {tag}".split()[1].upper()}).json()[
            "total"
        ]
        == 4
    )
    assert names(kind="dataset") == ["Digits dataset"]
    assert names(task="image-classification") == ["Digits classifier", "Digits dataset"]
    assert names(tee_type="TDX") == ["Cancer model", "Digits trainer"]
    assert names(max_price_wei=300) == ["Digits classifier", "Digits dataset", "Digits trainer"]
    assert names(kind="model", tee_type="SIMULATED", max_price_wei=100) == ["Digits classifier"]
    pages = [
        market.get("/v1/catalogue", params={"q": tag, "per_page": 3, "page": p}).json()
        for p in (1, 2)
    ]
    assert (
        [len(p["items"]) for p in pages] == [3, 1]
        and pages[0]["total"] == 4
        and pages[0]["pages"] == 2
    )
    seen = {i["resource_id"] for p in pages for i in p["items"]}
    assert len(seen) == 4
    bad = market.get("/v1/catalogue", params={"kind": "spaceship"})
    assert bad.status_code == 422 and bad.json()["type"] == "invalid_request"
