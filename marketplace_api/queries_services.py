"""Reads of the confidential-serving services in the index (never the chain): list and detail.

A service is ``LIVE`` while it is not stopped and its ``ends_at`` is in the future (judged by
this server's clock, to the second: the chain's clock can differ by a block), ``STOPPED`` once its
provider stopped it, ``ENDED`` after its lifetime. Prices are wei as decimal strings; the
provider's price is per token or per second as ``provider_price_mode`` says.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from enclava.protocol.tee import TeeType
from marketplace_api import db
from marketplace_api.bounds import INDEX_INT_MAX
from marketplace_api.errors import ServiceUnknown
from marketplace_api.listings import metadata_view

__all__ = ["service_status", "service_view", "list_services", "service_detail", "token_prices"]


def _tee_name(code: int) -> str:
    try:
        return TeeType(int(code)).name
    except ValueError:
        return f"unknown({code})"


def _row(s: Session, model: type[db.Base], key: int) -> Any:
    return s.get(model, key) if 0 <= key <= INDEX_INT_MAX else None


def token_prices(s: Session, model_id: int) -> dict[str, str] | None:
    """A model's serving prices (``input_wei``, ``output_wei`` per token), or None if never set."""
    row = s.get(db.TokenPrice, str(int(model_id)))
    if row is None:
        return None
    return {"input_wei": row.input_price_wei, "output_wei": row.output_price_wei}


def service_status(row: db.Service, now: int) -> str:
    if row.stopped_at is not None:
        return "STOPPED"
    return "LIVE" if now < int(row.ends_at) else "ENDED"


def service_view(s: Session, row: db.Service, *, now: int | None = None) -> dict[str, Any]:
    now = int(time.time()) if now is None else now
    model_id = int(row.model_id)
    tee_offer_id = int(row.tee_offer_id)
    resource = _row(s, db.Resource, model_id)
    meta = _row(s, db.ListingMetadata, model_id)
    offer = _row(s, db.TeeOffer, tee_offer_id)
    status = service_status(row, now)
    return {
        "service_id": row.service_id,
        "status": status,
        "live": status == "LIVE",
        "provider": row.provider,
        "model_id": model_id,
        "model_name": meta.name if meta is not None else None,
        "model": {
            "model_id": model_id,
            "owner": row.model_owner,
            "model_hash": row.model_hash,
            "listed": resource is not None and resource.active and not resource.retired,
            "metadata": metadata_view(meta),
        },
        "tee_offer_id": tee_offer_id,
        "tee_type": _tee_name(row.tee_type),
        "gpu_class": offer.gpu_class if offer is not None else None,
        "input_token_price_wei": row.input_token_price_wei,
        "output_token_price_wei": row.output_token_price_wei,
        "provider_price_wei": row.provider_price_wei,
        "provider_price_mode": "per_token" if row.provider_per_token else "per_second",
        "ends_at": int(row.ends_at),
        "stopped_at": row.stopped_at,
        "enclave": row.enclave,
        "endpoint": row.endpoint,
        "started_block": row.started_block,
        "started_tx": row.started_tx,
        "terms": {
            "nonce": int(row.nonce),
            "provider": row.provider,
            "tee_offer_id": tee_offer_id,
            "tee_type": int(row.tee_type),
            "model_id": model_id,
            "model_owner": row.model_owner,
            "model_hash": row.model_hash,
            "input_token_price": int(row.input_token_price_wei),
            "output_token_price": int(row.output_token_price_wei),
            "provider_per_token": row.provider_per_token,
            "provider_price": int(row.provider_price_wei),
            "ends_at": int(row.ends_at),
        },
    }


def list_services(
    s: Session,
    *,
    model_id: int | None = None,
    provider: str | None = None,
    live: bool | None = None,
    page: int = 1,
    per_page: int = 20,
    now: int | None = None,
) -> dict[str, Any]:
    """Services, newest first, filtered by model, provider and liveness; paginated like the
    catalogue (``items``, ``total``, ``page``, ``per_page``, ``pages``)."""
    now = int(time.time()) if now is None else now
    query = select(db.Service)
    if model_id is not None:
        query = query.where(db.Service.model_id == str(int(model_id)))
    if provider:
        query = query.where(func.lower(db.Service.provider) == provider.lower())
    if live is True:
        query = query.where(db.Service.stopped_at.is_(None), db.Service.ends_sort > float(now))
    elif live is False:
        query = query.where(
            (db.Service.stopped_at.is_not(None)) | (db.Service.ends_sort <= float(now))
        )
    total = int(s.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = s.scalars(
        query.order_by(db.Service.started_block.desc(), db.Service.service_id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return {
        "items": [service_view(s, row, now=now) for row in rows],
        "total": total,
        "page": page,
        "per_page": per_page,
        "pages": max(1, -(-total // per_page)),
    }


def service_detail(s: Session, service_id: str) -> dict[str, Any]:
    row = s.get(db.Service, service_id.lower())
    if row is None:
        raise ServiceUnknown(f"no service {service_id} has been indexed")
    return service_view(s, row)
