"""A whole order through the CLI with a real provider node: publish the digits classifier, order
inference on the customer's digits, watch it, fetch and decrypt the result, verify the report."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from demo.story import npy_bytes
from enclava.client.market_api import MarketApiClient
from engines.digits_classifier.model import predict_plain
from engines.digits_classifier.weights import digits_split, train_reference_weights, weights_to_npz
from tests.cli.conftest import funded_wallet
from tests.cli.test_cli_publish import ENGINE, published
from tests.e2e.provider_process import running_provider

pytestmark = pytest.mark.devnet


@pytest.fixture(scope="module")
def provider(devnet_manifest, tmp_path_factory):
    with running_provider(devnet_manifest, "cli", tmp_path_factory.mktemp("provider-cli")) as proc:
        yield proc


@pytest.fixture(scope="module")
def completed(cli, devnet_manifest, provider, tmp_path_factory):
    """Model owner publishes, customer orders and watches it complete; returns what the test
    needs."""
    folder = tmp_path_factory.mktemp("order")
    funded_wallet(cli, devnet_manifest, "model-owner")
    funded_wallet(cli, devnet_manifest, "customer")
    weights = train_reference_weights(seed=0)
    (folder / "weights.npz").write_bytes(weights_to_npz(weights))
    out = cli(
        "model",
        "publish",
        ENGINE,
        "--weights",
        folder / "weights.npz",
        "--price",
        "0.003eth",
        "--weights-price",
        "0.005eth",
        "--allow-any-customer",
        "--insecure-allow-simulated-tee",
        "--wallet",
        "model-owner",
    ).stdout
    items = published(out)
    _, _, images, _ = digits_split()
    batch = images[:16].reshape(-1, 8, 8).astype(np.float32)
    (folder / "digits.npy").write_bytes(npy_bytes(batch))
    created = cli(
        "order",
        "create",
        "--engine",
        items["engine"]["resource_id"],
        "--resource",
        items["weights"]["resource_id"],
        "--tee-offer",
        provider.tee_offer_id(),
        "--input",
        folder / "digits.npy",
        "--max-duration",
        600,
        "--yes",
        "--wallet",
        "customer",
    )
    order_id = re.search(r"^order_id=(0x[0-9a-f]{64})$", created.stdout, re.MULTILINE).group(1)
    assert "upload encrypted inputs" in created.output  # the upload bar, drawn on stderr
    watched = cli("order", "status", order_id, "--watch", "--timeout", 300)
    assert "status=COMPLETED" in watched.stdout, provider.jobs().get(order_id)
    return order_id, weights, batch, folder


def test_result_is_verified_decrypted_and_equals_a_plain_run(cli, completed):
    order_id, weights, batch, folder = completed
    out = folder / "result"
    shown = cli("order", "result", order_id, "--out", out, "--wallet", "customer").stdout
    assert "result verified" in shown and "predictions.json" in shown
    assert json.loads((out / "predictions.json").read_text()) == predict_plain(weights, batch)


def test_result_cannot_be_decrypted_by_another_wallet(cli, completed, devnet_manifest):
    order_id, _, _, folder = completed
    funded_wallet(cli, devnet_manifest, "eve", eth=1)
    refused = cli("order", "result", order_id, "--out", folder / "eve", "--wallet", "eve", expect=1)
    assert "decryption_failed" in refused.stderr and "hint" in refused.stderr


def test_report_verify_passes_and_fails_on_a_tampered_result(cli, completed):
    order_id, _, _, folder = completed
    out = folder / "result"
    if not (out / "result.age").exists():
        cli("order", "result", order_id, "--out", out, "--wallet", "customer")
    good = cli("report", "verify", order_id, "--result-dir", out)
    assert "valid=true" in good.stdout and "FAIL" not in good.stdout and "VALID" in good.stdout
    checklist = json.loads(cli("report", "verify", order_id, "--result-dir", out, "--json").stdout)
    statuses = {item["name"]: item["status"] for item in checklist["items"]}
    assert checklist["valid"] and set(statuses.values()) == {
        "ok"
    }  # nothing skipped: the result was hashed too
    assert {
        "signature",
        "enclave_certified",
        "measurement_allowed",
        "inputs_hash",
        "output_hash",
    } <= set(statuses)

    tampered = folder / "tampered"
    shutil.copytree(out, tampered)
    data = bytearray((tampered / "result.age").read_bytes())
    data[-1] ^= 0x01
    (tampered / "result.age").write_bytes(bytes(data))
    bad = cli("report", "verify", order_id, "--result-dir", tampered, expect=1)
    assert "valid=false" in bad.stdout and "NOT VALID" in bad.stdout
    failed = json.loads(
        cli("report", "verify", order_id, "--result-dir", tampered, "--json", expect=1).stdout
    )
    assert [i["name"] for i in failed["items"] if i["status"] == "fail"] == ["output_hash"]


def test_marketplace_api_shows_the_report_as_verified(completed, devnet_manifest):
    order_id = completed[0]
    report = MarketApiClient(devnet_manifest.services["marketplace"].url).report(order_id)
    assert report["verified"] is True and report["order_id"] == order_id


def test_model_owner_withdraws_the_payout(cli, completed):
    shown = cli("balance", "show", "--wallet", "model-owner").stdout
    credit = int(re.search(r"credit_wei=(\d+)", shown).group(1))
    assert credit == 8 * 10**15  # engine 0.003 + weights 0.005 ETH
    assert f"withdrawn_wei={credit}" in cli("balance", "withdraw", "--wallet", "model-owner").stdout
    assert "credit_wei=0" in cli("balance", "show", "--wallet", "model-owner").stdout
