"""Which network and which wallet a command uses, and the clients built from them.

The network is a devnet manifest: ``--manifest PATH`` (or ``ENCLAVA_MANIFEST``) wins, else the
devnet named by ``--devnet`` (or ``ENCLAVA_DEVNET``, default ``default``). The wallet is
``--wallet NAME`` (or ``ENCLAVA_WALLET``, default ``default``); its password comes from
``ENCLAVA_WALLET_PASSWORD`` or a hidden prompt.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from enclava.cli.errors import ResourceNotFound
from enclava.errors import ConfigError

# The clients below import web3, eth-account, httpx and numpy (~1 s together): every command
# module imports this one, so they are imported where a command first uses them, never for
# `--help` (issue 15; tests/cli/test_cli_startup.py).
if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from enclava.chain.config import Manifest
    from enclava.chain.market import MarketClient
    from enclava.client.broker_http import BrokerHttpClient
    from enclava.client.market_api import MarketApiClient
    from enclava.storage.content_store import IpfsContentStore

__all__ = [
    "DevnetOption",
    "ManifestOption",
    "WalletOption",
    "CliContext",
    "network",
    "wallet_password",
    "unlock_wallet",
    "PASSWORD_ENV",
    "eth",
    "read_resource",
]

PASSWORD_ENV = "ENCLAVA_WALLET_PASSWORD"
#: ``enclava.chain.config.DEFAULT_DEVNET`` and ``enclava.wallet.DEFAULT_WALLET``, spelled here so
#: the options need neither import (a test keeps them equal)
DEFAULT_DEVNET = "default"
DEFAULT_WALLET = "default"

DevnetOption = typer.Option(
    DEFAULT_DEVNET,
    "--devnet",
    envvar="ENCLAVA_DEVNET",
    show_default=True,
    help="Devnet whose manifest names the chain and the services.",
)
ManifestOption = typer.Option(
    None,
    "--manifest",
    envvar="ENCLAVA_MANIFEST",
    dir_okay=False,
    help="Path of a manifest.json to use instead of a devnet's.",
)
WalletOption = typer.Option(
    DEFAULT_WALLET,
    "--wallet",
    "-w",
    envvar="ENCLAVA_WALLET",
    show_default=True,
    help="Name of your wallet (see `enclava wallet show`).",
)


@dataclass
class CliContext:
    """The clients of one network, built on first use."""

    manifest: Manifest
    _closers: list[Any] = field(default_factory=list[Any], repr=False)

    def service_url(self, name: str) -> str:
        record = self.manifest.services.get(name)
        if record is None:
            raise ConfigError(
                f"the manifest of {self.manifest.name!r} names no {name!r} service",
                hint="Start the devnet with `enclava devnet up` (it starts every service).",
            )
        return record.url

    @cached_property
    def market(self) -> MarketClient:
        from enclava.chain.market import MarketClient

        return MarketClient.from_manifest(self.manifest)

    @cached_property
    def store(self) -> IpfsContentStore:
        from enclava.storage.content_store import IpfsContentStore

        store = IpfsContentStore.from_manifest(self.manifest)
        self._closers.append(store.close)
        return store

    @cached_property
    def broker(self) -> BrokerHttpClient:
        from enclava.client.broker_http import BrokerHttpClient

        self.service_url("ca")  # a manifest without a CA is a ConfigError with its hint
        broker = BrokerHttpClient.from_manifest(self.manifest)
        self._closers.append(broker.close)
        return broker

    @cached_property
    def api(self) -> MarketApiClient:
        from enclava.client.market_api import MarketApiClient

        api = MarketApiClient(self.service_url("marketplace"))
        self._closers.append(api.close)
        return api

    @property
    def chain_id(self) -> int:
        return int(self.manifest.chain_id)

    @property
    def resource_registry(self) -> str:
        return self.manifest.contracts["ResourceRegistry"]

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()


def network(devnet: str = DEFAULT_DEVNET, manifest: Path | None = None) -> CliContext:
    """The network a command talks to (see the module docstring for the order of precedence)."""
    from enclava.chain.config import load_manifest, read_manifest

    loaded = read_manifest(Path(manifest)) if manifest else load_manifest(devnet or DEFAULT_DEVNET)
    return CliContext(loaded)


def wallet_password(*, confirm: bool = False, prompt: str = "Wallet password") -> str:
    """``ENCLAVA_WALLET_PASSWORD`` or a hidden prompt (typed twice when ``confirm``)."""
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env is not None:
        return from_env
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


def unlock_wallet(name: str) -> LocalAccount:
    """The named wallet's account, asking for its password."""
    from enclava.wallet import unlock, wallet_info

    wallet_info(name)  # a missing wallet is reported before a password is asked for
    return unlock(name, wallet_password(prompt=f"Password of wallet {name!r}"))


def eth(wei: int) -> str:
    """An amount for people: ETH with 6 decimals, and the exact wei."""
    return f"{int(wei) / 10**18:.6f} ETH ({int(wei)} wei)"


def read_resource(market: MarketClient, resource_id: int) -> dict[str, Any]:
    """``market.resource`` with an unknown id (the registry reverts) as a typed error."""
    from web3.exceptions import Web3Exception

    try:
        return market.resource(resource_id)
    except (Web3Exception, ValueError) as exc:
        raise ResourceNotFound(f"no resource {resource_id} on this chain") from exc
