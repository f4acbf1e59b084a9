"""The marketplace's chain connection: a ChainClient and the contracts, from its chain settings."""

from __future__ import annotations

from dataclasses import dataclass

from enclava.chain.contracts import ContractSet
from enclava.chain.rpc import ChainClient
from marketplace_api.settings import MarketSettings

__all__ = ["MarketChain", "connect"]


@dataclass
class MarketChain:
    client: ChainClient
    contracts: ContractSet
    start_block: int


def connect(settings: MarketSettings) -> MarketChain:
    """The chain ``settings`` name (``MARKET_MANIFEST``, or ``MARKET_RPC_URL`` and
    ``MARKET_ADDRESSES``), read through :func:`enclava.chain.config.load_chain_config`."""
    config = settings.chain_config()
    client, contracts = config.connect()
    return MarketChain(client, contracts, settings.start_block or config.deploy_block)
