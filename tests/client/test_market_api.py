"""MarketApiClient alone (unit test, the API played by an httpx MockTransport): it refuses to sign a
prepared listing that differs from the one asked for, and maps the API's error shape."""

from __future__ import annotations

import json

import httpx
import pytest
from eth_account import Account

from enclava.client.errors import MarketApiRefused, MarketApiUnavailable
from enclava.client.market_api import (
    MarketApiClient,
    listing_metadata,
)
from enclava.protocol.eip712 import message_types

REGISTRY = "0x" + "12" * 20


def _api(owner: str, tamper: dict | None = None, calls: list | None = None) -> MarketApiClient:
    """An API that prepares the asked-for listing, changed by ``tamper``."""

    def handler(request: httpx.Request) -> httpx.Response:
        if calls is not None:
            calls.append(request.url.path)
        if request.url.path == "/v1/auth/nonce":
            return httpx.Response(
                200, json={"nonce": "n0nce", "message": f"sign in {owner} nonce n0nce"}
            )
        if request.url.path == "/v1/auth/verify":
            return httpx.Response(200, json={"token": "t", "address": owner})
        if request.url.path == "/v1/listings/prepare":
            sent = json.loads(request.read())
            listing = sent["listing"]
            message = {
                "owner": sent["owner"],
                "kind": listing["kind"],
                "cid": listing["cid"],
                "contentHash": listing["content_hash"],
                "price": listing["price_wei"],
                "metadataCid": "",
                "nonce": 0,
                "deadline": sent["deadline"],
                **(tamper or {}),
            }
            typed = {
                "types": message_types("ListResource"),
                "primaryType": "ListResource",
                "message": message,
                "domain": {
                    "name": "Enclava ResourceRegistry",
                    "version": "1",
                    "chainId": 31337,
                    "verifyingContract": REGISTRY,
                },
            }
            return httpx.Response(200, json={"typed_data": typed, "nonce": 0})
        if request.url.path == "/v1/listings/7":
            return httpx.Response(
                404, json={"type": "not_found", "detail": "no listing 7", "hint": "wait"}
            )
        return httpx.Response(500, text="unexpected")

    http = httpx.Client(base_url="http://market.test", transport=httpx.MockTransport(handler))
    return MarketApiClient("http://market.test", http=http)


@pytest.mark.parametrize(
    "tamper",
    [
        {"price": 1},
        {"cid": "bafkreiother"},
        {"owner": "0x" + "34" * 20},
        {"contentHash": "0x" + "ff" * 32},
    ],
)
def test_a_prepared_listing_that_differs_is_never_signed(tamper):
    owner = Account.create()
    calls: list[str] = []
    api = _api(owner.address, tamper, calls)
    with pytest.raises(MarketApiRefused) as caught:
        api.list_resource(
            owner,
            kind=2,
            cid="bafkreimine",
            content_hash=b"\x01" * 32,
            price_wei=5,
            metadata=listing_metadata("m", price_wei=5, engine_hash="0x" + "11" * 32),
            chain_id=31337,
            registry=REGISTRY,
        )
    assert caught.value.code == "listing_mismatch"
    assert (
        "/v1/listings/prepare" in calls and "/v1/listings" not in calls
    )  # prepared, never relayed


def test_an_honest_prepared_listing_passes_the_check_and_is_relayed():
    owner = Account.create()
    calls: list[str] = []
    with pytest.raises(MarketApiRefused) as caught:  # the mock has no relay route: it answers 500
        _api(owner.address, None, calls).list_resource(
            owner,
            kind=2,
            cid="bafkreimine",
            content_hash=b"\x01" * 32,
            price_wei=5,
            metadata={},
            chain_id=31337,
            registry=REGISTRY,
        )
    assert caught.value.remote_type == "http_500" and calls[-1] == "/v1/listings"


def test_a_prepared_listing_for_another_registry_is_never_signed():
    owner = Account.create()
    with pytest.raises(MarketApiRefused, match="verifyingContract"):
        _api(owner.address).list_resource(
            owner,
            kind=2,
            cid="bafkreimine",
            content_hash=b"\x01" * 32,
            price_wei=5,
            metadata={},
            chain_id=31337,
            registry="0x" + "56" * 20,
        )


def test_api_errors_keep_their_type_and_hint():
    with pytest.raises(MarketApiRefused) as caught:
        _api(Account.create().address).listing(7)
    assert caught.value.remote_type == "not_found" and caught.value.hint == "wait"


def test_an_unreachable_api_is_a_typed_error():
    with pytest.raises(MarketApiUnavailable):
        MarketApiClient("http://127.0.0.1:9", timeout=2).catalogue()
