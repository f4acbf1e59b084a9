"""`enclava model publish` and `enclava data upload`: through the marketplace API, into its
catalogue."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from enclava.chain.market import MarketClient
from enclava.client.market_api import MarketApiClient
from tests.cli.conftest import funded_wallet

pytestmark = pytest.mark.devnet
ENGINE = Path(__file__).resolve().parents[2] / "engines" / "digits_classifier"


def published(stdout: str) -> dict[str, dict[str, str]]:
    """The `label resource_id=.. cid=.. sha256=.. tx=..` lines a publish prints for scripts."""
    found = {}
    for line in stdout.splitlines():
        match = re.match(r"^(engine|weights|dataset) (resource_id=.*)$", line)
        if match:
            found[match.group(1)] = dict(part.split("=", 1) for part in match.group(2).split())
    return found


@pytest.fixture(scope="module")
def owner(cli, devnet_manifest):
    return funded_wallet(cli, devnet_manifest, "owner")


def test_model_publish_lists_engine_and_weights_in_the_api_catalogue(
    cli, devnet_manifest, owner, tmp_path
):
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"weights " * 1000)
    name = f"CLI digits {uuid.uuid4().hex[:8]}"
    out = cli(
        "model",
        "publish",
        ENGINE,
        "--weights",
        weights,
        "--price",
        "0.003eth",
        "--weights-price",
        "5gwei",
        "--allow-any-customer",
        "--insecure-allow-simulated-tee",
        "--name",
        name,
        "--task",
        "image-classification",
        "--wallet",
        "owner",
    ).stdout
    items = published(out)
    engine, model = items["engine"], items["weights"]
    market = MarketClient.from_manifest(devnet_manifest)
    on_chain = market.resource(int(engine["resource_id"]))
    assert on_chain["owner"] == owner.address and on_chain["price"] == 3 * 10**15
    assert (
        on_chain["cid"] == engine["cid"]
        and "0x" + on_chain["content_hash"].hex() == engine["sha256"]
    )
    assert market.resource(int(model["resource_id"]))["price"] == 5 * 10**9

    api = MarketApiClient(devnet_manifest.services["marketplace"].url)
    listing = api.wait_for_listing(int(engine["resource_id"]))
    assert listing["owner"] == owner.address and listing["metadata"]["name"] == name
    assert (
        listing["metadata"]["engine_hash"] == engine["sha256"]
        and listing["listed_tx"] == engine["tx"]
    )
    weights_listing = api.wait_for_listing(int(model["resource_id"]))
    assert (
        weights_listing["kind"] == "model"
        and weights_listing["metadata"]["engine_hash"] == engine["sha256"]
    )
    found = api.catalogue(q=name)["items"]
    assert {item["resource_id"] for item in found} == {
        int(engine["resource_id"]),
        int(model["resource_id"]),
    }


def test_data_upload_lists_a_dataset_for_the_named_engine(cli, devnet_manifest, owner, tmp_path):
    engine_out = cli(
        "model", "publish", ENGINE, "--price", "1000", "--allow-any-customer", "--wallet", "owner"
    ).stdout
    engine = published(engine_out)["engine"]
    data = tmp_path / "records.csv"
    data.write_text("a,b\n1,2\n")
    out = cli(
        "data",
        "upload",
        data,
        "--price",
        "2000",
        "--engine",
        engine["resource_id"],
        "--allow-any-customer",
        "--wallet",
        "owner",
    ).stdout
    dataset = published(out)["dataset"]
    api = MarketApiClient(devnet_manifest.services["marketplace"].url)
    listing = api.wait_for_listing(int(dataset["resource_id"]))
    assert listing["kind"] == "dataset" and listing["metadata"]["name"] == "records.csv"
    assert listing["metadata"]["engine_hash"] == engine["sha256"] and listing["price_wei"] == "2000"


def test_publish_mistakes_give_a_code_and_a_hint(cli, tmp_path):
    missing = cli(
        "model",
        "publish",
        tmp_path / "nope",
        "--price",
        "1",
        "--allow-any-customer",
        "--wallet",
        "owner",
        expect=1,
    )
    assert "engine_dir_missing" in missing.stderr and "hint" in missing.stderr
    both = cli("model", "publish", ENGINE, "--price", "1", "--wallet", "owner", expect=1)
    assert "policy_invalid" in both.stderr
    assert (
        "price_invalid"
        in cli(
            "model",
            "publish",
            ENGINE,
            "--price",
            "lots",
            "--allow-any-customer",
            "--wallet",
            "owner",
            expect=1,
        ).stderr
    )
    bad_policy = tmp_path / "policy.json"
    bad_policy.write_text('{"allowed_customers": ["not an address"]}')
    assert (
        "policy_invalid"
        in cli(
            "data",
            "upload",
            bad_policy,
            "--price",
            "1",
            "--policy",
            bad_policy,
            "--wallet",
            "owner",
            expect=1,
        ).stderr
    )
    assert (
        "file_missing"
        in cli(
            "data",
            "upload",
            tmp_path / "absent.csv",
            "--price",
            "1",
            "--engine",
            "1",
            "--allow-any-customer",
            "--wallet",
            "owner",
            expect=1,
        ).stderr
    )
