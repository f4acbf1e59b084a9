"""`order create` refuses, before anything is uploaded or paid, an order that would revert or fail;
`model publish` warns when no TEE offer on the network could satisfy its policy.

On the session's real devnet (anvil, Kubo, CA, marketplace with its indexer): a provider account
publishes a simulated TEE offer of one slot on chain (the devnet has only simulated offers); an
owner publishes the digits classifier (its engine declares an input schema) with its weights.
Each mistake shows its typed refusal with a hint, and the customer's nonce shows that no
transaction was sent.
"""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest
from eth_account import Account

from demo.story import npy_bytes
from enclava.chain import ChainClient
from enclava.chain.market import MarketClient
from enclava.client.market_api import MarketApiClient
from enclava.devnet import dev_account
from enclava.protocol.tee import TeeType
from tests.cli.test_cli_publish import ENGINE, published

pytestmark = pytest.mark.devnet
FUNDER_INDEX = 16  # helper C's devnet funder (see the other test folders' FUNDER_INDEX)


def _wallet(cli, manifest, name: str, eth: int = 5):
    account = Account.create()
    ChainClient(manifest.rpc_url).transfer(dev_account(FUNDER_INDEX), account.address, eth * 10**18)
    cli("wallet", "import", "--wallet", name, env={"ENCLAVA_PRIVATE_KEY": account.key.hex()})
    return account


@pytest.fixture(scope="module")
def market(devnet_manifest) -> MarketClient:
    return MarketClient.from_manifest(devnet_manifest)


@pytest.fixture(scope="module")
def offer(market, devnet_manifest) -> tuple[int, object]:
    """A simulated TEE offer with one slot, published on chain by a fresh provider account."""
    provider = Account.create()
    ChainClient(devnet_manifest.rpc_url).transfer(
        dev_account(FUNDER_INDEX), provider.address, 5 * 10**18
    )
    market.register_provider(provider, market.min_stake())
    tee_offer_id = market.publish_tee_offer(
        provider, tee_type=TeeType.SIMULATED, gpu_class="cpu", price_per_second=1000, slots=1
    )
    return tee_offer_id, provider


@pytest.fixture(scope="module")
def customer(cli, devnet_manifest):
    return _wallet(cli, devnet_manifest, "pf-customer")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("preflight")
    (path / "weights.npz").write_bytes(b"stand-in weights: the pre-flight never runs the engine")
    images = np.random.default_rng(0).uniform(0, 16, size=(3, 8, 8)).astype(np.float32)
    (path / "digits.npy").write_bytes(npy_bytes(images))
    (path / "small.npy").write_bytes(npy_bytes(images[:, :4, :4].copy()))
    (path / "digits.json").write_text(json.dumps([[[0] * 8] * 8, [[0] * 8] * 7]))
    return path


def _publish(cli, folder, wallet: str, *flags: str):
    out = cli(
        "model",
        "publish",
        ENGINE,
        "--weights",
        folder / "weights.npz",
        "--price",
        "1000gwei",
        *flags,
        "--wallet",
        wallet,
    )
    items = published(out.stdout)
    return int(items["engine"]["resource_id"]), int(items["weights"]["resource_id"]), out


@pytest.fixture(scope="module")
def owner(cli, devnet_manifest, offer):
    return _wallet(cli, devnet_manifest, "pf-owner")


@pytest.fixture(scope="module")
def open_pair(cli, folder, owner):
    """Engine and weights any customer may order on a simulated TEE."""
    engine, weights, out = _publish(
        cli, folder, "pf-owner", "--allow-any-customer", "--insecure-allow-simulated-tee"
    )
    assert "warning" not in out.output
    return engine, weights


@pytest.fixture(scope="module")
def strict_pair(cli, folder, owner):
    """Engine and weights whose policy has no simulated-TEE opt-in: the publish warns."""
    engine, weights, out = _publish(cli, folder, "pf-owner", "--allow-any-customer")
    return engine, weights, out


@pytest.fixture(scope="module")
def listed(devnet_manifest, open_pair):
    """The marketplace has indexed the open engine with its weights."""
    engine, weights = open_pair
    api = MarketApiClient(devnet_manifest.services["marketplace"].url)
    deadline = time.monotonic() + 60
    while True:
        shown = api.wait_for_listing(engine)
        if shown.get("weights") == [weights] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert shown["weights"] == [weights], shown
    assert shown["metadata"]["input_schema"]["type"] == "array"
    assert api.wait_for_listing(weights)["metadata"]["engine_resource_id"] == engine
    return shown


def _create(cli, offer_id: int, *args, expect: int = 1, wallet: str = "pf-customer"):
    return cli(
        "order",
        "create",
        *args,
        "--tee-offer",
        offer_id,
        "--max-duration",
        60,
        "--yes",
        "--wallet",
        wallet,
        expect=expect,
    )


def _nonce(market, account) -> int:
    return market.w3.eth.get_transaction_count(account.address)


def _refused(result, code: str) -> str:
    text = " ".join(result.output.split())  # rich may wrap long lines
    assert code in text and "hint" in text, result.output
    assert "order placed" not in text and "upload encrypted inputs" not in text
    return text


def test_publish_warns_when_no_active_offer_can_satisfy_the_policy(strict_pair):
    text = " ".join(strict_pair[2].output.split())
    assert "warning" in text and "no active TEE offer on this network can satisfy" in text
    assert "all simulated" in text and "--insecure-allow-simulated-tee" in text


def test_weights_id_as_engine_is_refused_before_any_transaction(
    cli, market, offer, customer, open_pair, folder
):
    engine, weights = open_pair
    before = _nonce(market, customer)
    out = _create(cli, offer[0], "--engine", weights, "--input", folder / "digits.npy")
    text = _refused(out, "resource_kind_mismatch")
    assert f"resource {weights} given as --engine is a model (weights)" in text
    assert _nonce(market, customer) == before


def test_forgotten_weights_are_refused_with_the_flag_to_add(
    cli, market, offer, customer, listed, open_pair, folder
):
    engine, weights = open_pair
    before = _nonce(market, customer)
    out = _create(cli, offer[0], "--engine", engine, "--input", folder / "digits.npy")
    text = _refused(out, "weights_missing")
    assert f"--resource {weights}" in text
    assert _nonce(market, customer) == before


def test_input_not_matching_the_engine_schema_is_refused_with_its_path(
    cli, market, offer, customer, listed, open_pair, folder
):
    engine, weights = open_pair
    before = _nonce(market, customer)
    for name, where in (("small.npy", "at /0:"), ("digits.json", "at /1:")):
        out = _create(
            cli, offer[0], "--engine", engine, "--resource", weights, "--input", folder / name
        )
        text = _refused(out, "input_schema_mismatch")
        assert f"input {name} does not match the engine's input schema {where}" in text
    assert _nonce(market, customer) == before


def test_customer_outside_the_owners_policy_is_refused(
    cli, market, devnet_manifest, offer, customer, owner, folder, tmp_path
):
    someone_else = Account.create().address
    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps({"allowed_customers": [someone_else], "insecure_allow_simulated_tee": True})
    )
    engine, weights, _ = _publish(cli, folder, "pf-owner", "--policy", policy)
    before = _nonce(market, customer)
    out = _create(
        cli, offer[0], "--engine", engine, "--resource", weights, "--input", folder / "digits.npy"
    )
    text = _refused(out, "policy_refused")
    assert "policy_customer_refused" in text and customer.address in text
    assert "allowed customers" in text  # the customer-side hint
    assert _nonce(market, customer) == before


def test_policy_without_simulated_opt_in_is_refused_on_a_simulated_offer(
    cli, market, offer, customer, strict_pair, folder
):
    engine, weights, _ = strict_pair
    before = _nonce(market, customer)
    out = _create(
        cli, offer[0], "--engine", engine, "--resource", weights, "--input", folder / "digits.npy"
    )
    text = _refused(out, "policy_refused")
    assert "policy_simulated_tee_refused" in text and "simulated TEE" in text
    assert "--insecure-allow-simulated-tee" in text
    assert _nonce(market, customer) == before


def test_weights_of_another_engine_are_refused(
    cli, devnet_manifest, market, offer, customer, listed, open_pair, strict_pair, folder
):
    engine, weights = open_pair
    other_engine, other_weights, _ = strict_pair
    api = MarketApiClient(devnet_manifest.services["marketplace"].url)
    assert api.wait_for_listing(other_weights)["metadata"]["engine_resource_id"] == other_engine
    before = _nonce(market, customer)
    out = _create(
        cli,
        offer[0],
        *("--engine", engine, "--resource", weights, "--resource", other_weights),
        *("--input", folder / "digits.npy"),
    )
    text = _refused(out, "weights_for_another_engine")
    assert f"resource {other_weights} is listed as the weights of engine {other_engine}" in text
    assert _nonce(market, customer) == before


def test_a_good_order_passes_and_a_full_offer_is_refused(
    cli, market, offer, customer, listed, open_pair, folder
):
    engine, weights = open_pair
    tee_offer_id, provider = offer
    args = ("--engine", engine, "--resource", weights, "--input", folder / "digits.npy")
    placed = _create(cli, tee_offer_id, *args, expect=0)
    assert "pre-flight:" in placed.output and "order placed" in placed.output
    order_id = re.search(r"^order_id=(0x[0-9a-f]{64})$", placed.stdout, re.MULTILINE).group(1)
    market.accept_order(provider, order_id)  # the offer's only slot is now taken
    before = _nonce(market, customer)
    text = _refused(_create(cli, tee_offer_id, *args), "tee_offer_full")
    assert "runs 1 of 1 orders at once" in text
    assert _nonce(market, customer) == before
