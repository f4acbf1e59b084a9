"""FHE split inference through the CLI: `enclava fhe keys`, `fhe order`, `fhe result` on the devnet.

The model owner publishes engines/fhe_head, the head weights and the FHE manifest (as
tests/e2e/test_fhe_split_order.py does), the manifest listed through the marketplace API with a
``tail_url``, and serves the tail. A customer wallet made with the CLI classifies held-out digits in
each decryption mode through a real provider node: enclave mode asks the tail directly (``--tail``),
customer mode through the marketplace's forwarding route (``POST /v1/models/{id}/tail/{split}``).
"""

from __future__ import annotations

import hashlib
import json
import re
import time

import numpy as np
import pytest
from eth_account import Account

from demo.context import open_policy
from demo.story import MODEL_PRICE, npy_bytes
from enclava.chain.market import MarketClient
from enclava.chain.types import ResourceKind
from enclava.client import publish_engine, publish_resource
from enclava.client.broker_http import BrokerHttpClient
from enclava.client.fhe_split_listing import fhe_head_engine_folder, fhe_manifest, head_npz
from enclava.client.market_api import MarketApiClient, listing_metadata
from enclava.crypto.envelope import new_resource_key, seal
from enclava.protocol.order import OrderStatus
from enclava.splitnn import load_model
from enclava.storage.content_store import IpfsContentStore
from research.splitnn import digits_28
from tests.cli.conftest import fund, funded_wallet
from tests.e2e.provider_process import running_provider
from tests.e2e.test_fhe_split_order import NOISE_SCALE, SPLIT, tail_url  # noqa: F401 (tail_url: a fixture)

pytestmark = pytest.mark.devnet

BATCH = 20  # held-out images; at 99.5 % agreement, 20 images must all agree
OTHER_SPLIT = "conv7x7x4s3_sq"  # a split the model has, but this listing does not allow
_ORDER_ID = re.compile(r"^order_id=(0x[0-9a-f]{64})$", re.MULTILINE)


@pytest.fixture(scope="module")
def provider(devnet_manifest, tmp_path_factory):
    with running_provider(
        devnet_manifest, "cli-fhe", tmp_path_factory.mktemp("provider-cli-fhe")
    ) as proc:
        yield proc


@pytest.fixture(scope="module")
def fhe_env(cli, tmp_path_factory):
    """The CLI's environment with this module's FHE key sessions folder."""
    cli.env["ENCLAVA_FHE_HOME"] = str(tmp_path_factory.mktemp("fhe-home"))
    return cli


@pytest.fixture(scope="module")
def market(devnet_manifest):
    return MarketClient.from_manifest(devnet_manifest)


@pytest.fixture(scope="module")
def fhe_model(devnet_manifest, market, tail_url, tmp_path_factory):  # noqa: F811 (tail_url: the fixture)
    """A fresh model owner publishes the FHE-split digits model; returns (engine, weights, manifest)
    ids."""
    owner = Account.create()
    fund(devnet_manifest, owner.address)
    store = IpfsContentStore.from_manifest(devnet_manifest)
    broker = BrokerHttpClient.from_manifest(devnet_manifest)
    api = MarketApiClient(devnet_manifest.services["marketplace"].url)
    model = load_model()
    try:
        engine = publish_engine(
            market,
            store,
            broker,
            owner,
            fhe_head_engine_folder(tmp_path_factory.mktemp("head")),
            price=0,
            policy=lambda own_hash: open_policy(own_hash),
        )
        policy = open_policy(engine.engine_hash_hex)
        weights = publish_resource(
            market,
            store,
            broker,
            owner,
            kind=ResourceKind.MODEL,
            plaintext=head_npz(model, SPLIT),
            price=MODEL_PRICE,
            policy=policy,
        )
        manifest = json.dumps(
            fhe_manifest(
                model,
                splits=[SPLIT],
                noise_scale=NOISE_SCALE,
                head_resources={SPLIT: weights.resource_id},
            ),
            sort_keys=True,
        ).encode()
        # listed through the API: the on-chain metadata CID names the public manifest, the API's
        # metadata names the tail the marketplace forwards to
        public = store.add(manifest)
        key = new_resource_key()
        ciphertext = seal(manifest, key)
        stored = store.add(ciphertext)
        meta = listing_metadata(
            "digits split model (FHE manifest)",
            price_wei=0,
            engine_hash=engine.engine_hash_hex,
            task="image-classification",
            tail_url=tail_url,
        )
        listed = api.list_resource(
            owner,
            kind=int(ResourceKind.MODEL),
            cid=stored.cid,
            content_hash=hashlib.sha256(ciphertext).digest(),
            price_wei=0,
            metadata=meta,
            metadata_cid=public.cid,
            chain_id=int(devnet_manifest.chain_id),
            registry=devnet_manifest.contracts["ResourceRegistry"],
        )
        broker.deposit(owner, listed.resource_id, key, policy)
        indexed = api.wait_for_listing(listed.resource_id)
        assert indexed["metadata"]["tail_url"] == tail_url and indexed["metadata_cid"] == public.cid
    finally:
        api.close()
        broker.close()
        store.close()
    return engine.resource_id, weights.resource_id, listed.resource_id


@pytest.fixture(scope="module")
def customer(fhe_env, devnet_manifest):
    account = funded_wallet(fhe_env, devnet_manifest, "fhe-customer")
    created = fhe_env("fhe", "keys", "new", "--session", "digits")
    assert "key session created" in created.stdout
    return account, re.search(
        r"^context_sha256=([0-9a-f]{64})$", created.stdout, re.MULTILINE
    ).group(1)


@pytest.fixture(scope="module")
def held_out(tmp_path_factory):
    """``BATCH`` held-out digits as an .npy file, and the plaintext split model's predictions."""
    x, _ = digits_28("test")
    model = load_model()
    plain = model.tail(SPLIT).predict(model.head(SPLIT).forward(x[:BATCH]))
    path = tmp_path_factory.mktemp("images") / "digits.npy"
    path.write_bytes(npy_bytes(x[:BATCH].reshape(-1, 28, 28)))
    return path, np.asarray(plain)


def _order_args(fhe_model, provider, split: str, images, mode: str) -> list:
    engine, _, manifest = fhe_model
    return [
        "fhe",
        "order",
        "--engine",
        engine,
        "--model",
        manifest,
        "--tee-offer",
        provider.tee_offer_id(),
        "--split",
        split,
        "--images",
        images,
        "--mode",
        mode,
        "--max-duration",
        600,
        "--yes",
        "--wallet",
        "fhe-customer",
        "--session",
        "digits",
    ]


@pytest.mark.parametrize("mode", ["enclave", "customer"])
def test_fhe_order_through_the_cli_matches_the_plaintext_model(
    fhe_env,
    market,
    provider,
    fhe_model,
    customer,
    held_out,
    tail_url,  # noqa: F811 (the fixture imported above)
    mode,
):
    images, plain = held_out
    start = time.perf_counter()
    placed = fhe_env(*_order_args(fhe_model, provider, SPLIT, images, mode))
    order_id = _ORDER_ID.search(placed.stdout).group(1)
    tail = (
        ["--tail", tail_url] if mode == "enclave" else []
    )  # customer mode: via the marketplace's route
    got = fhe_env(
        "fhe",
        "result",
        order_id,
        *tail,
        "--timeout",
        540,
        "--session",
        "digits",
        "--wallet",
        "fhe-customer",
    )
    elapsed = time.perf_counter() - start

    answer = json.loads(got.stdout.strip().splitlines()[-1])
    labels = np.asarray(answer["labels"])
    agreement = float(np.mean(labels == plain)) if labels.shape == plain.shape else 0.0
    print(
        f"\nCLI FHE order ({mode}, tail {'direct' if tail else 'via marketplace'}): "
        f"agreement {agreement:.4f} "
        f"on {BATCH} images, {elapsed:.1f} s (fhe order + fhe result)"
    )
    assert answer["order_id"] == order_id
    assert agreement >= 0.995, (labels.tolist(), plain.tolist())
    assert f"{BATCH} images, split {SPLIT}, {mode} decrypt" in placed.stdout
    assert market.status(order_id) == OrderStatus.COMPLETED
    assert market.verify_report(order_id) == (True, "")


def test_keys_show_names_the_session_and_its_uploaded_evaluation_keys(
    fhe_env, customer, provider, fhe_model, held_out
):
    _, context_sha = customer
    shown = fhe_env("fhe", "keys", "show", "--session", "digits").stdout
    assert f"context_sha256={context_sha}" in shown
    assert "secret" not in shown.lower()
    if "eval_keys=" not in shown:  # run alone: make one order so the session has uploaded its keys
        fhe_env(*_order_args(fhe_model, provider, SPLIT, held_out[0], "customer"))
        shown = fhe_env("fhe", "keys", "show", "--session", "digits").stdout
    assert re.search(r"^eval_keys=[0-9a-f]{64} steps=\d+$", shown, re.MULTILINE), shown
    assert (
        int(re.search(r"^uploads=(\d+)$", shown, re.MULTILINE).group(1)) >= 2
    )  # public context + eval keys


def test_keys_new_refuses_to_overwrite_a_session(fhe_env, customer):
    refused = fhe_env("fhe", "keys", "new", "--session", "digits", expect=1)
    assert "already exists" in refused.stderr and "--force" in refused.stderr


def _refused_without_a_transaction(cli, market, account, args, code: str):
    nonce = market.w3.eth.get_transaction_count(account.address)
    balance = market.w3.eth.get_balance(account.address)
    refused = cli(*args, expect=1)
    assert f"({code})" in refused.stderr and "hint" in refused.stderr, refused.stderr
    assert (
        market.w3.eth.get_transaction_count(account.address) == nonce
    )  # no transaction: no order on chain
    assert market.w3.eth.get_balance(account.address) == balance
    return refused


def test_a_split_the_model_does_not_allow_exits_1_before_any_transaction(
    fhe_env, market, provider, fhe_model, customer, held_out
):
    account, _ = customer
    for split in (OTHER_SPLIT, "no_such_split"):
        refused = _refused_without_a_transaction(
            fhe_env,
            market,
            account,
            _order_args(fhe_model, provider, split, held_out[0], "customer"),
            "fhe_split_not_allowed",
        )
        assert SPLIT in refused.stderr  # the error names the split that is allowed


def test_an_images_file_of_the_wrong_shape_exits_1_before_any_transaction(
    fhe_env, market, provider, fhe_model, customer, tmp_path
):
    account, _ = customer
    wrong = tmp_path / "eight.npy"
    wrong.write_bytes(npy_bytes(np.zeros((2, 8, 8))))
    refused = _refused_without_a_transaction(
        fhe_env,
        market,
        account,
        _order_args(fhe_model, provider, SPLIT, wrong, "enclave"),
        "fhe_input_shape",
    )
    assert "28" in refused.stderr
    for name, data in {"empty.npy": b"", "text.npy": b"not an array"}.items():
        (tmp_path / name).write_bytes(data)
        _refused_without_a_transaction(
            fhe_env,
            market,
            account,
            _order_args(fhe_model, provider, SPLIT, tmp_path / name, "enclave"),
            "file_invalid",
        )
    np.savez(tmp_path / "archive.npz", images=np.zeros((2, 28, 28)))
    _refused_without_a_transaction(
        fhe_env,
        market,
        account,
        _order_args(fhe_model, provider, SPLIT, tmp_path / "archive.npz", "enclave"),
        "file_invalid",
    )


def test_result_of_an_order_id_this_session_did_not_place_exits_1(fhe_env, customer):
    unknown = fhe_env(
        "fhe",
        "result",
        "0x" + "ab" * 32,
        "--session",
        "digits",
        "--wallet",
        "fhe-customer",
        expect=1,
    )
    assert "(fhe_order_unknown)" in unknown.stderr and "--session" in unknown.stderr
    malformed = fhe_env(
        "fhe", "result", "../uploads", "--session", "digits", "--wallet", "fhe-customer", expect=1
    )
    assert "not an order id" in malformed.stderr and "hint" in malformed.stderr
