"""The parties of an end-to-end order on the devnet, as small functions over enclava.client."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from enclava.chain.market import MarketClient
from enclava.chain.types import ResourceKind
from enclava.client import (
    BrokerHttpClient,
    PublishedResource,
    place_order,
    publish_engine,
    publish_resource,
)
from enclava.crypto import wallet_recipient
from enclava.devnet import dev_account
from enclava.storage.content_store import IpfsContentStore

ENGINES = Path(__file__).resolve().parents[2] / "engines"
ENGINE_PRICE = 3 * 10**15
MODEL_PRICE = 5 * 10**15
DATA_PRICE = 2 * 10**15


@dataclass
class Parties:
    market: MarketClient
    store: IpfsContentStore
    broker: BrokerHttpClient


def parties(manifest) -> Parties:
    return Parties(
        MarketClient.from_manifest(manifest),
        IpfsContentStore.from_manifest(manifest),
        BrokerHttpClient.from_manifest(manifest),
    )


def open_policy(engine_hash: str | None = None, **extra) -> dict:
    """Any paying customer, the given engine (or any), simulated TEEs allowed (devnet)."""
    return {
        "allowed_engine_hashes": [engine_hash] if engine_hash else "any",
        "allowed_customers": "any",
        "insecure_allow_simulated_tee": True,
        **extra,
    }


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
    resource_ids=(),
    inputs=(b"customer data",),
    max_duration: int = 300,
):
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
    p: Parties, owner_role: str, kind: ResourceKind, data: bytes, price: int, policy
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


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npz_arrays(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        return {name: arrays[name] for name in arrays.files}


def json_of(data: bytes) -> dict:
    return json.loads(data.decode())
