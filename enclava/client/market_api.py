"""The marketplace API from a wallet's side: sign in with Ethereum, list a resource, read the index.

Listing is relayed: the API prepares the EIP-712 ``ListResource`` message, the wallet signs it here,
and the API's relayer submits it on chain and stores the metadata. The prepared message is checked
field by field against what the caller asked for (owner, listing, deadline, chain id and registry)
before it is signed, so a dishonest API cannot get the wallet to sign another listing.

Errors: transport failures leave as :class:`MarketApiUnavailable`; the API's answers in its error
shape (``{"type", "detail", "hint"}``) as :class:`MarketApiRefused` with ``remote_type`` set.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from eth_account.messages import encode_defunct, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address

from enclava.chain.types import ResourceKind
from enclava.client.broker_http import BrokerHttpClient
from enclava.client.errors import ListingMismatch, MarketApiRefused, MarketApiUnavailable
from enclava.client.publish import PublishedResource
from enclava.crypto.envelope import new_resource_key, seal
from enclava.protocol.eip712 import message_types
from enclava.protocol.tee import TEE_CHAIN_NAMES
from enclava.service_http import refusal, send
from enclava.storage.content_store import IpfsContentStore

__all__ = [
    "MarketApiClient",
    "ListingResult",
    "ListedResource",
    "listing_metadata",
    "publish_listed",
]


@dataclass(frozen=True)
class ListingResult:
    resource_id: int
    tx_hash: str
    block_number: int


def listing_metadata(
    name: str,
    *,
    price_wei: int,
    engine_hash: str,
    task: str = "inference",
    description: str = "",
    license: str = "proprietary",
    input_schema: dict[str, Any] | None = None,
    tee_types: tuple[str, ...] = TEE_CHAIN_NAMES,
    **extra: Any,
) -> dict[str, Any]:
    """The metadata body the API validates (``ListingMetadataIn``), with sensible defaults;
    ``extra`` carries optional fields the API knows (e.g. ``tail_url``, ``engine_resource_id``).
    ``input_schema`` is left out when the engine declares none (no made-up ``{"type": ...}``)."""
    body: dict[str, Any] = {
        "name": name,
        "description": description,
        "task": task,
        "price_wei": int(price_wei),
        "license": license,
        "engine_hash": engine_hash,
        "tee_requirements": {"tee_types": list(tee_types)},
        **extra,
    }
    if input_schema is not None:
        body["input_schema"] = input_schema
    return body


class MarketApiClient:
    """One wallet's session with a marketplace API (``base_url`` such as
    ``http://127.0.0.1:8400``)."""

    def __init__(
        self, base_url: str, *, timeout: float = 60.0, http: httpx.Client | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = http or httpx.Client(base_url=self.base_url, timeout=timeout)
        self.token: str | None = None
        self.address: str | None = None

    # ------------------------------------------------------------------ transport

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """The service's JSON answer (an object), or its refusal as :class:`MarketApiRefused`."""
        headers = dict(kwargs.pop("headers", None) or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        reply = send(self._http, method, path, MarketApiUnavailable, headers=headers, **kwargs)
        if reply.status_code >= 400:
            raise refusal(reply, MarketApiRefused, path)
        body: dict[str, Any] = reply.json()
        return body

    # ------------------------------------------------------------------ sign-in

    def sign_in(self, account: LocalAccount) -> str:
        """Sign-in with Ethereum (EIP-4361): fetch a nonce and message, sign it, open a session."""
        address = to_checksum_address(account.address)
        nonce = self._call("GET", "/v1/auth/nonce", params={"address": address})
        message = nonce.get("message", "")
        if address not in message or nonce["nonce"] not in message:
            raise MarketApiRefused(
                "the sign-in message does not name this wallet and nonce",
                hint="The marketplace answered an unexpected message; check its URL.",
            )
        signature = "0x" + bytes(account.sign_message(encode_defunct(text=message)).signature).hex()
        verified = self._call(
            "POST", "/v1/auth/verify", json={"message": message, "signature": signature}
        )
        self.token, self.address = verified["token"], to_checksum_address(verified["address"])
        return self.token

    def session(self) -> dict[str, Any]:
        body: dict[str, Any] = self._call("GET", "/v1/auth/session")
        return body

    # ------------------------------------------------------------------ listings

    def list_resource(
        self,
        account: LocalAccount,
        *,
        kind: int,
        cid: str,
        content_hash: bytes,
        price_wei: int,
        metadata: dict[str, Any],
        metadata_cid: str = "",
        chain_id: int | None = None,
        registry: str | None = None,
        valid_for_s: int = 3600,
    ) -> ListingResult:
        """Prepare, check, sign and relay a listing; signs in first when no session is open.

        ``chain_id`` and ``registry`` (the ResourceRegistry address), when given, must match the
        prepared message's domain; the CLI passes the manifest's values.
        """
        if self.token is None or self.address != to_checksum_address(account.address):
            self.sign_in(account)
        listing = {
            "kind": int(kind),
            "cid": cid,
            "content_hash": "0x" + bytes(content_hash).hex(),
            "price_wei": int(price_wei),
            "metadata_cid": metadata_cid,
        }
        deadline = int(time.time()) + int(valid_for_s)
        prepared = self._call(
            "POST",
            "/v1/listings/prepare",
            json={"owner": account.address, "listing": listing, "deadline": deadline},
        )
        typed = prepared["typed_data"]
        _check_prepared(typed, account.address, listing, deadline, chain_id, registry)
        message = dict(typed["message"])
        message["contentHash"] = bytes(content_hash)
        try:
            signed = account.sign_message(
                encode_typed_data(full_message={**typed, "message": message})
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise ListingMismatch(f"the prepared listing cannot be signed: {exc}") from exc
        body = {
            "owner": account.address,
            "listing": listing,
            "deadline": deadline,
            "signature": "0x" + bytes(signed.signature).hex(),
            "metadata": metadata,
        }
        made = self._call("POST", "/v1/listings", json=body)
        return ListingResult(int(made["resource_id"]), made["tx_hash"], int(made["block_number"]))

    # ------------------------------------------------------------------ reads

    def listing(self, resource_id: int) -> dict[str, Any]:
        return self._call("GET", f"/v1/listings/{int(resource_id)}")

    def catalogue(
        self,
        *,
        q: str = "",
        kind: str | None = None,
        page: int = 1,
        per_page: int = 20,
        **filters: Any,
    ) -> dict[str, Any]:
        params = {"q": q, "page": page, "per_page": per_page, **filters}
        if kind:
            params["kind"] = kind
        return self._call(
            "GET", "/v1/catalogue", params={k: v for k, v in params.items() if v is not None}
        )

    def tee_offers(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._call("GET", "/v1/tee-offers")["items"]
        return items

    def order(self, order_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/orders/{order_id}")

    def orders_of(self, address: str, *, role: str = "any") -> dict[str, Any]:
        return self._call(
            "GET", f"/v1/wallets/{to_checksum_address(address)}/orders", params={"role": role}
        )

    def report(self, order_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/reports/{order_id}")

    def wait_for_listing(
        self, resource_id: int, *, timeout: float = 60.0, poll: float = 0.5
    ) -> dict[str, Any]:
        """The listing once the API's indexer has picked it up (raises the last refusal on
        timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.listing(resource_id)
            except MarketApiRefused as exc:
                if exc.remote_type != "not_found" or time.monotonic() >= deadline:
                    raise
            time.sleep(poll)

    def close(self) -> None:
        self._http.close()


@dataclass(frozen=True)
class ListedResource:
    """A resource published through the marketplace API: what is on chain and how it got there."""

    resource: PublishedResource
    listing: ListingResult


def publish_listed(
    api: MarketApiClient,
    store: IpfsContentStore,
    broker: BrokerHttpClient,
    owner: LocalAccount,
    *,
    kind: ResourceKind,
    plaintext: bytes,
    price: int,
    policy: Any,
    metadata: Any = None,
    name: str = "",
    chain_id: int | None = None,
    registry: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ListedResource:
    """Encrypt under a fresh key, upload (``progress(nbytes)`` per chunk, and
    ``progress.set_total(n)`` first if it has one), list through the API with its metadata, and
    deposit the key with the broker under ``policy``.

    ``policy`` may be a callable taking the ciphertext's SHA-256 hex, as in ``publish_resource``.
    ``metadata`` may likewise be such a callable (an engine's metadata names its own hash); it
    defaults to :func:`listing_metadata` with ``name`` and the ciphertext's hash.
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    key = new_resource_key()
    ciphertext = seal(plaintext, key)
    digest = hashlib.sha256(ciphertext).digest()
    if progress is not None and hasattr(progress, "set_total"):
        progress.set_total(len(ciphertext))
    stored = store.add(ciphertext, progress=progress)
    timings["encrypt_upload"] = time.perf_counter() - start
    start = time.perf_counter()
    if callable(metadata):
        metadata = metadata("0x" + digest.hex())
    meta = metadata or listing_metadata(
        name or f"resource {stored.cid[:16]}", price_wei=price, engine_hash="0x" + digest.hex()
    )
    listed = api.list_resource(
        owner,
        kind=int(kind),
        cid=stored.cid,
        content_hash=digest,
        price_wei=price,
        metadata=meta,
        chain_id=chain_id,
        registry=registry,
    )
    timings["list_relay"] = time.perf_counter() - start
    start = time.perf_counter()
    resolved = policy("0x" + digest.hex()) if callable(policy) else policy
    broker.deposit(owner, listed.resource_id, key, resolved)
    timings["key_deposit"] = time.perf_counter() - start
    resource = PublishedResource(
        resource_id=listed.resource_id,
        kind=ResourceKind(int(kind)),
        cid=stored.cid,
        content_hash=digest,
        size=len(ciphertext),
        key=key,
        timings=timings,
    )
    return ListedResource(resource, listed)


def _check_prepared(
    typed: dict[str, Any],
    owner: str,
    listing: dict[str, Any],
    deadline: int,
    chain_id: int | None,
    registry: str | None,
) -> None:
    """Refuse to sign a prepared message that differs from the listing asked for."""
    msg, domain = typed.get("message", {}), typed.get("domain", {})
    expected = {
        "owner": to_checksum_address(owner),
        "kind": listing["kind"],
        "cid": listing["cid"],
        "contentHash": listing["content_hash"],
        "price": listing["price_wei"],
        "metadataCid": listing["metadata_cid"],
        "deadline": deadline,
    }
    got = {k: msg.get(k) for k in expected}
    if isinstance(got["contentHash"], str):
        got["contentHash"] = got["contentHash"].lower()
    if isinstance(got["owner"], str):
        got["owner"] = to_checksum_address(got["owner"])
    wrong = [k for k, v in expected.items() if got[k] != v]
    if chain_id is not None and int(domain.get("chainId", -1)) != int(chain_id):
        wrong.append("domain.chainId")
    if registry is not None and to_checksum_address(
        domain.get("verifyingContract", "0x" + "0" * 40)
    ) != to_checksum_address(registry):
        wrong.append("domain.verifyingContract")
    if typed.get("primaryType") != "ListResource":
        wrong.append("primaryType")
    if typed.get("types") != message_types("ListResource"):  # the types ResourceRegistry hashes
        wrong.append("types")
    if wrong:
        raise ListingMismatch(
            f"the marketplace prepared a listing that differs in {', '.join(wrong)}; not signed"
        )
