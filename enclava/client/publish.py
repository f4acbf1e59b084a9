"""Publishing a resource: encrypt it under a fresh key, upload the ciphertext, list it on chain,
and deposit the key with the broker under the owner's policy — the one path every owner takes
(model owners with engines and weights, data owners with datasets)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from enclava.chain.market import MarketClient
from enclava.chain.types import ResourceKind
from enclava.client.broker_http import BrokerHttpClient
from enclava.crypto.envelope import new_resource_key, seal
from enclava.protocol.engine import canonical_archive, pack_model_folder
from enclava.storage.content_store import IpfsContentStore

__all__ = ["PublishedResource", "publish_resource", "publish_engine", "publish_model_folder"]


@dataclass(frozen=True)
class PublishedResource:
    resource_id: int
    kind: ResourceKind
    cid: str
    content_hash: bytes  # SHA-256 of the ciphertext: the value on chain
    size: int
    key: bytes = field(repr=False)  # the resource key; the owner keeps it, the broker holds a copy
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def engine_hash_hex(self) -> str:
        return "0x" + self.content_hash.hex()


def publish_resource(
    market: MarketClient,
    store: IpfsContentStore,
    broker: BrokerHttpClient,
    owner: LocalAccount,
    *,
    kind: ResourceKind,
    plaintext: bytes,
    price: int,
    policy: Any,
    metadata_cid: str = "",
) -> PublishedResource:
    """Encrypt, upload, list and deposit; ``policy`` is a KeyPolicy or its dict, given the hash via
    a callable.

    ``policy`` may be a callable taking the ciphertext's SHA-256 hex (``0x...``) and returning the
    policy, for engines whose policy names their own hash.
    """
    import time

    timings: dict[str, float] = {}
    start = time.perf_counter()
    key = new_resource_key()
    ciphertext = seal(plaintext, key)
    digest = hashlib.sha256(ciphertext).digest()
    stored = store.add(ciphertext)
    timings["encrypt_upload"] = time.perf_counter() - start
    start = time.perf_counter()
    resource_id = market.list_resource(
        owner,
        kind=kind,
        cid=stored.cid,
        content_hash=digest,
        price=price,
        metadata_cid=metadata_cid,
    )
    timings["list_tx"] = time.perf_counter() - start
    start = time.perf_counter()
    resolved = policy("0x" + digest.hex()) if callable(policy) else policy
    broker.deposit(owner, resource_id, key, resolved)
    timings["key_deposit"] = time.perf_counter() - start
    return PublishedResource(
        resource_id=resource_id,
        kind=kind,
        cid=stored.cid,
        content_hash=digest,
        size=len(ciphertext),
        key=key,
        timings=timings,
    )


def publish_engine(
    market: MarketClient,
    store: IpfsContentStore,
    broker: BrokerHttpClient,
    owner: LocalAccount,
    folder: Path,
    *,
    price: int,
    policy: Any,
    metadata_cid: str = "",
) -> PublishedResource:
    """Publish an engine folder as its canonical archive (the same bytes on every machine)."""
    return publish_resource(
        market,
        store,
        broker,
        owner,
        kind=ResourceKind.ENGINE,
        plaintext=canonical_archive(folder),
        price=price,
        policy=policy,
        metadata_cid=metadata_cid,
    )


def publish_model_folder(
    market: MarketClient,
    store: IpfsContentStore,
    broker: BrokerHttpClient,
    owner: LocalAccount,
    folder: Path,
    *,
    price: int,
    policy: Any,
    metadata_cid: str = "",
) -> PublishedResource:
    """Publish a Hugging Face model folder (checked, then its canonical archive) as a MODEL
    resource: what a service enclave serves (see docs/SERVING.md)."""
    return publish_resource(
        market,
        store,
        broker,
        owner,
        kind=ResourceKind.MODEL,
        plaintext=pack_model_folder(folder),
        price=price,
        policy=policy,
        metadata_cid=metadata_cid,
    )
