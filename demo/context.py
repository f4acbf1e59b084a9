"""Everything the story's parties talk to on one devnet: chain, IPFS, key broker, marketplace API
and the provider started beside the devnet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import engines
from enclava.chain.market import MarketClient
from enclava.client import BrokerHttpClient
from enclava.client.market_api import MarketApiClient
from enclava.devnet import Manifest
from enclava.devnet.provider import ProviderHandle
from enclava.storage.content_store import IpfsContentStore

__all__ = ["DemoContext", "ENGINES", "open_policy"]

#: The engine folders shipped with the repository (engines/).
ENGINES = Path(engines.__file__).resolve().parent


@dataclass
class DemoContext:
    manifest: Manifest
    provider: ProviderHandle
    market: MarketClient
    store: IpfsContentStore
    broker: BrokerHttpClient

    @classmethod
    def build(cls, manifest: Manifest, provider: ProviderHandle) -> "DemoContext":
        return cls(
            manifest,
            provider,
            MarketClient.from_manifest(manifest),
            IpfsContentStore.from_manifest(manifest),
            BrokerHttpClient.from_manifest(manifest),
        )

    @property
    def market_url(self) -> str:
        return self.manifest.services["marketplace"].url

    def market_api(self) -> MarketApiClient:
        """A fresh API session (one per wallet: each signs in with its own key)."""
        return MarketApiClient(self.market_url)

    def report_page(self, order_id: str) -> str:
        return f"{self.market_url}/reports/{order_id}"


def open_policy(engine_hash: str) -> dict[str, Any]:
    """Keys for the given engine only, any paying customer; simulated TEEs allowed (devnet only)."""
    return {
        "allowed_engine_hashes": [engine_hash],
        "allowed_customers": "any",
        "insecure_allow_simulated_tee": True,
    }
