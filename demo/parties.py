"""The devnet's dev wallets as parties that publish and order directly on chain (no marketplace
API): the multi-party benchmark plays them, and so do the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from demo.context import ENGINES, open_policy
from demo.story import ENGINE_PRICE
from enclava.chain.market import MarketClient
from enclava.chain.types import ResourceKind
from enclava.client import (
    BrokerHttpClient,
    PlacedOrder,
    PublishedResource,
    place_order,
    publish_engine,
    publish_resource,
)
from enclava.crypto import wallet_recipient
from enclava.devnet import Manifest, dev_account
from enclava.storage.content_store import IpfsContentStore

__all__ = [
    "Parties",
    "parties",
    "publish_engine_at",
    "publish_engine_folder",
    "publish_blob",
    "order_as_customer",
]


@dataclass
class Parties:
    market: MarketClient
    store: IpfsContentStore
    broker: BrokerHttpClient


def parties(manifest: Manifest) -> Parties:
    return Parties(
        MarketClient.from_manifest(manifest),
        IpfsContentStore.from_manifest(manifest),
        BrokerHttpClient.from_manifest(manifest),
    )


def publish_engine_at(
    p: Parties, owner_role: str, folder: Path, price: int = ENGINE_PRICE
) -> PublishedResource:
    """Publish the engine in ``folder``; its key policy allows that engine, any customer, simulated
    TEEs."""
    return publish_engine(
        p.market,
        p.store,
        p.broker,
        dev_account(owner_role),
        folder,
        price=price,
        policy=lambda own_hash: open_policy(own_hash),
    )


def publish_engine_folder(p: Parties, owner_role: str, name: str) -> PublishedResource:
    return publish_engine_at(p, owner_role, ENGINES / name)


def order_as_customer(
    p: Parties,
    tee_offer_id: int,
    engine_id: int,
    resource_ids: Iterable[int] = (),
    inputs: Iterable[bytes] = (b"customer data",),
    max_duration: int = 300,
) -> PlacedOrder:
    """Dev customer's order for the engine, its resources and its own inputs, results to its wallet
    key."""
    customer = dev_account("customer")
    return place_order(
        p.market,
        p.store,
        p.broker,
        customer,
        engine_id=engine_id,
        resource_ids=list(resource_ids),
        tee_offer_id=tee_offer_id,
        inputs=list(inputs),
        recipient=wallet_recipient(customer),
        max_duration=max_duration,
    )


def publish_blob(
    p: Parties, owner_role: str, kind: ResourceKind, data: bytes, price: int, policy: Any
) -> PublishedResource:
    return publish_resource(
        p.market,
        p.store,
        p.broker,
        dev_account(owner_role),
        kind=kind,
        plaintext=data,
        price=price,
        policy=policy,
    )
