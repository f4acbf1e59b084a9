"""Sign-in state: single-use SIWE nonces and signed, expiring session tokens.

A token is ``base64url(payload).base64url(HMAC-SHA256(secret, payload))`` with payload
``{"sid", "sub", "exp"}``; the session row lets logout revoke it before it expires. The same token
travels as an HttpOnly cookie (browsers) or an ``Authorization: Bearer`` header (programs).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any, cast

from sqlalchemy import CursorResult, Result, update
from sqlalchemy.orm import Session, sessionmaker

from marketplace_api import db
from marketplace_api.errors import NonceInvalid, NotSignedIn, SessionExpired

__all__ = ["SessionAuthority", "COOKIE_NAME"]

COOKIE_NAME = "enclava_session"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE matched (SQLAlchemy types ``execute`` as a plain ``Result``)."""
    return int(cast("CursorResult[Any]", result).rowcount)


class SessionAuthority:
    def __init__(
        self, sessions: sessionmaker[Session], *, secret: bytes, ttl_s: int, nonce_ttl_s: int
    ) -> None:
        self._db = sessions
        self._secret = secret
        self.ttl_s = ttl_s
        self.nonce_ttl_s = nonce_ttl_s

    # ------------------------------------------------------------------ nonces
    def new_nonce(self) -> tuple[str, float]:
        nonce, now = secrets.token_hex(16), time.time()
        with self._db.begin() as session:
            session.add(db.SiweNonce(nonce=nonce, created_at=now, used=False))
        return nonce, now + self.nonce_ttl_s

    def consume_nonce(self, nonce: str, *, now: float | None = None) -> None:
        """Mark ``nonce`` used; one atomic UPDATE so two concurrent sign-ins cannot both win."""
        now = time.time() if now is None else now
        with self._db.begin() as session:
            done = _rowcount(
                session.execute(
                    update(db.SiweNonce)
                    .where(
                        db.SiweNonce.nonce == nonce,
                        db.SiweNonce.used.is_(False),
                        db.SiweNonce.created_at > now - self.nonce_ttl_s,
                    )
                    .values(used=True)
                )
            )
        if done != 1:
            raise NonceInvalid("the nonce is unknown, expired or already used")

    # ------------------------------------------------------------------ sessions
    def issue(self, address: str) -> tuple[str, float]:
        sid, expires = secrets.token_hex(16), time.time() + self.ttl_s
        with self._db.begin() as session:
            session.add(db.AuthSession(sid=sid, address=address, expires_at=expires, revoked=False))
        payload = json.dumps(
            {"sid": sid, "sub": address, "exp": int(expires)}, separators=(",", ":")
        ).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}", expires

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()

    def _payload(self, token: str) -> dict[str, Any]:
        try:
            body, mac = token.split(".")
            payload = _unb64(body)
            good = hmac.compare_digest(_unb64(mac), self._mac(payload))
            claims = json.loads(payload) if good else None
        except (ValueError, json.JSONDecodeError) as exc:
            raise NotSignedIn("the session token is malformed") from exc
        if not isinstance(claims, dict) or not claims:
            raise NotSignedIn("the session token's signature is invalid")
        return claims

    def address_of(self, token: str | None) -> str:
        """The wallet of a valid session; :class:`NotSignedIn` otherwise."""
        if not token:
            raise NotSignedIn("sign in first: this action needs a wallet session")
        claims = self._payload(token)
        if claims["exp"] <= time.time():
            raise SessionExpired("the session has expired")
        with self._db() as session:
            row = session.get(db.AuthSession, claims["sid"])
        if row is None or row.revoked or row.address != claims["sub"]:
            raise NotSignedIn("the session was ended (logged out)")
        return row.address

    def revoke(self, token: str | None) -> None:
        if not token:
            return
        claims = self._payload(token)
        with self._db.begin() as session:
            row = session.get(db.AuthSession, claims["sid"])
            if row is not None:
                row.revoked = True
