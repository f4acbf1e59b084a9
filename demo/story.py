"""The demo's story, one function per scene, each with its own dev wallet:

1. the model owner publishes the digits classifier (engine + weights) through the marketplace API;
2. a customer orders inference on their own digit images and decrypts the predictions;
3. two hospitals train the breast-cancer model together on their private shares.

Every scene records its transactions, CIDs and times in :class:`DemoFacts` and adds named checks
(predictions equal a plain local run, the weights equal plain pooled training, reports verify).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from demo.context import ENGINES, DemoContext, open_policy
from demo.facts import DemoFacts, OrderFacts, tx_fact
from demo.orders import run_order
from demo.plain import plain_run
from enclava.chain.types import ResourceKind
from enclava.client import PublishedResource
from enclava.client.market_api import listing_metadata, publish_listed
from enclava.devnet import dev_account
from enclava.protocol.engine import canonical_archive

__all__ = [
    "DigitsListing",
    "publish_engine_listed",
    "publish_digits",
    "customer_images",
    "order_digits",
    "train_together",
    "npy_bytes",
    "npz_arrays",
    "ENGINE_PRICE",
    "MODEL_PRICE",
    "DATA_PRICE",
    "HOSPITALS",
]

ENGINE_PRICE = 3 * 10**15
MODEL_PRICE = 5 * 10**15
DATA_PRICE = 2 * 10**15
HOSPITALS = ("hospital_a", "hospital_b")


@dataclass(frozen=True)
class DigitsListing:
    engine: PublishedResource
    model: PublishedResource
    weights: dict[str, np.ndarray]
    weights_npz: bytes


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npz_arrays(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        return {name: arrays[name] for name in arrays.files}


def _publish(
    ctx: DemoContext,
    facts: DemoFacts,
    role: str,
    label: str,
    *,
    kind: ResourceKind,
    plaintext: bytes,
    price: int,
    policy: Any,
    metadata: dict[str, Any] | None = None,
) -> PublishedResource:
    """Encrypt, upload, list through the marketplace API (signed in as ``role``), deposit the
    key."""
    api = ctx.market_api()
    try:
        listed = publish_listed(
            api,
            ctx.store,
            ctx.broker,
            dev_account(role),
            kind=kind,
            plaintext=plaintext,
            price=price,
            policy=policy,
            metadata=metadata,
            name=label,
            chain_id=ctx.manifest.chain_id,
            registry=ctx.manifest.contracts["ResourceRegistry"],
        )
        api.wait_for_listing(listed.resource.resource_id)
    finally:
        api.close()
    facts.txs.append(
        tx_fact(ctx.market, f"listResource: {label} (relayed for {role})", listed.listing.tx_hash)
    )
    facts.cids[label] = listed.resource.cid
    return listed.resource


def publish_engine_listed(
    ctx: DemoContext, facts: DemoFacts, role: str, folder: str, label: str
) -> PublishedResource:
    """An engine folder as its canonical archive; its key is released for that very engine only."""
    return _publish(
        ctx,
        facts,
        role,
        label,
        kind=ResourceKind.ENGINE,
        plaintext=canonical_archive(ENGINES / folder),
        price=ENGINE_PRICE,
        policy=lambda own_hash: open_policy(own_hash),
    )


def publish_digits(ctx: DemoContext, facts: DemoFacts) -> DigitsListing:
    """Scene 1: the model owner trains reference weights and publishes engine and weights."""
    from engines.digits_classifier.weights import train_reference_weights, weights_to_npz

    with facts.stage("model owner: train reference weights"):
        weights = train_reference_weights(seed=0)
        weights_npz = weights_to_npz(weights)
    with facts.stage("model owner: publish engine + weights (API)"):
        engine = publish_engine_listed(
            ctx, facts, "model_owner", "digits_classifier", "digits engine"
        )
        meta = listing_metadata(
            "Handwritten digits classifier",
            price_wei=MODEL_PRICE,
            engine_hash=engine.engine_hash_hex,
            task="image-classification",
            description="8x8 grayscale digits (0-16) to a class 0-9 with probabilities.",
            input_schema={"type": "array", "description": "npy float32 [N, 8, 8]"},
        )
        model = _publish(
            ctx,
            facts,
            "model_owner",
            "digits weights",
            kind=ResourceKind.MODEL,
            plaintext=weights_npz,
            price=MODEL_PRICE,
            policy=open_policy(engine.engine_hash_hex),
            metadata=meta,
        )
    return DigitsListing(engine, model, weights, weights_npz)


def customer_images(count: int = 16, offset: int = 0) -> tuple[np.ndarray, list[int]]:
    """The customer's own images: held-out digits the model never saw, with their true labels."""
    from engines.digits_classifier.weights import digits_split

    _, _, images, labels = digits_split()
    batch = images[offset : offset + count].reshape(-1, 8, 8).astype(np.float32)
    return batch, [int(v) for v in labels[offset : offset + count]]


def order_digits(
    ctx: DemoContext, facts: DemoFacts, listing: DigitsListing, *, count: int = 16
) -> OrderFacts:
    """Scene 2: the customer orders inference on their images and reads the decrypted
    predictions."""
    images, labels = customer_images(count)
    with facts.stage("customer: digits order, end to end"):
        order, files = run_order(
            ctx,
            dev_account("customer"),
            title="digits inference (customer)",
            engine_id=listing.engine.resource_id,
            resource_ids=[listing.model.resource_id],
            inputs=[npy_bytes(images)],
        )
    got = json.loads(files["predictions.json"])
    with facts.stage("plain local run of the same engine"):
        seconds, plain = plain_run(
            "digits_classifier", {"weights": [listing.weights_npz], "images": [npy_bytes(images)]}
        )
    expected = json.loads(plain["predictions.json"])
    correct = sum(p == t for p, t in zip(got["predictions"], labels))
    order.outcome = {
        "predictions": got["predictions"],
        "true labels": labels,
        "accuracy": f"{correct}/{len(labels)}",
        "plain run (s)": round(seconds, 2),
    }
    facts.check(
        "digits: predictions equal a plain local run of the engine",
        got == expected,
        f"{len(got['predictions'])} predictions, {correct}/{len(labels)} correct",
    )
    _record(facts, order)
    return order


def train_together(ctx: DemoContext, facts: DemoFacts) -> OrderFacts:
    """Scene 3: two hospitals publish private shares; hospital A orders training on both."""
    from enclava.protocol.engine import order_seed
    from engines.tabular_trainer.shares import share_to_npz, split_breast_cancer
    from engines.tabular_trainer.trainer import train_plain

    with facts.stage("hospitals: publish trainer + two private shares (API)"):
        trainer = publish_engine_listed(
            ctx, facts, "model_owner", "tabular_trainer", "tabular trainer engine"
        )
        shares = split_breast_cancer(len(HOSPITALS), seed=0)
        published = []
        for role, share in zip(HOSPITALS, shares):
            meta = listing_metadata(
                f"Breast-cancer records of {role.replace('_', ' ')}",
                price_wei=DATA_PRICE,
                engine_hash=trainer.engine_hash_hex,
                task="tabular-training",
                description="Private patient rows; keys released to the tabular trainer only.",
                input_schema={"type": "object"},
            )
            published.append(
                _publish(
                    ctx,
                    facts,
                    role,
                    f"{role} share",
                    kind=ResourceKind.DATASET,
                    plaintext=share_to_npz(share),
                    price=DATA_PRICE,
                    policy=open_policy(trainer.engine_hash_hex),
                    metadata=meta,
                )
            )
    with facts.stage("hospitals: training order, end to end"):
        order, files = run_order(
            ctx,
            dev_account(HOSPITALS[0]),
            title="breast-cancer training (two hospitals)",
            engine_id=trainer.resource_id,
            resource_ids=[r.resource_id for r in published],
            inputs=[],
        )
    got = npz_arrays(files["weights.npz"])
    expected, _ = train_plain(shares, seed=order_seed(order.order_id))
    same = sorted(got) == sorted(expected) and all(
        np.array_equal(got[k], v) for k, v in expected.items()
    )
    metrics = json.loads(files["metrics.json"])
    order.outcome = {"weights": {k: list(v.shape) for k, v in got.items()}, "metrics": metrics}
    facts.check(
        "training: weights equal plain training on the pooled shares",
        same,
        f"{len(got)} arrays, seed {order_seed(order.order_id)}",
    )
    for role, resource in zip(HOSPITALS, published):
        view = ctx.broker.audit(dev_account(role), resource.resource_id)
        decisions = [
            e["decision"]
            for e in view["entries"]
            if e["order_id"] == order.order_id and e["event"] == "key_release"
        ]
        facts.check(
            f"training: {role}'s audit log shows its key released once, by its policy",
            decisions == ["granted"],
            f"decisions {decisions}",
        )
    _record(facts, order)
    return order


def _record(facts: DemoFacts, order: OrderFacts) -> None:
    facts.orders.append(order)
    facts.txs.extend(order.txs)
    facts.cids.update({f"{order.title}: {k}": v for k, v in order.cids.items()})
    facts.check(
        f"{order.title}: integrity report verified independently",
        bool(order.checklist and order.checklist.valid),
        f"{sum(i.ok for i in order.checklist.items)} checks ok"
        if order.checklist
        else "no checklist",
    )
    facts.check(
        f"{order.title}: marketplace report page shows verified",
        order.page_verified,
        f"{order.page_verdict}: {order.page_url}" if order.page_verdict else order.page_url,
    )
