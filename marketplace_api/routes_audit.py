"""An owner's audit page: the key releases and denials of their resource, read from the CA.

The marketplace never signs for the owner. The page asks for the exact message
(``GET /v1/resources/{id}/audit/request``), the owner's wallet signs it (EIP-191
``personal_sign``, as ``enclava audit`` does with a keystore), and the page posts the signed
``AuditReadRequest`` back (``POST /v1/resources/{id}/audit``). The marketplace checks the session is
the resource's on-chain owner, relays the request to the CA over the attested, pinned channel
(:mod:`enclava.ca_link`), verifies the view as one hash chain (``check_audit_view``) and answers it
with a line per entry. The CA checks the signature and the ownership itself: the marketplace's
checks only spare it requests that must fail.

What a page cannot do is remember the head it saw last time; ``enclava audit`` does, and says so
loudly when the log was rewound.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path as FsPath
from typing import Any

from eth_utils.address import to_checksum_address
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from web3.exceptions import ContractLogicError

from enclava.ca_link import AttestedCa
from enclava.ca_link.chain_ca import connect_chain_ca
from enclava.chain.config import read_manifest
from enclava.chain.market import read_order
from enclava.client.audit_watch import describe
from enclava.errors import EnclavaError
from enclava.protocol.audit import AuditView
from enclava.protocol.broker import AuditReadRequest, audit_read_message, check_audit_view
from enclava.protocol.errors import AuditChainBroken
from enclava.service_http import refusal, send
from marketplace_api import db
from marketplace_api.bounds import OnChainId
from marketplace_api.deps import Services, current_wallet, db_session, services
from marketplace_api.errors import (
    AuditLogInvalid,
    AuditRefused,
    AuditRequestInvalid,
    AuditUnavailable,
    NotFound,
    NotOwner,
)
from marketplace_api.openapi import ERROR_RESPONSES

__all__ = ["router", "AuditRelay"]

router = APIRouter(responses=ERROR_RESPONSES)
templates = Jinja2Templates(directory=str(FsPath(__file__).parent / "templates"))
_RELAY_LOCK = threading.Lock()


class AuditRelay:
    """The CA, attested on first use (again after a transport failure), for relaying audit reads."""

    def __init__(self, svc: Services) -> None:
        self._svc = svc
        self._lock = threading.Lock()
        self._ca: AttestedCa | None = None

    def _url(self) -> str:
        settings = self._svc.settings
        if settings.ca_url:
            return settings.ca_url
        if settings.manifest is not None:
            try:
                record = read_manifest(settings.manifest).services.get("ca")
            except EnclavaError as exc:
                raise AuditUnavailable(f"the manifest names no CA: {exc.message}") from exc
            if record is not None:
                return record.url
        raise AuditUnavailable("no CA is configured (MARKET_CA_URL)")

    def ca(self) -> AttestedCa:
        with self._lock:
            if self._ca is None:
                try:
                    self._ca = connect_chain_ca(
                        self._url(),
                        self._svc.chain.contracts,
                        insecure_allow_simulated_tee=self._svc.settings.insecure_allow_simulated_ca,
                    )
                except AuditUnavailable:
                    raise
                except EnclavaError as exc:
                    raise AuditUnavailable(
                        f"the CA cannot be trusted or reached: {exc.code}: {exc.message}"
                    ) from exc
            return self._ca

    def _forget(self, ca: AttestedCa) -> None:
        with self._lock:
            if self._ca is ca:
                self._ca = None
        ca.close()

    def read(self, req: AuditReadRequest) -> AuditView:
        """The CA's view for ``req``, verified as one hash chain."""
        ca = self.ca()
        try:
            reply = send(
                ca.client, "POST", "/v1/audit", AuditUnavailable, json=req.model_dump(mode="json")
            )
        except AuditUnavailable:
            self._forget(ca)
            raise
        if reply.status_code >= 400:
            raise refusal(reply, AuditRefused, "the CA refused the audit read")
        try:
            view = AuditView.model_validate(reply.json())
            check_audit_view(view)
        except AuditChainBroken as exc:
            raise AuditLogInvalid(f"the CA's audit view does not verify: {exc.message}") from exc
        except ValueError as exc:  # not JSON, or not an audit view
            raise AuditLogInvalid("the CA answered something that is not an audit view") from exc
        if view.resource_id != str(req.resource_id) or view.ca_id != req.ca_id:
            raise AuditLogInvalid("the CA answered the view of another resource or CA")
        return view


def _relay(request: Request) -> AuditRelay:
    with _RELAY_LOCK:
        relay: AuditRelay | None = getattr(request.app.state, "audit_relay", None)
        if relay is None:
            relay = AuditRelay(services(request))
            request.app.state.audit_relay = relay
        return relay


def _require_owner(svc: Services, resource_id: int, wallet: str) -> str:
    """The resource's on-chain owner, when it is ``wallet`` (NotOwner / NotFound otherwise)."""
    try:
        found = svc.chain.contracts.resource_registry.functions.getResource(resource_id).call()
    except ContractLogicError as exc:  # the registry reverts for an unknown id
        raise NotFound(f"no resource {resource_id} on this chain") from exc
    except Exception as exc:  # noqa: BLE001 - web3's many transport errors
        raise AuditUnavailable(
            f"cannot read the owner of resource {resource_id} on chain ({type(exc).__name__})",
            hint="The marketplace's chain node does not answer; retry later.",
        ) from exc
    owner = to_checksum_address(found[0])
    if owner != wallet:
        raise NotOwner(
            f"resource {resource_id} belongs to {owner}, not to {wallet}",
            hint="Only the resource's owner can read its audit log; sign in with that wallet.",
        )
    return owner


@router.get("/resources/{resource_id}/audit", response_class=HTMLResponse, include_in_schema=False)
def audit_page(request: Request, resource_id: OnChainId) -> HTMLResponse:
    return templates.TemplateResponse(request, "audit.html", {"resource_id": resource_id})


@router.get(
    "/v1/resources/{resource_id}/audit/request",
    tags=["audit"],
    summary="The audit read the owner's wallet signs (personal_sign of `message`)",
)
def audit_request(
    request: Request, resource_id: OnChainId, wallet: str = Depends(current_wallet)
) -> dict[str, Any]:
    svc = services(request)
    owner = _require_owner(svc, resource_id, wallet)
    ca_id = _relay(request).ca().ca_id
    issued_at = int(time.time())
    return {
        "ca_id": ca_id,
        "resource_id": str(resource_id),  # a decimal string: uint256 is beyond JSON's safe ints
        "owner": owner,
        "issued_at": issued_at,
        "message": audit_read_message(ca_id=ca_id, resource_id=resource_id, issued_at=issued_at),
    }


@router.post(
    "/v1/resources/{resource_id}/audit",
    tags=["audit"],
    summary="Relay the owner's signed audit read to the CA; answer the verified view",
)
def audit_read(
    body: AuditReadRequest,
    request: Request,
    resource_id: OnChainId,
    wallet: str = Depends(current_wallet),
    s: Session = Depends(db_session),
) -> dict[str, Any]:
    if body.resource_id != resource_id:
        raise AuditRequestInvalid(
            f"the request is for resource {body.resource_id}, not {resource_id}"
        )
    if to_checksum_address(body.owner) != wallet:
        raise NotOwner(f"the request is signed for {body.owner}, but you are signed in as {wallet}")
    _require_owner(services(request), resource_id, wallet)
    view = _relay(request).read(body)

    def customer_of(order_id: str) -> str | None:
        """The index's word, else the chain's (an order the indexer has not reached yet)."""
        row = s.get(db.Order, order_id.lower())
        if row is not None:
            return row.customer
        chain = services(request).chain
        try:
            order = read_order(
                chain.contracts, order_id, from_block=chain.start_block, with_deadline=False
            )
        except Exception:  # noqa: BLE001 - only a label: an unreadable order shows no customer
            return None
        return order.terms.customer

    head = view.head
    return {
        "ca_id": view.ca_id,
        "resource_id": view.resource_id,
        "links": len(view.links),
        "head": head.model_dump() if head else None,
        "entries": [line.to_dict() for line in describe(view.entries, customer_of)],
        "view": view.model_dump(mode="json"),
    }
