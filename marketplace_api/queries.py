"""Reads over the index (never the chain): catalogue search, details, orders by wallet."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from enclava.protocol.engine.reasons import describe_reason
from enclava.protocol.order import OrderStatus
from enclava.protocol.tee import TeeType
from marketplace_api import db
from marketplace_api.bounds import INDEX_INT_MAX
from marketplace_api.errors import NotFound
from marketplace_api.listings import KIND_NAMES, metadata_view
from marketplace_api.queries_services import list_services, token_prices

__all__ = [
    "search_catalogue",
    "resource_detail",
    "tee_offer_view",
    "provider_detail",
    "order_view",
    "order_money",
    "failure_reason",
    "order_command",
    "orders_of",
    "order_row",
    "tee_name",
    "indexed_row",
]

_KINDS = {name: code for code, name in KIND_NAMES.items()}


def indexed_row(s: Session, model: type[db.Base], key: int) -> Any:
    """The row of an on-chain id, or None; an id past the index's 64-bit columns is simply not
    indexed."""
    if not 0 <= key <= INDEX_INT_MAX:
        return None
    return s.get(model, key)


def tee_name(code: int) -> str:
    try:
        return TeeType(int(code)).name
    except ValueError:
        return f"unknown({code})"


def resource_view(s: Session, res: db.Resource, meta: db.ListingMetadata | None) -> dict[str, Any]:
    """A listing as the catalogue shows it; a model's serving prices per token are
    ``token_prices`` (None when its owner set none)."""
    return {
        "resource_id": res.resource_id,
        "owner": res.owner,
        "kind": KIND_NAMES.get(res.kind, str(res.kind)),
        "cid": res.cid,
        "content_hash": res.content_hash,
        "price_wei": res.price_wei,
        "metadata_cid": res.metadata_cid,
        "active": res.active,
        "retired": res.retired,
        "listed_block": res.listed_block,
        "listed_tx": res.listed_tx,
        "metadata": metadata_view(meta),
        "token_prices": token_prices(s, res.resource_id) if res.kind == _KINDS["model"] else None,
    }


def search_catalogue(
    s: Session,
    *,
    q: str = "",
    kind: str | None = None,
    task: str | None = None,
    tee_type: str | None = None,
    max_price_wei: int | None = None,
    page: int = 1,
    per_page: int = 20,
) -> dict[str, Any]:
    query = (
        select(db.Resource, db.ListingMetadata)
        .outerjoin(db.ListingMetadata, db.ListingMetadata.resource_id == db.Resource.resource_id)
        .where(db.Resource.active.is_(True), db.Resource.retired.is_(False))
    )
    if q.strip():
        like = f"%{q.strip().lower()}%"
        query = query.where(
            or_(
                func.lower(db.ListingMetadata.name).like(like),
                func.lower(db.ListingMetadata.description).like(like),
                func.lower(db.ListingMetadata.task).like(like),
            )
        )
    if kind:
        query = query.where(db.Resource.kind == _KINDS[kind])
    if task:
        query = query.where(db.ListingMetadata.task == task)
    if tee_type:
        query = query.where(db.ListingMetadata.tee_types.like(f"%,{tee_type},%"))
    if max_price_wei is not None:
        query = query.where(db.Resource.price_sort <= float(max_price_wei))
    total = s.scalar(select(func.count()).select_from(query.subquery()))
    rows = s.execute(
        query.order_by(db.Resource.resource_id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    items = [resource_view(s, res, meta) for res, meta in rows]
    if max_price_wei is not None:  # the float filter is coarse; the exact wei comparison decides
        items = [item for item in items if int(item["price_wei"]) <= max_price_wei]
    return {
        "items": items,
        "total": int(total or 0),
        "page": page,
        "per_page": per_page,
        "pages": max(1, -(-int(total or 0) // per_page)),
    }


def resource_detail(s: Session, resource_id: int) -> dict[str, Any]:
    res = indexed_row(s, db.Resource, resource_id)
    meta = indexed_row(s, db.ListingMetadata, resource_id)
    if res is None:
        raise NotFound(f"no listing {resource_id} has been indexed")
    view = resource_view(s, res, meta)
    wanted = [TeeType[name] for name in (meta.tee_requirements["tee_types"] if meta else [])]
    tee_offers = s.scalars(
        select(db.TeeOffer)
        .where(db.TeeOffer.active.is_(True), db.TeeOffer.retired.is_(False))
        .order_by(db.TeeOffer.price_sort)
    ).all()
    view["compatible_tee_offers"] = [
        tee_offer_view(o) for o in tee_offers if not wanted or o.tee_type in wanted
    ]
    view["orders"] = s.scalar(
        select(func.count()).select_from(db.Order).where(db.Order.engine_id == resource_id)
    )
    view.update(_pairing(s, res, meta))
    view["services"] = (
        list_services(s, model_id=resource_id, per_page=20)["items"]
        if res.kind == _KINDS["model"]
        else []
    )
    view["order_command"] = order_command(
        view["engine_resource_id"] if view["kind"] != "engine" else res.resource_id,
        view["weights"] if view["kind"] == "engine" else [res.resource_id],
        next((o["tee_offer_id"] for o in view["compatible_tee_offers"] if o["slots"] > 0), None),
    )
    return view


def _pairing(s: Session, res: db.Resource, meta: db.ListingMetadata | None) -> dict[str, Any]:
    """An engine's weights (same-owner listings that name it) or a weights listing's engine.

    A listing names its engine in its metadata (``engine_resource_id``); the pairing counts only
    when the engine is an active listing of the same owner, so nobody can attach their weights to
    another owner's engine page. ``paired`` holds the other side's id, name and input schema.
    """
    if res.kind == _KINDS["engine"]:
        named = s.scalars(
            select(db.ListingMetadata)
            .join(db.Resource, db.Resource.resource_id == db.ListingMetadata.resource_id)
            .where(
                db.ListingMetadata.engine_resource_id == res.resource_id,
                func.lower(db.Resource.owner) == res.owner.lower(),
                db.Resource.active.is_(True),
                db.Resource.retired.is_(False),
            )
            .order_by(db.ListingMetadata.resource_id)
        ).all()
        return {
            "weights": [int(m.resource_id) for m in named],
            "engine_resource_id": None,
            "paired": [_brief(m.resource_id, m) for m in named],
        }
    engine_id = meta.engine_resource_id if meta is not None else None
    engine = indexed_row(s, db.Resource, engine_id) if engine_id is not None else None
    if (
        engine is None
        or engine.kind != _KINDS["engine"]
        or engine.owner.lower() != res.owner.lower()
    ):
        return {"weights": [], "engine_resource_id": None, "paired": []}
    engine_meta = indexed_row(s, db.ListingMetadata, engine.resource_id)
    return {
        "weights": [],
        "engine_resource_id": int(engine.resource_id),
        "paired": [_brief(engine.resource_id, engine_meta)],
    }


def _brief(resource_id: int, meta: db.ListingMetadata | None) -> dict[str, Any]:
    return {
        "resource_id": int(resource_id),
        "name": meta.name if meta is not None else None,
        "input_schema": meta.input_schema if meta is not None else None,
    }


def order_command(engine_id: int | None, resources: list[int], tee_offer_id: int | None) -> str:
    """The ``enclava order create`` line that orders this listing; unknown ids are placeholders
    in capitals (an engine without a declared engine, no TEE offer on the network yet)."""
    parts = [
        "enclava order create",
        f"--engine {engine_id if engine_id is not None else 'ENGINE_ID'}",
    ]
    parts += [f"--resource {r}" for r in resources]
    parts.append(f"--tee-offer {tee_offer_id if tee_offer_id is not None else 'TEE_OFFER_ID'}")
    parts.append("--input FILE")
    return " ".join(parts)


def tee_offer_view(tee_offer: db.TeeOffer) -> dict[str, Any]:
    return {
        "tee_offer_id": tee_offer.tee_offer_id,
        "provider": tee_offer.provider,
        "tee_type": tee_name(tee_offer.tee_type),
        "gpu_class": tee_offer.gpu_class,
        "price_per_second_wei": tee_offer.price_per_second_wei,
        "slots": tee_offer.slots,
        "active": tee_offer.active,
        "retired": tee_offer.retired,
    }


def provider_detail(s: Session, address: str) -> dict[str, Any]:
    row = s.scalar(select(db.Provider).where(func.lower(db.Provider.address) == address.lower()))
    if row is None:
        raise NotFound(f"no provider {address} has been indexed")
    tee_offers = s.scalars(select(db.TeeOffer).where(db.TeeOffer.provider == row.address)).all()
    enclaves = s.scalars(select(db.Enclave).where(db.Enclave.provider == row.address)).all()
    return {
        "address": row.address,
        "stake_wei": row.stake_wei,
        "registered_block": row.registered_block,
        "tee_offers": [tee_offer_view(o) for o in tee_offers],
        "enclaves": [
            {
                "address": e.address,
                "ca": e.ca,
                "tee_type": tee_name(e.tee_type),
                "measurement": e.measurement,
                "expires_at": e.expires_at,
                "gpu_class": e.gpu_class or "",
                "gpu_count": e.gpu_count or 0,
            }
            for e in enclaves
        ],
    }


def order_row(s: Session, order_id: str) -> db.Order:
    row = s.get(db.Order, order_id.lower())
    if row is None:
        raise NotFound(f"no order {order_id} has been indexed")
    return row


def failure_reason(code: int | None) -> dict[str, Any] | None:
    """A failed order's reason in words (``{code, name, title, hint}``), or None."""
    if code is None:
        return None
    text = describe_reason(int(code))
    return {"code": text.code, "name": text.name, "title": text.title, "hint": text.hint}


def order_money(row: db.Order) -> dict[str, Any]:
    """Who was paid what for an order, read from its ``Credited``/``Refunded`` events.

    The contract credits the resource owners (in the order of the terms' payments, skipping zero
    amounts), then the provider its used seconds, then sends the customer the rest; a refund that
    cannot be sent is credited instead. Events are matched to that sequence by address, so each
    payout is named by its role. ``cost_wei`` is what the customer paid in the end: the escrow less
    everything that came back (after a timeout that includes the provider's slashed stake).
    """
    terms = row.terms or {}
    customer = row.customer.lower()
    expected = [
        (str(p["payee"]).lower(), "owner", int(p["resourceId"]))
        for p in terms.get("payments", [])
        if int(p["amount"])
    ] + [(row.provider.lower(), "provider", None)]
    step, payouts, refunds = 0, [], []
    for m in row.money:
        account = m.account.lower()
        entry = {"account": m.account, "amount_wei": m.amount_wei, "tx": m.tx}
        match = next((i for i in range(step, len(expected)) if expected[i][0] == account), None)
        if m.event == "credited" and row.status == OrderStatus.COMPLETED and match is not None:
            _, role, resource_id = expected[match]
            step = match + 1
            payouts.append({**entry, "role": role, "resource_id": resource_id})
        elif account == customer:
            how = "sent" if m.event == "refunded" else "credited (withdraw it)"
            refunds.append({**entry, "how": how})
        else:
            payouts.append({**entry, "role": "other", "resource_id": None})
    refund = sum(int(r["amount_wei"]) for r in refunds)
    settled = row.status in (
        OrderStatus.COMPLETED,
        OrderStatus.FAILED,
        OrderStatus.TIMED_OUT,
        OrderStatus.CANCELLED,
    )
    return {
        "cost_wei": str(max(0, int(row.escrow_wei) - refund)) if settled else None,
        "payouts": payouts,
        "refund_wei": str(refund),
        "refunds": refunds,
    }


def order_view(row: db.Order) -> dict[str, Any]:
    payments = (row.terms or {}).get("payments", [])
    return {
        "order_id": row.order_id,
        "status": OrderStatus(row.status).name,
        "customer": row.customer,
        "provider": row.provider,
        "tee_offer_id": row.tee_offer_id,
        "tee_type": tee_name(row.tee_type),
        "engine_id": row.engine_id,
        "resource_ids": [int(p["resourceId"]) for p in payments[1:]],
        "engine_hash": row.engine_hash,
        "inputs_hash": row.inputs_hash,
        "escrow_wei": row.escrow_wei,
        "inputs": row.inputs,
        "resource_hashes": row.resource_hashes,
        "created_block": row.created_block,
        "created_tx": row.created_tx,
        "accepted_at": row.accepted_at,
        "enclave": row.enclave,
        "report": row.report,
        "report_tx": row.report_tx,
        "failure_code": row.failure_code,
        "failure_reason": failure_reason(row.failure_code),
        "failure_detail_cid": row.failure_detail_cid or None,
        **order_money(row),
    }


def orders_of(
    s: Session, address: str, *, role: str = "any", page: int = 1, per_page: int = 20
) -> dict[str, Any]:
    who = address.lower()
    conditions = {
        "customer": [func.lower(db.Order.customer) == who],
        "provider": [func.lower(db.Order.provider) == who],
    }
    where = conditions.get(role) or conditions["customer"] + conditions["provider"]
    query = select(db.Order).where(or_(*where))
    total = s.scalar(select(func.count()).select_from(query.subquery()))
    rows = s.scalars(
        query.order_by(db.Order.created_block.desc(), db.Order.nonce.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return {
        "items": [order_view(r) for r in rows],
        "total": int(total or 0),
        "page": page,
        "per_page": per_page,
    }
