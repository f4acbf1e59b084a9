"""The JSON API: listings (relay + owner-only metadata), catalogue, details, orders and reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from eth_utils.address import to_checksum_address
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from enclava.protocol.tee import TeeChainName
from enclava.report import verify_order_report
from marketplace_api import db
from marketplace_api import queries as q
from marketplace_api import queries_services as qs
from marketplace_api.bounds import MAX_PAGE, MAX_PER_PAGE, UINT256_MAX, OnChainId
from marketplace_api.deps import current_wallet, db_session, services
from marketplace_api.errors import ListingInvalid, NotFound, NotOwner, RelayDisabled
from marketplace_api.listings import (
    ListingMetadataIn,
    OnChainListing,
    RelayRequest,
    check_engine_pairing,
    store_metadata,
)
from marketplace_api.openapi import ERROR_RESPONSES
from marketplace_api.relay import list_resource_typed_data, relay_listing

__all__ = ["router"]

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
ADDRESS = r"^0x[0-9a-fA-F]{40}$"
ORDER_ID = r"^0x[0-9a-fA-F]{64}$"
SERVICE_ID = r"^0x[0-9a-fA-F]{64}$"
Kind = Literal["engine", "model", "dataset"]
Tee = TeeChainName


class PrepareRequest(BaseModel):
    owner: str = Field(pattern=ADDRESS)
    listing: OnChainListing
    deadline: int = Field(gt=0, le=UINT256_MAX)


@router.post(
    "/listings/prepare", tags=["listings"], summary="The EIP-712 ListResource message to sign"
)
def prepare_listing(body: PrepareRequest, request: Request) -> dict[str, Any]:
    svc = services(request)
    owner = to_checksum_address(body.owner)
    nonce = int(svc.chain.contracts.resource_registry.functions.nonces(owner).call())
    typed = list_resource_typed_data(
        owner,
        body.listing,
        nonce=nonce,
        deadline=body.deadline,
        chain_id=svc.chain_id,
        registry=svc.chain.contracts.resource_registry.address,
    )
    typed["message"]["contentHash"] = body.listing.content_hash
    return {"typed_data": typed, "nonce": nonce}


@router.post(
    "/listings",
    tags=["listings"],
    status_code=201,
    summary="Relay an owner-signed listing on chain and store its metadata",
)
def create_listing(
    body: RelayRequest,
    request: Request,
    wallet: str = Depends(current_wallet),
    s: Session = Depends(db_session),
) -> dict[str, Any]:
    svc = services(request)
    owner = to_checksum_address(body.owner)
    if owner != wallet:
        raise NotOwner(f"signed in as {wallet}, but the listing is owned by {owner}")
    if body.metadata.price_wei != body.listing.price_wei:
        raise ListingInvalid(
            f"metadata price {body.metadata.price_wei} differs from the on-chain price "
            f"{body.listing.price_wei}"
        )
    if svc.relayer is None:
        raise RelayDisabled("this marketplace relays no listings")
    svc.tail_policy.check_listing(
        body.metadata.tail_url
    )  # before the relay: a refused listing costs no gas
    check_engine_pairing(_chain_resource(request), body.listing.kind, owner, body.metadata)
    result = relay_listing(
        svc.chain, svc.relayer, owner, body.listing, body.deadline, body.signature
    )
    store_metadata(s, result.resource_id, owner, body.metadata)
    s.commit()
    return {
        "resource_id": result.resource_id,
        "tx_hash": result.tx_hash,
        "block_number": result.block_number,
    }


@router.put(
    "/listings/{resource_id}/metadata",
    tags=["listings"],
    summary="Change a listing's metadata (owner only)",
)
def update_metadata(
    body: ListingMetadataIn,
    request: Request,
    resource_id: OnChainId,
    wallet: str = Depends(current_wallet),
    s: Session = Depends(db_session),
) -> dict[str, Any]:
    resource = q.indexed_row(s, db.Resource, resource_id)
    existing = q.indexed_row(s, db.ListingMetadata, resource_id)
    owner = resource.owner if resource else existing.owner if existing else None
    if owner is None:
        raise NotFound(f"no listing {resource_id} is known here")
    if to_checksum_address(owner) != wallet:
        raise NotOwner(f"listing {resource_id} belongs to {owner}, not to {wallet}")
    if resource is not None and str(body.price_wei) != resource.price_wei:
        raise ListingInvalid(
            f"metadata price {body.price_wei} differs from the on-chain price {resource.price_wei}",
            hint="Change the price on chain first (UpdateResource), then the metadata.",
        )
    services(request).tail_policy.check_listing(body.tail_url)
    lookup = _chain_resource(request)
    kind = resource.kind if resource is not None else int(lookup(resource_id)[3])
    check_engine_pairing(lookup, int(kind), owner, body)
    store_metadata(s, resource_id, owner, body)
    s.commit()
    return {"resource_id": resource_id, "status": "updated"}


def _chain_resource(request: Request) -> Callable[[int], Any]:
    """``IResourceRegistry.getResource`` on the chain itself: a listing relayed a moment ago may not
    be indexed yet, and a pairing must hold on chain."""
    registry = services(request).chain.contracts.resource_registry
    return lambda resource_id: registry.functions.getResource(int(resource_id)).call()


@router.get("/catalogue", tags=["catalogue"], summary="Search and filter active listings")
def catalogue(
    s: Session = Depends(db_session),
    q_: str = Query("", alias="q", max_length=200),
    kind: Kind | None = None,
    task: str | None = Query(None, max_length=64),
    tee_type: Tee | None = None,
    max_price_wei: int | None = Query(None, ge=0, le=UINT256_MAX),
    page: int = Query(1, ge=1, le=MAX_PAGE),
    per_page: int = Query(20, ge=1, le=MAX_PER_PAGE),
) -> dict[str, Any]:
    return q.search_catalogue(
        s,
        q=q_,
        kind=kind,
        task=task,
        tee_type=tee_type,
        max_price_wei=max_price_wei,
        page=page,
        per_page=per_page,
    )


@router.get("/listings/{resource_id}", tags=["catalogue"], summary="A listing with its metadata")
@router.get(
    "/models/{resource_id}",
    tags=["catalogue"],
    summary="A model (or engine) with compatible TEE offers",
)
def model(resource_id: OnChainId, s: Session = Depends(db_session)) -> dict[str, Any]:
    return q.resource_detail(s, resource_id)


@router.get("/tee-offers", tags=["providers"], summary="Active TEE offers")
def tee_offers(s: Session = Depends(db_session), tee_type: Tee | None = None) -> dict[str, Any]:
    query = select(db.TeeOffer).where(db.TeeOffer.active.is_(True), db.TeeOffer.retired.is_(False))
    rows = [q.tee_offer_view(o) for o in s.scalars(query.order_by(db.TeeOffer.price_sort)).all()]
    return {"items": [r for r in rows if tee_type is None or r["tee_type"] == tee_type]}


@router.get("/tee-offers/{tee_offer_id}", tags=["providers"], summary="A TEE offer")
def tee_offer(tee_offer_id: OnChainId, s: Session = Depends(db_session)) -> dict[str, Any]:
    row = q.indexed_row(s, db.TeeOffer, tee_offer_id)
    if row is None:
        raise NotFound(f"no TEE offer {tee_offer_id} has been indexed")
    return q.tee_offer_view(row)


@router.get(
    "/providers/{address}",
    tags=["providers"],
    summary="A provider, its TEE offers and certified enclaves",
)
def provider(
    address: str = Path(pattern=ADDRESS), s: Session = Depends(db_session)
) -> dict[str, Any]:
    return q.provider_detail(s, address)


@router.get(
    "/services",
    tags=["services"],
    summary="Confidential-serving services: model, provider, TEE, token prices, endpoint",
)
def services_list(
    s: Session = Depends(db_session),
    model_id: int | None = Query(None, ge=1, le=UINT256_MAX, description="the served model"),
    provider: str | None = Query(None, pattern=ADDRESS),
    live: bool | None = Query(None, description="true: only live services; false: only ended"),
    page: int = Query(1, ge=1, le=MAX_PAGE),
    per_page: int = Query(20, ge=1, le=MAX_PER_PAGE),
) -> dict[str, Any]:
    return qs.list_services(
        s, model_id=model_id, provider=provider, live=live, page=page, per_page=per_page
    )


@router.get(
    "/services/{service_id}",
    tags=["services"],
    summary="A confidential-serving service: its terms, status, bound enclave and endpoint",
)
def service(
    service_id: str = Path(pattern=SERVICE_ID), s: Session = Depends(db_session)
) -> dict[str, Any]:
    return qs.service_detail(s, service_id)


@router.get("/orders/{order_id}", tags=["orders"], summary="An order and its status")
def order(
    order_id: str = Path(pattern=ORDER_ID), s: Session = Depends(db_session)
) -> dict[str, Any]:
    return q.order_view(q.order_row(s, order_id))


@router.get(
    "/wallets/{address}/orders",
    tags=["orders"],
    summary="Orders of a wallet (as customer or provider)",
)
def wallet_orders(
    address: str = Path(pattern=ADDRESS),
    role: Literal["any", "customer", "provider"] = "any",
    page: int = Query(1, ge=1, le=MAX_PAGE),
    per_page: int = Query(20, ge=1, le=MAX_PER_PAGE),
    s: Session = Depends(db_session),
) -> dict[str, Any]:
    return q.orders_of(s, address, role=role, page=page, per_page=per_page)


@router.get(
    "/reports/{order_id}",
    tags=["reports"],
    summary="An order's integrity report, verified independently",
)
def report(request: Request, order_id: str = Path(pattern=ORDER_ID)) -> dict[str, Any]:
    svc = services(request)
    checklist = verify_order_report(svc.chain.contracts, order_id, from_block=svc.chain.start_block)
    return {
        "order_id": checklist.order_id,
        "verified": checklist.valid,
        "checklist": checklist.to_dict(),
    }
