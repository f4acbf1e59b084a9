"""The devnet runs the real programs, side by side, and leaves nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import redis

from enclava import devnet
from enclava.chain import ChainClient
from enclava.devnet.processes import is_alive, tagged_processes


def test_anvil_answers_and_mines_a_transfer(devnet_manifest):
    chain = ChainClient.from_manifest(devnet_manifest)
    sender, receiver = devnet.dev_account("customer"), devnet.dev_account(15)
    before = chain.balance(receiver.address)
    tx = chain.transfer(sender, receiver.address, 12345)
    assert chain.chain_id() == 31337
    assert tx.status == 1 and tx.block_number >= 1
    assert chain.balance(receiver.address) == before + 12345


def test_manifest_names_every_service(devnet_manifest):
    data = json.loads((Path(devnet_manifest.state_dir) / "manifest.json").read_text())
    assert data["rpc_url"].startswith("http://127.0.0.1:")
    assert data["ipfs_api"].startswith("http://127.0.0.1:")
    assert data["redis_url"].startswith("redis://127.0.0.1:")
    assert len(data["accounts"]) == 20 and data["accounts"][0] == devnet.dev_account(0).address
    assert set(data["services"]) == {"anvil", "ipfs", "redis", "ca", "marketplace"}
    assert set(data["contracts"]) == {
        "ProviderRegistry",
        "ResourceRegistry",
        "AttestationRegistry",
        "Marketplace",
        "ServiceMarket",
    }


def test_up_is_idempotent_when_healthy(devnet_manifest):
    again = devnet.up(devnet_manifest.name)
    assert {k: v.pid for k, v in again.services.items()} == {
        k: v.pid for k, v in devnet_manifest.services.items()
    }


def test_two_devnets_run_side_by_side(devnet_manifest, unique_name):
    name = unique_name("side")
    other = devnet.up(name, deploy=False)
    try:
        assert other.rpc_url != devnet_manifest.rpc_url
        assert other.ipfs_api != devnet_manifest.ipfs_api
        assert other.redis_url != devnet_manifest.redis_url
        assert all(devnet.status(name).values()) and all(
            devnet.status(devnet_manifest.name).values()
        )
        # each chain is its own: a transfer on one does not show on the other
        sender, receiver = devnet.dev_account("customer"), devnet.dev_account(16)
        a, b = ChainClient(devnet_manifest.rpc_url), ChainClient(other.rpc_url)
        before_b = b.balance(receiver.address)
        a.transfer(sender, receiver.address, 777)
        assert b.balance(receiver.address) == before_b
        redis.Redis.from_url(other.redis_url).set("probe", "other")
        assert redis.Redis.from_url(devnet_manifest.redis_url).get("probe") != b"other"
    finally:
        assert devnet.down(name) == []


def test_down_leaves_no_process_behind(unique_name):
    name = unique_name("down")
    manifest = devnet.up(name, deploy=False)
    pids = [record.pid for record in manifest.services.values()]
    tag = str(devnet.state_dir(name))
    assert len(tagged_processes(tag)) >= 3
    assert devnet.down(name) == []
    assert not any(is_alive(pid) for pid in pids)
    assert tagged_processes(tag) == []
    assert devnet.status(name) == {}
    try:
        httpx.post(manifest.ipfs_api + "/api/v0/id", timeout=1)
        reachable = True
    except httpx.HTTPError:
        reachable = False
    assert not reachable


def test_up_restarts_a_devnet_whose_service_died(unique_name):
    from enclava.devnet.processes import stop_group

    name = unique_name("heal")
    first = devnet.up(name, deploy=False)
    try:
        stop_group(first.services["redis"].pid)
        assert devnet.status(name)["redis"] is False
        second = devnet.up(name, deploy=False)
        assert all(devnet.status(name).values())
        assert second.services["redis"].pid != first.services["redis"].pid
    finally:
        assert devnet.down(name) == []
