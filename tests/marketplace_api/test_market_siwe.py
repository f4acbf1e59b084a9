"""Sign-in with Ethereum against the real service (in-process) on the devnet chain."""

from __future__ import annotations

import time

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from market_helpers import sign_in

from marketplace_api.errors import SignInFailed
from marketplace_api.siwe import SiweMessage, build_message, iso, parse_message

pytestmark = pytest.mark.devnet


def _signed(account, message: str) -> dict:
    return {
        "message": message,
        "signature": "0x" + account.sign_message(encode_defunct(text=message)).signature.hex(),
    }


def _message(client, account, **changes) -> str:
    nonce = client.get("/v1/auth/nonce").json()
    now = time.time()
    fields = dict(
        domain=nonce["domain"],
        address=account.address,
        statement="Sign in.",
        uri=nonce["uri"],
        chain_id=nonce["chain_id"],
        nonce=nonce["nonce"],
        issued_at=iso(now),
        expiration_time=iso(now + 300),
    )
    fields.update(changes)
    return build_message(SiweMessage(**fields))


def test_sign_in_opens_a_session_by_cookie_and_bearer_and_logout_ends_it(market):
    wallet = Account.create()
    token = sign_in(market, wallet)
    assert market.cookies.get("enclava_session") == token
    assert market.get("/v1/auth/session").json()["address"] == wallet.address
    market.cookies.clear()
    bearer = {"Authorization": f"Bearer {token}"}
    assert market.get("/v1/auth/session", headers=bearer).json()["address"] == wallet.address
    assert market.post("/v1/auth/logout", headers=bearer).status_code == 200
    after = market.get("/v1/auth/session", headers=bearer)
    assert after.status_code == 401 and after.json()["type"] == "not_signed_in"


def test_sign_in_with_another_wallets_signature_is_refused(market):
    wallet, thief = Account.create(), Account.create()
    body = _signed(thief, _message(market, wallet))
    reply = market.post("/v1/auth/verify", json=body)
    assert reply.status_code == 401
    assert (
        reply.json()["type"] == "sign_in_failed"
        and "not from the address" in reply.json()["detail"]
    )


def test_sign_in_with_an_expired_message_is_refused(market):
    wallet = Account.create()
    old = time.time() - 600
    reply = market.post(
        "/v1/auth/verify",
        json=_signed(
            wallet, _message(market, wallet, issued_at=iso(old), expiration_time=iso(old + 60))
        ),
    )
    assert reply.status_code == 401 and reply.json()["type"] == "sign_in_expired"


def test_sign_in_replaying_a_used_nonce_is_refused(market):
    wallet = Account.create()
    body = _signed(wallet, _message(market, wallet))
    assert market.post("/v1/auth/verify", json=body).status_code == 200
    again = market.post("/v1/auth/verify", json=body)
    assert again.status_code == 401 and again.json()["type"] == "nonce_invalid"


def test_sign_in_with_a_nonce_never_issued_is_refused(market):
    wallet = Account.create()
    reply = market.post(
        "/v1/auth/verify", json=_signed(wallet, _message(market, wallet, nonce="abcdef0123456789"))
    )
    assert reply.status_code == 401 and reply.json()["type"] == "nonce_invalid"


def test_sign_in_for_another_domain_or_chain_is_refused(market):
    wallet = Account.create()
    other_site = market.post(
        "/v1/auth/verify", json=_signed(wallet, _message(market, wallet, domain="evil.example"))
    )
    assert other_site.status_code == 401 and "evil.example" in other_site.json()["detail"]
    other_chain = market.post(
        "/v1/auth/verify", json=_signed(wallet, _message(market, wallet, chain_id=1))
    )
    assert other_chain.status_code == 401 and "chain 1" in other_chain.json()["detail"]


def test_tampered_bearer_token_is_refused(market):
    token = sign_in(market, Account.create())
    market.cookies.clear()
    body, mac = token.split(".")
    forged = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + mac
    reply = market.get("/v1/auth/session", headers={"Authorization": f"Bearer {forged}"})
    assert reply.status_code == 401 and reply.json()["type"] == "not_signed_in"


def test_message_build_and_parse_round_trip():
    msg = SiweMessage(
        domain="market.example",
        address=Account.create().address,
        statement="Hello.",
        uri="https://market.example",
        chain_id=31337,
        nonce="a1b2c3d4e5f6a7b8",
        issued_at="2026-01-01T00:00:00Z",
        expiration_time="2026-01-01T00:10:00Z",
        resources=("ipfs://bafy", "https://market.example/terms"),
    )
    text = build_message(msg)
    assert text.splitlines()[0] == "market.example wants you to sign in with your Ethereum account:"
    assert parse_message(text) == msg


def test_parse_refuses_a_lowercase_address_and_extra_lines():
    msg = SiweMessage(
        domain="d",
        address=Account.create().address,
        uri="https://d",
        chain_id=1,
        nonce="a1b2c3d4e5f6a7b8",
        issued_at="2026-01-01T00:00:00Z",
    )
    text = build_message(msg)
    with pytest.raises(SignInFailed):
        parse_message(text.replace(msg.address, msg.address.lower()))
    with pytest.raises(SignInFailed):
        parse_message(text + "\nEvil: yes")
