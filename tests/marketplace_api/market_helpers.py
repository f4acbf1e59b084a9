"""Helpers for the marketplace API tests: settings on the devnet, sign-in, signed listings,
relaying."""

from __future__ import annotations

import time
from pathlib import Path

from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from fastapi.testclient import TestClient

from enclava.devnet import dev_account
from marketplace_api import MarketSettings, list_resource_typed_data
from marketplace_api.listings import OnChainListing


def market_settings(devnet_manifest, tmp_path: Path, **overrides) -> MarketSettings:
    values = dict(
        database_url=f"sqlite:///{tmp_path / 'market.sqlite'}",
        manifest=Path(devnet_manifest.state_dir) / "manifest.json",
        relayer_key=dev_account("relayer").key.hex(),
        session_secret="test-secret",
        insecure_http_cookies=True,
        indexer_enabled=False,
        rate_limit_burst=10_000,
        rate_limit_per_s=1000.0,
        siwe_domain="testserver",
        siwe_uri="http://testserver",
    )
    values.update(overrides)
    return MarketSettings(**values)


def index(client: TestClient) -> int:
    return client.app.state.services.indexer.run_once()


def sign_in(client: TestClient, account) -> str:
    reply = client.get("/v1/auth/nonce", params={"address": account.address})
    assert reply.status_code == 200, reply.text
    message = reply.json()["message"]
    signature = account.sign_message(encode_defunct(text=message)).signature.hex()
    verified = client.post(
        "/v1/auth/verify", json={"message": message, "signature": "0x" + signature}
    )
    assert verified.status_code == 200, verified.text
    return verified.json()["token"]


def metadata(
    name: str, *, price: int, task: str = "image-classification", tee=("SIMULATED",), description=""
):
    return {
        "name": name,
        "description": description or f"{name} for tests",
        "task": task,
        "input_schema": {"type": "array", "items": {"type": "number"}},
        "price_wei": price,
        "license": "Apache-2.0",
        "engine_hash": "0x" + "11" * 32,
        "tee_requirements": {"tee_types": list(tee)},
    }


def signed_listing(
    story, owner, *, kind=2, price=10**15, cid="bafkreitestlisting", content=None
) -> dict:
    content = content or Account.create().key  # 32 random bytes stand for the ciphertext hash
    listing = {
        "kind": kind,
        "cid": cid,
        "content_hash": "0x" + bytes(content).hex(),
        "price_wei": price,
        "metadata_cid": "",
    }
    deadline = int(time.time()) + 3600
    nonce = story.contracts.resource_registry.functions.nonces(owner.address).call()
    typed = list_resource_typed_data(
        owner.address,
        OnChainListing(**listing),
        nonce=nonce,
        deadline=deadline,
        chain_id=story.chain.chain_id(),
        registry=story.contracts.resource_registry.address,
    )
    signature = owner.sign_message(encode_typed_data(full_message=typed)).signature.hex()
    return {
        "owner": owner.address,
        "listing": listing,
        "deadline": deadline,
        "signature": "0x" + signature,
    }


def relay(client: TestClient, story, owner, token: str, meta: dict, **listing) -> dict:
    body = {**signed_listing(story, owner, price=meta["price_wei"], **listing), "metadata": meta}
    reply = client.post("/v1/listings", json=body, headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 201, reply.text
    return reply.json()
