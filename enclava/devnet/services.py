"""The real programs a devnet runs: anvil (chain), Kubo (IPFS) and Redis.

Each service says how to prepare its state folder, how to start, and how to tell it is healthy.
Later components (CA, marketplace API, provider node) plug in as more ``ServiceSpec`` entries.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import httpx

from enclava.devnet.accounts import ACCOUNT_COUNT, DEV_MNEMONIC
from enclava.errors import DevnetError, EnclavaError
from enclava.paths import find_tool

if TYPE_CHECKING:
    from enclava.ca_link import AttestedCa
    from enclava.chain.config import Manifest

__all__ = [
    "ServiceSpec",
    "CHAIN_ID",
    "core_services",
    "contract_services",
    "redis_command",
    "attested_ca",
]

CHAIN_ID = 31337


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    command: Callable[[Path, dict[str, int]], list[str]]
    url: Callable[[int], str]
    healthy: Callable[[int], bool]
    prepare: Callable[[Path, dict[str, int]], dict[str, str]] | None = None  # returns extra env
    extra_ports: tuple[str, ...] = ()


def _anvil_command(state: Path, ports: dict[str, int]) -> list[str]:
    return [
        str(find_tool("anvil")),
        "--host",
        "127.0.0.1",
        "--port",
        str(ports["anvil"]),
        "--chain-id",
        str(CHAIN_ID),
        "--accounts",
        str(ACCOUNT_COUNT),
        "--balance",
        "10000",
        "--mnemonic",
        DEV_MNEMONIC,
        # brownie 1.22's EIP-1559 fees fall below anvil 1.7's default base fee; zero fixes that.
        "--block-base-fee-per-gas",
        "0",
        "--gas-limit",
        "30000000",
    ]


def _anvil_healthy(port: int) -> bool:
    try:
        reply = httpx.post(
            f"http://127.0.0.1:{port}",
            json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
            timeout=1.0,
        )
        return int(reply.json()["result"], 16) == CHAIN_ID
    except (httpx.HTTPError, KeyError, ValueError):
        return False


def _kubo_prepare(state: Path, ports: dict[str, int]) -> dict[str, str]:
    """Initialise a private Kubo repo: loopback only, no bootstrap peers, no routing, no
    autoconf."""
    repo = state / "ipfs"
    env = {"IPFS_PATH": str(repo)}
    if not (repo / "config").exists():
        result = subprocess.run(
            [str(find_tool("ipfs")), "init", "--profile", "test", "--empty-repo"],
            env={"IPFS_PATH": str(repo), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise DevnetError(f"ipfs init failed: {result.stderr.strip()}")
    config_path = repo / "config"
    config = json.loads(config_path.read_text())
    config["Addresses"]["API"] = f"/ip4/127.0.0.1/tcp/{ports['ipfs']}"
    config["Addresses"]["Gateway"] = f"/ip4/127.0.0.1/tcp/{ports['ipfs_gateway']}"
    config["Addresses"]["Swarm"] = ["/ip4/127.0.0.1/tcp/0"]
    config["Bootstrap"] = []
    config.setdefault("Routing", {})["Type"] = "none"
    config.setdefault("AutoConf", {})["Enabled"] = False
    config.setdefault("Discovery", {}).setdefault("MDNS", {})["Enabled"] = False
    config_path.write_text(json.dumps(config, indent=2))
    return env


def _kubo_command(state: Path, ports: dict[str, int]) -> list[str]:
    return [str(find_tool("ipfs")), "daemon", "--migrate=false"]


def _kubo_healthy(port: int) -> bool:
    try:
        return httpx.post(f"http://127.0.0.1:{port}/api/v0/id", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def redis_command(state: Path, ports: dict[str, int]) -> list[str]:
    """redis-server's command line for this devnet (tests restart Redis in place with it)."""
    data = state / "redis"
    data.mkdir(parents=True, exist_ok=True)
    return [
        str(find_tool("redis-server")),
        "--port",
        str(ports["redis"]),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data),
        "--appendonly",
        "yes",
        "--save",
        "",
        "--daemonize",
        "no",
        "--protected-mode",
        "yes",
    ]


def _redis_healthy(port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=port, socket_timeout=1.0).ping())
    except redis.RedisError:
        return False


def core_services() -> list[ServiceSpec]:
    return [
        ServiceSpec("anvil", _anvil_command, lambda p: f"http://127.0.0.1:{p}", _anvil_healthy),
        ServiceSpec(
            "ipfs",
            _kubo_command,
            lambda p: f"http://127.0.0.1:{p}",
            _kubo_healthy,
            _kubo_prepare,
            extra_ports=("ipfs_gateway",),
        ),
        ServiceSpec("redis", redis_command, lambda p: f"redis://127.0.0.1:{p}/0", _redis_healthy),
    ]


def _ca_prepare(state: Path, ports: dict[str, int]) -> dict[str, str]:
    from enclava.devnet.accounts import dev_account

    return {
        "CA_STATE_DIR": str(state / "ca"),
        "CA_MANIFEST": str(state / "manifest.json"),
        # the devnet has no TEE: accept the simulated one, and use the funded devnet CA account
        "CA_INSECURE_ALLOW_SIMULATED_TEE": "true",
        "CA_SIGNER_KEY": dev_account("ca").key.hex(),
        # revocations are signed by the devnet's governance account (the deployer owns the
        # registries)
        "CA_ADMIN_ADDRESSES": dev_account("deployer").address,
    }


def _ca_command(state: Path, ports: dict[str, int]) -> list[str]:
    import sys

    return [
        sys.executable,
        "-m",
        "certification_authority.main",
        "--port",
        str(ports["ca"]),
        "--log-level",
        "info",
    ]


def _http_healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _ca_healthy(port: int) -> bool:
    """The CA answers over TLS (liveness only: trust in it comes from :func:`attested_ca`)."""
    try:
        return (
            httpx.get(f"https://127.0.0.1:{port}/healthz", timeout=1.0, verify=False).status_code
            == 200
        )
    except httpx.HTTPError:
        return False


def attested_ca(manifest: Manifest) -> AttestedCa:
    """The devnet's CA, its simulated evidence verified against the devnet's on-chain allow-list
    and its TLS key pinned; the devnet's readiness check, raising ``DevnetError`` when the CA
    cannot be trusted."""
    from enclava.ca_link.chain_ca import connect_devnet_ca

    try:
        return connect_devnet_ca(manifest)
    except EnclavaError as exc:
        hint = "Read the CA's log (`enclava devnet logs ca`): is its measurement allow-listed?"
        raise DevnetError(
            f"the devnet's CA cannot be trusted: {exc.code}: {exc.message}", hint=hint
        ) from exc


def _market_prepare(state: Path, ports: dict[str, int]) -> dict[str, str]:
    from enclava.devnet.accounts import dev_account

    # contract services start only on a fresh chain: an index (and block cursor) of an earlier chain
    # is stale
    shutil.rmtree(state / "marketplace", ignore_errors=True)
    (state / "marketplace").mkdir(parents=True, exist_ok=True)
    return {
        "MARKET_MANIFEST": str(state / "manifest.json"),
        "MARKET_DATABASE_URL": f"sqlite:///{state / 'marketplace' / 'market.sqlite'}",
        # the funded devnet relayer pays for relayed listings; cookies over plain HTTP on loopback
        "MARKET_RELAYER_KEY": dev_account("relayer").key.hex(),
        "MARKET_INSECURE_HTTP_COOKIES": "true",
        # sign-in messages name this service's own address; split models' tails run on loopback over
        # http
        "MARKET_SIWE_DOMAIN": f"127.0.0.1:{ports['marketplace']}",
        "MARKET_SIWE_URI": f"http://127.0.0.1:{ports['marketplace']}",
        "MARKET_INSECURE_ALLOW_LOOPBACK_TAIL": "true",
        # owners' audit pages reach the devnet's CA (from the manifest), whose TEE is simulated
        "MARKET_INSECURE_ALLOW_SIMULATED_CA": "true",
    }


def _market_command(state: Path, ports: dict[str, int]) -> list[str]:
    import sys

    return [
        sys.executable,
        "-m",
        "marketplace_api.main",
        "--port",
        str(ports["marketplace"]),
        "--log-level",
        "info",
    ]


def contract_services() -> list[ServiceSpec]:
    """Services that need the deployed contracts: started after the deployment."""
    return [
        ServiceSpec(
            "ca", _ca_command, lambda p: f"https://127.0.0.1:{p}", _ca_healthy, _ca_prepare
        ),
        ServiceSpec(
            "marketplace",
            _market_command,
            lambda p: f"http://127.0.0.1:{p}",
            _http_healthy,
            _market_prepare,
        ),
    ]
