"""Attacks on the marketplace API's edges (issue 13, break 6), against real running services.

A *strict* marketplace process (``python -m marketplace_api.main`` with the production defaults: no
loopback tail, no trusted proxy) runs on the devnet's chain for the tail, rate-limit and integer
attacks; the Host-header sign-in attack runs against the marketplace the devnet itself started.

- a ``tail_url`` at anvil's admin RPC must not let anyone set a balance through the API;
- a SIWE message for another site must not sign in, whatever the Host header says;
- ``X-Forwarded-For`` from a peer that is not a configured proxy must not escape the rate limit;
- integers out of range in a path or query must answer 4xx in the one error shape, never 500.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from enclava.chain.config import Manifest
from enclava.devnet import dev_account
from enclava.errors import ConfigError
from marketplace_api import create_app
from marketplace_api import db as market_db
from marketplace_api.siwe import SiweMessage, build_message, iso
from tests.e2e.provider_process import free_port
from tests.marketplace_api import chain_story
from tests.marketplace_api.market_helpers import (
    market_settings,
    metadata,
    signed_listing,
)

pytestmark = pytest.mark.devnet

BURST, PER_S = 30, 10.0  # the strict service's rate limit: small enough to reach, quick to refill
ONE_MILLION_ETH = 10**6 * 10**18
UINT256_MAX = 2**256 - 1


@dataclass
class StrictApi:
    """A marketplace process with the production defaults, its database file and an HTTP client."""

    url: str
    database_url: str
    http: httpx.Client

    def sign_in(self, account: LocalAccount) -> str:
        message = self.http.get("/v1/auth/nonce", params={"address": account.address}).json()[
            "message"
        ]
        signature = "0x" + account.sign_message(encode_defunct(text=message)).signature.hex()
        reply = self.http.post("/v1/auth/verify", json={"message": message, "signature": signature})
        assert reply.status_code == 200, reply.text
        return reply.json()["token"]

    def list_with_tail(
        self, story: chain_story.Story, owner: LocalAccount, token: str, tail_url: str | None
    ) -> httpx.Response:
        meta = {**metadata("Split model with a hostile tail", price=10**15), "tail_url": tail_url}
        body = {**signed_listing(story, owner, price=meta["price_wei"]), "metadata": meta}
        return self.http.post(
            "/v1/listings", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    def plant_tail(self, owner: str, tail_url: str) -> int:
        """A listing row naming ``tail_url`` written straight into the index, as a listing stored
        before the API checked tail URLs would be: the forward must hold on its own."""
        resource_id = 10**12 + secrets.randbelow(10**9)
        engine = market_db.make_engine(self.database_url)
        try:
            with market_db.make_sessionmaker(engine).begin() as session:
                session.add(
                    market_db.ListingMetadata(
                        resource_id=resource_id,
                        owner=owner,
                        name="planted",
                        description="",
                        task="x",
                        input_schema={"type": "array"},
                        price_wei="0",
                        license="x",
                        engine_hash="0x" + "11" * 32,
                        tee_requirements={"tee_types": ["SIMULATED"]},
                        tee_types=",SIMULATED,",
                        tail_url=tail_url,
                        updated_at=time.time(),
                    )
                )
        finally:
            engine.dispose()
        return resource_id


def _market_env(manifest: Manifest, folder: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKET_")}
    env.update(
        {
            "MARKET_MANIFEST": str(Path(manifest.state_dir) / "manifest.json"),
            "MARKET_DATABASE_URL": f"sqlite:///{folder / 'market.sqlite'}",
            "MARKET_RELAYER_KEY": dev_account("relayer").key.hex(),
            "MARKET_INSECURE_HTTP_COOKIES": "true",
            "MARKET_SIWE_DOMAIN": f"127.0.0.1:{port}",
            "MARKET_SIWE_URI": f"http://127.0.0.1:{port}",
            "MARKET_RATE_LIMIT_BURST": str(BURST),
            "MARKET_RATE_LIMIT_PER_S": str(PER_S),
        }
    )
    return env


@pytest.fixture(scope="module")
def strict_api(
    devnet_manifest: Manifest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StrictApi]:
    folder = tmp_path_factory.mktemp("strict-market")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(folder / "market.log", "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "marketplace_api.main", "--port", str(port)],
        env=_market_env(devnet_manifest, folder, port),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (folder / "market.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the strict marketplace did not come up"
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        with httpx.Client(base_url=url, timeout=30) as http:
            yield StrictApi(url, f"sqlite:///{folder / 'market.sqlite'}", http)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def story(devnet_manifest: Manifest) -> chain_story.Story:
    return chain_story.Story.of(devnet_manifest)


@pytest.fixture(scope="module")
def owner(strict_api: StrictApi, story: chain_story.Story) -> tuple[LocalAccount, str]:
    account = chain_story.fresh_account(story, eth=1)
    return account, strict_api.sign_in(account)


def _set_balance(victim: str) -> dict:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "anvil_setBalance",
        "params": [victim, hex(ONE_MILLION_ETH)],
    }


# ---------------------------------------------------------------------------------- tail_url (SSRF)


def test_anvil_admin_rpc_through_a_tail_url_is_refused_and_the_balance_is_unchanged(
    strict_api: StrictApi,
    story: chain_story.Story,
    owner: tuple[LocalAccount, str],
    devnet_manifest: Manifest,
) -> None:
    account, token = owner
    victim = Account.create().address
    # anvil answers at "/" only: the fragment drops "/v1/tail/..."
    tail = f"{devnet_manifest.rpc_url}/#"
    made = strict_api.list_with_tail(story, account, token, tail)
    # refused where the listing is accepted; then attack a row stored before that check existed
    resource_id = made.json().get("resource_id") or strict_api.plant_tail(account.address, tail)
    forwarded = strict_api.http.post(
        f"/v1/models/{resource_id}/tail/admin", json=_set_balance(victim)
    )
    assert story.chain.w3.eth.get_balance(victim) == 0, (
        f"the API reached anvil's admin RPC: {forwarded.text}"
    )
    assert made.status_code == 422, made.text
    assert made.json()["type"] == "tail_url_refused" and "https" in made.json()["hint"]
    assert (
        forwarded.status_code == 502 and forwarded.json()["type"] == "tail_destination_refused"
    ), forwarded.text


def test_forwarding_to_a_stored_tail_at_anvils_rpc_is_refused_and_the_balance_is_unchanged(
    strict_api: StrictApi,
    story: chain_story.Story,
    owner: tuple[LocalAccount, str],
    devnet_manifest: Manifest,
) -> None:
    account, _ = owner
    victim = Account.create().address
    rpc = devnet_manifest.rpc_url
    for tail in (
        f"{rpc}/#",
        f"{rpc}/?",
        rpc.replace("http://", "https://") + "/#",
        rpc.replace("http://127.0.0.1", "https://localhost") + "/#",
    ):
        resource_id = strict_api.plant_tail(account.address, tail)
        forwarded = strict_api.http.post(
            f"/v1/models/{resource_id}/tail/admin", json=_set_balance(victim)
        )
        assert story.chain.w3.eth.get_balance(victim) == 0, f"{tail}: {forwarded.text}"
        assert forwarded.status_code == 502, (tail, forwarded.text)
        assert set(forwarded.json()) == {"type", "detail", "hint"}
        assert forwarded.json()["type"] == "tail_destination_refused", (tail, forwarded.text)


@pytest.mark.parametrize(
    "tail",
    [
        "https://127.0.0.1:8545/",
        "https://localhost:8545/",
        "https://[::1]:8545/",
        "https://0.0.0.0:8545/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/",
        "https://10.1.2.3/",
        "https://192.168.1.1/",
        "https://[fe80::1]/",
        "https://224.0.0.1/",
        "https://240.0.0.1/",
        "https://[::ffff:127.0.0.1]/",
        "http://tail.example.com/",
        "https://user:pw@tail.example.com/",
        "https://tail.example.com/#",
        "https://tail.example.com/?x=1",
    ],
)
def test_listing_with_a_tail_url_at_an_internal_or_plain_http_address_is_refused(
    strict_api: StrictApi, story: chain_story.Story, owner: tuple[LocalAccount, str], tail: str
) -> None:
    account, token = owner
    made = strict_api.list_with_tail(story, account, token, tail)
    assert made.status_code == 422, made.text
    assert made.json()["type"] in ("tail_url_refused", "invalid_request") and made.json()["hint"], (
        made.text
    )


def test_metadata_update_to_a_loopback_tail_is_refused(
    strict_api: StrictApi,
    story: chain_story.Story,
    owner: tuple[LocalAccount, str],
    devnet_manifest: Manifest,
) -> None:
    account, token = owner
    made = strict_api.list_with_tail(story, account, token, None)
    assert made.status_code == 201, made.text
    resource_id = made.json()["resource_id"]
    meta = {**metadata("Loopback tail", price=10**15), "tail_url": devnet_manifest.rpc_url}
    reply = strict_api.http.put(
        f"/v1/listings/{resource_id}/metadata",
        json=meta,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reply.status_code == 422 and reply.json()["type"] == "tail_url_refused", reply.text


# -------------------------------------------------------------------------------------- SIWE domain


def _evil_message(nonce: dict, wallet: LocalAccount, *, domain: str, uri: str) -> dict:
    now = time.time()
    message = build_message(
        SiweMessage(
            domain=domain,
            address=wallet.address,
            statement="Sign in to a site that is not this one.",
            uri=uri,
            chain_id=nonce["chain_id"],
            nonce=nonce["nonce"],
            issued_at=iso(now),
            expiration_time=iso(now + 300),
        )
    )
    return {
        "message": message,
        "signature": "0x" + wallet.sign_message(encode_defunct(text=message)).signature.hex(),
    }


def test_sign_in_for_evil_example_with_its_host_header_is_refused(
    devnet_manifest: Manifest,
) -> None:
    base = devnet_manifest.services["marketplace"].url
    wallet = Account.create()
    nonce = httpx.get(f"{base}/v1/auth/nonce", timeout=10).json()
    body = _evil_message(nonce, wallet, domain="evil.example", uri="https://evil.example")
    reply = httpx.post(
        f"{base}/v1/auth/verify", json=body, headers={"Host": "evil.example"}, timeout=10
    )
    assert reply.status_code == 401, reply.text
    assert reply.json()["type"] == "sign_in_failed" and "evil.example" in reply.json()["detail"]


def test_sign_in_with_this_domain_but_another_sites_uri_is_refused(strict_api: StrictApi) -> None:
    wallet = Account.create()
    nonce = strict_api.http.get("/v1/auth/nonce").json()
    body = _evil_message(nonce, wallet, domain=nonce["domain"], uri="https://evil.example/login")
    reply = strict_api.http.post("/v1/auth/verify", json=body)
    assert reply.status_code == 401, reply.text
    assert reply.json()["type"] == "sign_in_failed" and "evil.example" in reply.json()["detail"]


@pytest.mark.parametrize("missing", ["siwe_domain", "siwe_uri"])
def test_the_service_refuses_to_start_without_its_siwe_domain_and_uri(
    devnet_manifest: Manifest, tmp_path: Path, missing: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        create_app(market_settings(devnet_manifest, tmp_path, **{missing: ""}))
    assert refused.value.code == "siwe_not_configured"
    assert f"MARKET_{missing.upper()}" in refused.value.hint


def test_the_service_process_exits_with_the_hint_without_siwe_settings(
    devnet_manifest: Manifest, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        k: v
        for k, v in _market_env(devnet_manifest, tmp_path, port).items()
        if not k.startswith("MARKET_SIWE")
    }
    done = subprocess.run(
        [sys.executable, "-m", "marketplace_api.main", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "MARKET_SIWE_DOMAIN" in done.stderr + done.stdout


# --------------------------------------------------------------------------------------- rate limit


def test_a_burst_with_changing_x_forwarded_for_from_loopback_is_rate_limited(
    strict_api: StrictApi,
) -> None:
    replies = []
    for i in range(8 * BURST):
        reply = strict_api.http.get(
            "/v1/nothing-here", headers={"X-Forwarded-For": f"203.0.{i // 250}.{i % 250}"}
        )
        replies.append(reply)
        if reply.status_code == 429:
            break
    time.sleep(BURST / PER_S + 0.5)  # the loopback bucket refills for the tests after this one
    assert replies[-1].status_code == 429, f"{len(replies)} requests, none refused"
    assert len(replies) <= 2 * BURST
    assert (
        replies[-1].json()["type"] == "rate_limited"
        and int(replies[-1].headers["retry-after"]) >= 1
    )


# ----------------------------------------------------------------------------------------- integers


@pytest.mark.parametrize("path", ["/v1/tee-offers/{n}", "/v1/listings/{n}", "/v1/models/{n}"])
def test_an_on_chain_id_of_2_pow_70_is_not_found_and_past_uint256_is_invalid(
    strict_api: StrictApi, path: str
) -> None:
    big = strict_api.http.get(path.format(n=2**70))
    assert big.status_code == 404 and set(big.json()) == {"type", "detail", "hint"}, big.text
    past = strict_api.http.get(path.format(n=UINT256_MAX + 1))
    assert past.status_code == 422 and past.json()["type"] == "invalid_request", past.text


def test_huge_ids_in_the_tail_route_the_metadata_update_and_the_model_page_are_not_server_errors(
    strict_api: StrictApi, owner: tuple[LocalAccount, str]
) -> None:
    _, token = owner
    tail = strict_api.http.post(f"/v1/models/{2**70}/tail/x", json={"activations": [[0.0]]})
    assert tail.status_code == 404 and tail.json()["type"] == "not_found", tail.text
    update = strict_api.http.put(
        f"/v1/listings/{2**70}/metadata",
        json=metadata("Huge", price=1),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert update.status_code == 404 and update.json()["type"] == "not_found", update.text
    page = strict_api.http.get(f"/models/{2**70}")
    assert page.status_code == 404, page.text


@pytest.mark.parametrize(
    "path, params",
    [
        ("/v1/wallets/0x" + "ab" * 20 + "/orders", {"page": 2**70}),
        ("/v1/wallets/0x" + "ab" * 20 + "/orders", {"per_page": 2**70}),
        ("/v1/catalogue", {"page": 2**70}),
        ("/v1/catalogue", {"max_price_wei": 2**1100}),
        ("/", {"page": 2**70}),
    ],
)
def test_pagination_and_filters_past_their_bounds_are_invalid(
    strict_api: StrictApi, path: str, params: dict
) -> None:
    reply = strict_api.http.get(path, params=params)
    assert reply.status_code == 422, reply.text
    assert reply.json()["type"] == "invalid_request" and set(reply.json()) == {
        "type",
        "detail",
        "hint",
    }
