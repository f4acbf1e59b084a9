"""Sign-in with Ethereum: nonce → verify (session cookie + bearer token) → logout."""

from __future__ import annotations

import time
from typing import Any

from eth_utils.address import is_address, to_checksum_address
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from marketplace_api.auth import COOKIE_NAME
from marketplace_api.deps import current_wallet, services, session_token
from marketplace_api.errors import AddressInvalid
from marketplace_api.openapi import ERROR_RESPONSES
from marketplace_api.siwe import SiweMessage, build_message, check_message, iso

__all__ = ["router"]

router = APIRouter(prefix="/v1/auth", tags=["sign-in"], responses=ERROR_RESPONSES)
STATEMENT = "Sign in to the Enclava marketplace."


class VerifyRequest(BaseModel):
    message: str = Field(max_length=4000, description="the EIP-4361 message, exactly as signed")
    signature: str = Field(max_length=200, description="EIP-191 personal_sign signature (0x hex)")


@router.get(
    "/nonce", summary="A fresh single-use nonce (and a ready message when ?address= is given)"
)
def nonce(request: Request, address: str | None = Query(None, max_length=64)) -> dict[str, Any]:
    svc = services(request)
    if address and not is_address(address):
        raise AddressInvalid(f"{address!r} is not an Ethereum address")
    value, expires = svc.auth.new_nonce()
    # the domain and URI come from the settings: what the request's Host header says is the client's
    # word
    reply: dict[str, Any] = {
        "nonce": value,
        "expires_at": iso(expires),
        "domain": svc.settings.siwe_domain,
        "chain_id": svc.chain_id,
        "uri": svc.settings.siwe_uri,
        "statement": STATEMENT,
    }
    if address:
        now = time.time()
        reply["message"] = build_message(
            SiweMessage(
                domain=svc.settings.siwe_domain,
                address=to_checksum_address(address),
                statement=STATEMENT,
                uri=svc.settings.siwe_uri,
                chain_id=svc.chain_id,
                nonce=value,
                issued_at=iso(now),
                expiration_time=iso(now + svc.auth.nonce_ttl_s),
            )
        )
    return reply


@router.post("/verify", summary="Check a signed EIP-4361 message and open a session")
def verify(body: VerifyRequest, request: Request, response: Response) -> dict[str, Any]:
    svc = services(request)
    msg = check_message(
        body.message,
        body.signature,
        domain=svc.settings.siwe_domain,
        uri=svc.settings.siwe_uri,
        chain_id=svc.chain_id,
        now=time.time(),
    )
    svc.auth.consume_nonce(msg.nonce)
    token, expires = svc.auth.issue(msg.address)
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=svc.auth.ttl_s,
        httponly=True,
        samesite="lax",
        secure=not svc.settings.insecure_http_cookies,
        path="/",
    )
    return {"address": msg.address, "token": token, "expires_at": iso(expires)}


@router.get("/session", summary="The signed-in wallet")
def session(address: str = Depends(current_wallet)) -> dict[str, Any]:
    return {"address": address}


@router.post("/logout", summary="End the session (the token stops working at once)")
def logout(request: Request, response: Response) -> dict[str, Any]:
    services(request).auth.revoke(session_token(request))
    response.delete_cookie(COOKIE_NAME, path="/")
    return {"status": "signed out"}
