"""A customer's FHE-split order: encrypt digits under CKKS, order the head's evaluation inside an
enclave, turn the result into obfuscated activations, and get the model owner's tail to predict.

Two decryption modes (``decrypt_mode``):

- ``"enclave"``: the CKKS secret key is one more order input, sealed like the others; the key
  broker releases the inputs' key to this order's attested enclave only. The enclave decrypts,
  floods, obfuscates, and returns activations (encrypted to the customer's wallet key like any
  result); the customer forwards them to the tail.
- ``"customer"``: the enclave returns the ciphertext (masked with the owner's output noise against
  weight recovery); the customer decrypts it here, floods it with fresh noise (nothing decrypted
  leaves the device unflooded), applies the model's obfuscation unless the enclave's Gaussian mask
  already covers it, and sends that to the tail.

Every check runs before :meth:`MarketClient.create_order` (:func:`check_prepared`): the split the
model declares, the input shape, the evaluation keys (present, for the layout's rotations, of this
session), and that request, keys and public context all belong to one CKKS context.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from eth_account.signers.local import LocalAccount

from enclava.chain.market import MarketClient
from enclava.client.broker_http import BrokerHttpClient
from enclava.client.errors import OrderFailedError
from enclava.client.fhe_split_listing import FheListing
from enclava.client.fhe_split_session import FheSessionStore
from enclava.client.fhe_split_tail import tail_predict
from enclava.client.orders import fetch_result, wait_for_order
from enclava.crypto import wallet_identity, wallet_recipient
from enclava.fhe import (
    ContextMismatch,
    EvaluationKeys,
    EvaluationKeysMissing,
    FheResult,
    InputShapeError,
    MalformedBundle,
    check_public_context,
    check_request,
    decrypt_result,
    layout_steps,
    prepare_request,
    split_head,
)
from enclava.fhe.serial import sha256_hex
from enclava.protocol.order import OrderStatus
from enclava.storage.content_store import IpfsContentStore

__all__ = [
    "PreparedFheOrder",
    "PlacedFheOrder",
    "FhePrediction",
    "prepare_fhe_order",
    "check_prepared",
    "place_fhe_order",
    "finish_fhe_order",
]


@dataclass(frozen=True)
class PreparedFheOrder:
    split: str
    decrypt_mode: str
    layout: str
    n_inputs: int
    request: bytes = field(repr=False)
    eval_keys: bytes = field(repr=False)
    public_context: bytes = field(repr=False)

    @property
    def request_sha256(self) -> str:
        return sha256_hex(self.request)


@dataclass(frozen=True)
class PlacedFheOrder:
    order_id: str
    escrow: int
    split: str
    decrypt_mode: str
    n_inputs: int
    request_sha256: str
    sizes: dict[str, int]
    uploaded: dict[str, bool]  # input name -> uploaded now (False: reused from the session's cache)
    timings: dict[str, float] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class FhePrediction:
    order_id: str
    labels: list[int]
    probabilities: np.ndarray = field(repr=False)
    sizes: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict, compare=False)


def prepare_fhe_order(
    session: FheSessionStore,
    listing: FheListing,
    split: str,
    images: Any,
    *,
    decrypt_mode: str = "customer",
    layout: str = "single",
) -> PreparedFheOrder:
    """Validate and encrypt: the request, this session's evaluation keys for the layout, the
    context."""
    listing.require_decrypt_mode(decrypt_mode)
    head = split_head(listing.manifest, split)
    eval_keys = session.evaluation_keys(layout_steps(head, layout))
    _, request = prepare_request(
        listing.manifest,
        split,
        images,
        session.keys,
        eval_keys,
        mode=layout,
        decrypt_mode=decrypt_mode,
    )
    prepared = PreparedFheOrder(
        split,
        decrypt_mode,
        layout,
        _count(request),
        request,
        eval_keys,
        session.keys.public_context(),
    )
    check_prepared(prepared, listing, session)
    return prepared


def _count(request: bytes) -> int:
    from enclava.fhe import FheRequest

    return FheRequest.from_bytes(request).n_inputs


def check_prepared(
    prepared: PreparedFheOrder, listing: FheListing, session: FheSessionStore
) -> None:
    """The enclave's own checks, run here: raises a typed FheError, and nothing has been paid
    yet."""
    listing.require_decrypt_mode(prepared.decrypt_mode)
    split_head(listing.manifest, prepared.split)
    if not prepared.eval_keys:
        raise EvaluationKeysMissing("the order carries no evaluation keys")
    context_sha = check_public_context(prepared.public_context)
    if context_sha != session.keys.context_sha256:
        raise ContextMismatch("the public context is not this key session's")
    req, _ = check_request(
        prepared.request, listing.manifest, context_sha, EvaluationKeys(prepared.eval_keys)
    )
    if req.decrypt_mode != prepared.decrypt_mode or req.split != prepared.split:
        raise MalformedBundle("the request's split or decrypt mode differs from the order's")


def place_fhe_order(
    market: MarketClient,
    store: IpfsContentStore,
    broker: BrokerHttpClient,
    customer: LocalAccount,
    session: FheSessionStore,
    listing: FheListing,
    prepared: PreparedFheOrder,
    *,
    tee_offer_id: int,
    max_duration: int = 600,
) -> PlacedFheOrder:
    """Check, upload (context and evaluation keys once per session), create the order, deposit the
    key."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    check_prepared(prepared, listing, session)
    timings["check"] = time.perf_counter() - start
    start = time.perf_counter()
    blobs = {
        "request": prepared.request,
        "public_context": prepared.public_context,
        "eval_keys": prepared.eval_keys,
    }
    if prepared.decrypt_mode == "enclave":
        blobs["secret_key"] = session.keys.export_secret_for_enclave()
    inputs, uploaded = [], {}
    for name, data in blobs.items():  # the engine's declared order of customer inputs
        if name == "request":
            upload, fresh = session.upload(store, data), True
        else:
            upload, fresh = session.upload_once(store, data)
        inputs.append(upload.as_input())
        uploaded[name] = fresh
    timings["upload"] = time.perf_counter() - start
    start = time.perf_counter()
    escrow = market.quote(listing.engine_id, listing.resource_ids, tee_offer_id, max_duration)
    order_id, _tx = market.create_order(
        customer,
        engine_id=listing.engine_id,
        resource_ids=listing.resource_ids,
        tee_offer_id=tee_offer_id,
        inputs=inputs,
        recipient_key=wallet_recipient(customer).encode(),
        max_duration=max_duration,
        value=escrow,
    )
    broker.deposit_order_inputs(customer, order_id, session.transport_key)
    timings["order_tx"] = time.perf_counter() - start
    sizes = {name: len(data) for name, data in blobs.items() if name != "secret_key"}
    return PlacedFheOrder(
        order_id,
        escrow,
        prepared.split,
        prepared.decrypt_mode,
        prepared.n_inputs,
        prepared.request_sha256,
        sizes,
        uploaded,
        timings,
    )


def finish_fhe_order(
    market: MarketClient,
    store: IpfsContentStore,
    customer: LocalAccount,
    session: FheSessionStore,
    listing: FheListing,
    placed: PlacedFheOrder,
    tail_url: str,
    *,
    timeout: float = 600.0,
    rng: np.random.Generator | None = None,
) -> FhePrediction:
    """Wait, fetch the checked result, turn it into obfuscated activations, and ask the tail."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    order = wait_for_order(market, placed.order_id, timeout=timeout)
    if order.status != OrderStatus.COMPLETED:
        raise OrderFailedError(f"FHE order {placed.order_id} ended {order.status.name}")
    timings["wait"] = time.perf_counter() - start
    start = time.perf_counter()
    files = fetch_result(market, store, placed.order_id, wallet_identity(customer))
    payload = files.get("head_output.bin", b"")
    summary = json.loads(files.get("summary.json", b"{}") or b"{}")
    timings["fetch"] = time.perf_counter() - start
    start = time.perf_counter()
    if summary.get("request_sha256") != placed.request_sha256:
        raise InputShapeError("the enclave's result names another request than this order's")
    rows = int(split_head(listing.manifest, placed.split)["output_dim"])
    if placed.decrypt_mode == "enclave":
        acts = np.load(io.BytesIO(payload), allow_pickle=False).astype(np.float64)
    else:
        result = FheResult.from_bytes(payload)
        if result.request_sha256 != placed.request_sha256:
            raise InputShapeError("the encrypted result answers another request than this order's")
        rng = rng or np.random.default_rng()
        flooded = decrypt_result(result, session.keys, rng=rng)
        obfuscation, rms = listing.obfuscation(placed.split)
        entry = listing.split(placed.split)
        masked = float(entry.get("output_noise_sigma", 0.0)) >= float(
            entry.get("obfuscation_sigma", 0.0)
        )
        # the enclave's mask is already Gaussian noise at (at least) the obfuscation's level, fresh
        # per query: adding the obfuscation again would only double the accuracy cost
        acts = (
            flooded
            if obfuscation.kind == "gaussian" and masked
            else obfuscation.apply(flooded, rms, rng)
        )
    if acts.shape != (placed.n_inputs, rows):
        raise InputShapeError(
            f"the result holds activations {list(acts.shape)}, expected [{placed.n_inputs}, {rows}]"
        )
    timings["decrypt_obfuscate"] = time.perf_counter() - start
    start = time.perf_counter()
    labels, probs = tail_predict(tail_url, acts)
    timings["tail"] = time.perf_counter() - start
    sizes = {"result": len(payload), "activations": int(acts.size * 8)}
    return FhePrediction(placed.order_id, labels, probs, sizes, timings)
