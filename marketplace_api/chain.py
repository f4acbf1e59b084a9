"""The marketplace's chain connection: a ChainClient and the contracts, from a manifest or settings."""

from __future__ import annotations

import json
from dataclasses import dataclass

from enclava.chain import ChainClient
from enclava.chain.contracts import ContractSet
from enclava.devnet.manifest import read_manifest
from enclava.errors import ConfigError
from marketplace_api.settings import MarketSettings

__all__ = ["MarketChain", "connect"]


@dataclass
class MarketChain:
    client: ChainClient
    contracts: ContractSet
    start_block: int


def connect(settings: MarketSettings) -> MarketChain:
    if settings.manifest:
        manifest = read_manifest(settings.manifest)
        rpc_url, addresses = manifest.rpc_url, manifest.contracts
        start = settings.start_block or int(manifest.deploy_block or 0)
    elif settings.rpc_url and settings.contracts_json:
        try:
            addresses = json.loads(settings.contracts_json)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                "MARKET_CONTRACTS_JSON is not JSON",
                hint='Use {"Marketplace": "0x..", "OfferRegistry": "0x..", ...}.',
            ) from exc
        rpc_url, start = settings.rpc_url, settings.start_block
    else:
        raise ConfigError(
            "the marketplace API has no chain configured",
            hint="Set MARKET_MANIFEST (a devnet manifest) or MARKET_RPC_URL and MARKET_CONTRACTS_JSON.",
        )
    client = ChainClient(rpc_url)
    return MarketChain(client, ContractSet(client.w3, addresses), start)
