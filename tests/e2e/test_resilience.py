"""Orders survive a killed worker and a restarted Redis; two nodes never take the same order."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from demo.parties import order_as_customer, publish_engine_at
from enclava.client import wait_for_order
from enclava.devnet import dev_account
from enclava.devnet.services import redis_command
from enclava.protocol.order import OrderStatus
from tests.e2e.provider_process import ProviderProcess
from tests.engines.fixture_engine import write_engine

SLOW_ENGINE = """import json, os, time
time.sleep({seconds})
with open(os.path.join(os.environ["ENCLAVA_OUTPUT_DIR"], "out.json"), "w") as f:
    json.dump({{"slept": {seconds}}}, f)
"""


@pytest.fixture(scope="module")
def slow_engine(market_parties, tmp_path_factory):
    folder = write_engine(
        tmp_path_factory.mktemp("slow-engine"), SLOW_ENGINE.format(seconds=6), cpu=30, wall=60
    )
    return publish_engine_at(market_parties, "model_owner", folder, price=10**15)


def _order(p, tee_offer_id: int, engine_id: int):
    return order_as_customer(p, tee_offer_id, engine_id, inputs=[b"data"])


def _wait_for_job(proc: ProviderProcess, order_id: str, status: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = proc.jobs().get(order_id)
        if job is not None and job.status == status:
            return
        time.sleep(0.2)
    raise AssertionError(f"job {order_id} never reached {status}: {proc.jobs().get(order_id)}")


def _completions(p, order_id: str) -> int:
    return len(
        p.market.contracts.marketplace.events.OrderCompleted.get_logs(
            from_block=p.market.from_block,
            argument_filters={"orderId": bytes.fromhex(order_id[2:])},
        )
    )


def _ends_before_deadline(p, order_id: str) -> OrderStatus:
    order = wait_for_order(p.market, order_id, timeout=300)
    assert order.status in (OrderStatus.COMPLETED, OrderStatus.FAILED), order.status
    assert p.market.chain_time() <= order.deadline
    if order.status == OrderStatus.FAILED:
        assert p.market.payouts_for_order(order_id) == {
            dev_account("customer").address: order.terms.escrow
        }
    else:
        assert _completions(p, order_id) == 1
    return order.status


def test_killing_the_worker_mid_order_still_ends_the_order_once(
    market_parties, provider, slow_engine
):
    p = market_parties
    placed = _order(p, provider.tee_offer_id(), slow_engine.resource_id)
    _wait_for_job(provider, placed.order_id, "running")
    provider.kill_workers()
    provider.start_worker()
    assert _ends_before_deadline(p, placed.order_id) == OrderStatus.COMPLETED
    assert provider.jobs().get(placed.order_id).attempts >= 2


def _restart_redis(manifest) -> None:
    pid = manifest.services["redis"].pid
    port = int(manifest.redis_url.rsplit(":", 1)[1].split("/")[0])
    command = redis_command(
        Path(manifest.state_dir), {"redis": port}
    )  # redis rewrites its own cmdline
    env = dict(
        item.split(b"=", 1)
        for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        if b"=" in item
    )
    cwd = os.readlink(f"/proc/{pid}/cwd")
    os.kill(pid, signal.SIGKILL)
    while (
        Path(f"/proc/{pid}").exists()
        and b"zombie" not in Path(f"/proc/{pid}/status").read_bytes().lower()
    ):
        time.sleep(0.05)
    time.sleep(1.0)
    fresh = subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    manifest.services["redis"].pid = fresh.pid
    manifest.save()  # so `devnet down` stops the new process
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("redis did not come back")


def test_restarting_redis_still_ends_every_order(
    market_parties, provider, slow_engine, devnet_manifest
):
    p = market_parties
    placed = [_order(p, provider.tee_offer_id(), slow_engine.resource_id) for _ in range(3)]
    _wait_for_job(provider, placed[0].order_id, "running")
    _restart_redis(devnet_manifest)
    for order in placed:
        assert _ends_before_deadline(p, order.order_id) == OrderStatus.COMPLETED


def test_two_nodes_of_one_provider_never_both_accept_an_order(
    market_parties, provider, slow_engine, devnet_manifest, tmp_path_factory
):
    second = ProviderProcess(name="e2e-twin", folder=tmp_path_factory.mktemp("provider-twin"))
    second.write_config(devnet_manifest.name)
    second.start_node()
    second.start_worker()
    try:
        # both serve the same on-chain TEE offer
        assert second.tee_offer_id() == provider.tee_offer_id()
        p = market_parties
        placed = [_order(p, provider.tee_offer_id(), slow_engine.resource_id) for _ in range(4)]
        for order in placed:
            assert _ends_before_deadline(p, order.order_id) == OrderStatus.COMPLETED
        for order in placed:
            accepted = p.market.contracts.marketplace.events.OrderAccepted.get_logs(
                from_block=p.market.from_block,
                argument_filters={"orderId": bytes.fromhex(order.order_id[2:])},
            )
            assert len(accepted) == 1
            holders = [
                proc.name
                for proc in (provider, second)
                if proc.jobs().get(order.order_id) is not None
            ]
            assert len(holders) == 1, (order.order_id, holders)
    finally:
        second.stop()
