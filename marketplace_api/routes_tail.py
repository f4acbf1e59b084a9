"""A split model's tail, reached through the marketplace: ``POST /v1/models/{id}/tail/{split}``.

The customer (customer-decrypt mode) or whoever holds an enclave's activations posts them here; the
route forwards the body to the tail service whose base URL the model's owner put in the listing's
metadata (``tail_url``) and answers with the tail's reply. Only obfuscated activations pass through:
never an image, never a key. Errors keep the API's one shape: no such listing or no tail configured
is ``not_found`` (404), an unreachable tail ``tail_unavailable`` (502); the tail's own refusals
(already in the shape) pass through with their status.
"""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from marketplace_api import db
from marketplace_api.deps import db_session
from marketplace_api.errors import MarketError, NotFound

__all__ = ["router", "TailUnavailable"]

router = APIRouter(prefix="/v1")
MAX_BODY = 16 << 20
TIMEOUT_S = 60.0


class TailUnavailable(MarketError):
    code = "tail_unavailable"
    hint = "The model owner's tail service does not answer; retry later or contact the owner."
    http_status = 502


@router.post("/models/{resource_id}/tail/{split}", tags=["catalogue"],
             summary="Run a split model's tail on obfuscated activations (forwarded to the owner's tail service)")
async def forward_to_tail(request: Request, resource_id: int = Path(ge=1),
                          split: str = Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$"),
                          s: Session = Depends(db_session)) -> JSONResponse:
    meta = s.get(db.ListingMetadata, resource_id)
    if meta is None:
        raise NotFound(f"no listing {resource_id} with metadata is known here")
    if not meta.tail_url:
        raise NotFound(f"listing {resource_id} names no tail service",
                       hint="Only split models whose owner set `tail_url` in the listing metadata have a tail.")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise TailUnavailable(f"the activations ({len(body)} bytes) exceed the {MAX_BODY} bytes forwarded",
                              hint="Send the batch in smaller parts.")
    url = f"{meta.tail_url.rstrip('/')}/v1/tail/{split}"
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
            reply = await http.post(url, content=body, headers={"content-type": "application/json"})
    except httpx.HTTPError as exc:
        raise TailUnavailable(f"the tail of listing {resource_id} cannot be reached ({type(exc).__name__})") from exc
    try:
        payload = reply.json()
    except ValueError as exc:
        raise TailUnavailable(f"the tail of listing {resource_id} answered {reply.status_code} without JSON") from exc
    return JSONResponse(payload, status_code=reply.status_code)
