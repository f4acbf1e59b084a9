"""A split model's tail, reached through the marketplace: ``POST /v1/models/{id}/tail/{split}``.

The customer (customer-decrypt mode) or whoever holds an enclave's activations posts them here; the
route forwards the body to the tail service whose base URL the model's owner put in the listing's
metadata (``tail_url``) and answers with the tail's reply. Only obfuscated activations pass through:
never an image, never a key. The destination obeys :mod:`marketplace_api.tail_egress` (https, public
addresses only, checked on the address connected to), whatever the stored URL says. Errors keep the
API's one shape: no such listing or no tail configured is ``not_found`` (404), an unreachable tail
``tail_unavailable`` (502), a tail at an address never forwarded to ``tail_destination_refused``
(502); the tail's own refusals (4xx, already in the shape) pass through with their status, its
server errors become ``tail_unavailable``.
"""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from marketplace_api import db
from marketplace_api.bounds import OnChainId
from marketplace_api.deps import db_session, services
from marketplace_api.errors import NotFound, TailDestinationRefused, TailUnavailable
from marketplace_api.openapi import ERROR_RESPONSES
from marketplace_api.queries import indexed_row
from marketplace_api.tail_egress import PinnedTransport

__all__ = ["router", "TailUnavailable"]

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)
MAX_BODY = 16 << 20
TIMEOUT_S = 60.0


@router.post(
    "/models/{resource_id}/tail/{split}",
    tags=["catalogue"],
    summary=(
        "Run a split model's tail on obfuscated activations (forwarded to the owner's tail service)"
    ),
)
async def forward_to_tail(
    request: Request,
    resource_id: OnChainId,
    split: str = Path(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"),
    s: Session = Depends(db_session),
) -> JSONResponse:
    meta = indexed_row(s, db.ListingMetadata, resource_id)
    if meta is None:
        raise NotFound(f"no listing {resource_id} with metadata is known here")
    if not meta.tail_url:
        raise NotFound(
            f"listing {resource_id} names no tail service",
            hint=(
                "Only split models whose owner set `tail_url` in the listing metadata have a tail."
            ),
        )
    body = await request.body()
    if len(body) > MAX_BODY:
        raise TailUnavailable(
            f"the activations ({len(body)} bytes) exceed the {MAX_BODY} bytes forwarded",
            hint="Send the batch in smaller parts.",
        )
    policy = services(request).tail_policy
    base = policy.check_url(
        meta.tail_url, TailDestinationRefused
    )  # a row stored before the listing check
    url = f"{str(base).rstrip('/')}/v1/tail/{split}"
    try:
        async with httpx.AsyncClient(
            transport=PinnedTransport(policy),
            timeout=TIMEOUT_S,
            follow_redirects=False,
            trust_env=False,
        ) as http:
            reply = await http.post(url, content=body, headers={"content-type": "application/json"})
    except httpx.HTTPError as exc:
        raise TailUnavailable(
            f"the tail of listing {resource_id} cannot be reached ({type(exc).__name__})"
        ) from exc
    if reply.status_code >= 500 or reply.status_code < 200 or 300 <= reply.status_code < 400:
        raise TailUnavailable(f"the tail of listing {resource_id} answered {reply.status_code}")
    try:
        payload = reply.json()
    except ValueError as exc:
        raise TailUnavailable(
            f"the tail of listing {resource_id} answered {reply.status_code} without JSON"
        ) from exc
    return JSONResponse(payload, status_code=reply.status_code)
