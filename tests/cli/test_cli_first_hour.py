"""A new user's first hour on the devnet, with real components: fresh wallets funded with
`enclava devnet fund`, a provider node started from examples/provider.toml (a keystore wallet, a
free HTTP port it logs), an order that completes and pays the provider exactly billed seconds x
price, and an owner with a payout but no ETH told how to pay the gas of the withdrawal."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from web3 import Web3

from demo.story import npy_bytes
from enclava.chain import ChainClient
from enclava.chain.market import MarketClient, order_logs
from enclava.client import place_order, wait_for_order
from enclava.client.broker_http import BrokerHttpClient
from enclava.crypto import wallet_recipient
from enclava.devnet import dev_account
from enclava.protocol.order import IntegrityReport, OrderStatus
from enclava.storage.content_store import IpfsContentStore
from enclava.wallet import unlock
from engines.digits_classifier.weights import digits_split, train_reference_weights, weights_to_npz
from tests.cli.conftest import PASSWORD
from tests.cli.test_cli_publish import ENGINE, published

pytestmark = pytest.mark.devnet

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "provider.toml"
BIN = Path(sys.executable).parent
PRICE_PER_SECOND = 10**9  # the example's [[tee_offers]] price
URL_LINE = re.compile(r"provider node HTTP at (http://127\.0\.0\.1:(\d+))")


def unlocked(cli, wallet: str):
    """The account of one of the module's wallets (they live in the CLI's ENCLAVA_HOME)."""
    previous = os.environ.get("ENCLAVA_HOME")
    os.environ["ENCLAVA_HOME"] = cli.env["ENCLAVA_HOME"]
    try:
        return unlock(wallet, PASSWORD)
    finally:
        if previous is None:
            del os.environ["ENCLAVA_HOME"]
        else:
            os.environ["ENCLAVA_HOME"] = previous


def address_of(cli, wallet: str) -> str:
    shown = cli("wallet", "show", "--wallet", wallet, "--no-key").stdout
    return re.search(r"0x[0-9a-fA-F]{40}", shown).group(0)


def new_funded_wallet(cli, name: str, amount: str = "10eth") -> str:
    made = cli("wallet", "new", "--wallet", name).stdout
    address = re.search(r"0x[0-9a-fA-F]{40}", made).group(0)
    assert f"enclava devnet fund {address}" in made.replace("\n", "")  # the hint says how
    funded = cli("devnet", "fund", name, amount).stdout
    assert "funded_wei=" in funded and address in funded
    return address


class ExampleProvider:
    """`provider-node run` and `worker` on examples/provider.toml, as the README tells it."""

    def __init__(self, cli, manifest, folder: Path) -> None:
        self.folder = folder
        self.env = {
            **os.environ,
            "ENCLAVA_HOME": cli.env["ENCLAVA_HOME"],
            "PROVIDER_WALLET_PASSWORD": PASSWORD,
            "PROVIDER_DEVNET": manifest.name,
            "PROVIDER_NAME": "first-hour",
            "PROVIDER_HTTP_PORT": "0",  # a free port, logged by the node
            "PROVIDER_STATE_DIR": str(folder / "state"),
            "PROVIDER_SCRATCH_ROOT": str(folder / "scratch"),
            "PROVIDER_POLL_INTERVAL_S": "0.5",
            "PROVIDER_LEASE_S": "20",
            "PROVIDER_DEADLINE_MARGIN_S": "5",
            "PROVIDER_CONCURRENCY": "1",
            "OMP_NUM_THREADS": "1",
        }
        self.procs: list[subprocess.Popen] = []
        self.url = ""

    def spawn(self, verb: str) -> None:
        log = open(self.folder / f"{verb}.log", "ab")
        self.procs.append(
            subprocess.Popen(
                [str(BIN / "provider-node"), verb, "--config", str(EXAMPLE)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

    def node_log(self) -> str:
        return (self.folder / "run.log").read_text(errors="replace")

    def start(self) -> None:
        self.spawn("run")
        deadline = time.monotonic() + 120
        while not self.url:
            found = URL_LINE.search(self.node_log())
            if found:
                self.url = found.group(1)
            elif self.procs[0].poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"provider node did not start: {self.node_log()[-3000:]}")
            time.sleep(0.3)
        assert httpx.get(f"{self.url}/healthz", timeout=5).json()["status"] == "ok"
        self.spawn("worker")

    def tee_offer_id(self) -> int:
        return int(next(iter(httpx.get(f"{self.url}/v1/status", timeout=5).json()["tee_offers"])))

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def provider(cli, devnet_manifest, tmp_path_factory) -> Iterator[ExampleProvider]:
    new_funded_wallet(cli, "provider")
    node = ExampleProvider(cli, devnet_manifest, tmp_path_factory.mktemp("provider-example"))
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def completed(cli, devnet_manifest, provider, tmp_path_factory):
    """The owner publishes with the CLI, the customer orders; the order completes. Returns the
    order id."""
    folder = tmp_path_factory.mktemp("first-hour")
    new_funded_wallet(cli, "owner", "1eth")
    new_funded_wallet(cli, "customer", "2eth")
    (folder / "weights.npz").write_bytes(weights_to_npz(train_reference_weights(seed=0)))
    items = published(
        cli(
            "model",
            "publish",
            ENGINE,
            "--weights",
            folder / "weights.npz",
            "--price",
            "0.003eth",
            "--allow-any-customer",
            "--insecure-allow-simulated-tee",
            "--wallet",
            "owner",
        ).stdout
    )
    _, _, images, _ = digits_split()
    batch = images[:16].reshape(-1, 8, 8).astype(np.float32)
    # the customer's side through the library (`order create` and `order status` are
    # tests/cli/test_cli_order.py's): the same place_order / wait_for_order the CLI calls
    customer = unlocked(cli, "customer")
    market = MarketClient.from_manifest(devnet_manifest)
    store = IpfsContentStore.from_manifest(devnet_manifest)
    broker = BrokerHttpClient.from_manifest(devnet_manifest)
    try:
        placed = place_order(
            market,
            store,
            broker,
            customer,
            engine_id=int(items["engine"]["resource_id"]),
            resource_ids=[int(items["weights"]["resource_id"])],
            tee_offer_id=provider.tee_offer_id(),
            inputs=[npy_bytes(batch)],
            recipient=wallet_recipient(customer),
            max_duration=600,
        )
    finally:
        store.close()
        broker.close()
    order = wait_for_order(market, placed.order_id, timeout=300)
    assert order.status == OrderStatus.COMPLETED, provider.node_log()[-3000:]
    return placed.order_id


def test_a_completed_order_pays_the_provider_billed_seconds_times_price(
    cli, devnet_manifest, provider, completed
):
    market = MarketClient.from_manifest(devnet_manifest)
    (event,) = order_logs(market.contracts, "OrderCompleted", completed, from_block=0)
    report = IntegrityReport.from_event(event["args"]["report"])
    ran = report.finished_at - report.started_at
    job = httpx.get(f"{provider.url}/v1/jobs/{completed}", timeout=10).json()
    print(
        f"billing measured: startedAt={report.started_at} finishedAt={report.finished_at} "
        f"stages={job['stages']} billed_s={job.get('billed_s')}"
    )
    assert job["status"] == "completed" and job["billed_s"] == min(ran, 600)
    earned = int(job["earned_wei"])
    assert earned == job["billed_s"] * PRICE_PER_SECOND
    provider_address = Web3.to_checksum_address(address_of(cli, "provider"))
    assert market.payouts_for_order(completed)[provider_address] == earned
    assert earned > 0, f"billed 0 s: startedAt {report.started_at} == finishedAt"

    # the worker that ran the order logs its completion
    log = (provider.folder / "worker.log").read_text(errors="replace")
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    billed = [
        entry for entry in lines if entry.get("order_id") == completed and "billed_s" in entry
    ]
    assert len(billed) == 1, lines[-10:]
    assert billed[0]["event"].startswith(
        f"order {completed} completed: billed {job['billed_s']} s x 1,000,000,000 wei/s = "
        f"{earned:,} wei to provider {provider_address}"
    )
    assert billed[0]["credited_wei"] == earned


def test_an_owner_without_gas_is_told_to_fund_before_withdrawing(cli, devnet_manifest, completed):
    owner = address_of(cli, "owner")
    chain = ChainClient(devnet_manifest.rpc_url)
    market = MarketClient.from_manifest(devnet_manifest)
    credit = market.credit_of(owner)
    assert credit > 0
    drain(chain, cli, "owner")
    assert chain.balance(owner) == 0
    nonce = chain.w3.eth.get_transaction_count(owner)
    refused = cli("balance", "withdraw", "--wallet", "owner", expect=1)
    assert "gas_unaffordable" in refused.stderr
    assert f"enclava devnet fund {owner}" in refused.stderr.replace("\n", "")
    assert chain.w3.eth.get_transaction_count(owner) == nonce and market.credit_of(owner) == credit

    cli("devnet", "fund", owner, "0.01eth")
    assert f"withdrawn_wei={credit}" in cli("balance", "withdraw", "--wallet", "owner").stdout
    assert market.credit_of(owner) == 0


def drain(chain: ChainClient, cli, wallet: str) -> None:
    """Send the wallet's whole balance away, gas included (the devnet's base fee is 0)."""
    account = unlocked(cli, wallet)
    tip = int(chain.w3.eth.max_priority_fee)
    assert int(chain.w3.eth.get_block("latest").get("baseFeePerGas", 0)) == 0
    value = chain.balance(account.address) - 21_000 * tip
    chain.send(
        account,
        {
            "to": dev_account("faucet").address,
            "value": value,
            "gas": 21_000,
            "maxFeePerGas": tip,
            "maxPriorityFeePerGas": tip,
        },
    )


def test_fund_sends_the_amount_asked_from_the_faucet(cli, devnet_manifest):
    chain = ChainClient(devnet_manifest.rpc_url)
    target = Web3.to_checksum_address("0x" + os.urandom(20).hex())
    cli("devnet", "fund", target.lower(), "0.5eth")
    cli("devnet", "fund", target)
    assert chain.balance(target) == 10**18 // 2 + 10 * 10**18


def test_fund_refuses_a_network_that_is_not_a_devnet(cli, devnet_manifest, tmp_path):
    chain = ChainClient(devnet_manifest.rpc_url)
    faucet = dev_account("faucet").address
    nonce = chain.w3.eth.get_transaction_count(faucet)
    source = json.loads(Path(devnet_manifest.state_dir, "manifest.json").read_text())
    for name, change in (
        ("mainnet-id", {"chain_id": 1}),
        ("no-anvil", {"services": {k: v for k, v in source["services"].items() if k != "anvil"}}),
        ("no-dev-accounts", {"accounts": []}),
    ):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({**source, **change}))
        refused = cli("devnet", "fund", faucet, "1eth", "--manifest", path, expect=1)
        assert "not_a_devnet" in refused.stderr and "hint" in refused.stderr, name
    assert chain.w3.eth.get_transaction_count(faucet) == nonce  # nothing was sent


def test_fund_refuses_a_bad_address_an_unknown_wallet_or_an_amount_it_cannot_send(cli):
    assert "address_invalid" in cli("devnet", "fund", "0x1234", expect=1).stderr
    zero = "0x" + "00" * 20
    assert "price_invalid" in cli("devnet", "fund", zero, "lots", expect=1).stderr
    assert "price_invalid" in cli("devnet", "fund", zero, "0", expect=1).stderr
    assert "wallet_not_found" in cli("devnet", "fund", "nobody", expect=1).stderr
    assert "faucet_empty" in cli("devnet", "fund", zero, "20000eth", expect=1).stderr
