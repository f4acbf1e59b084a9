"""What routes share: the app's services (chain, DB, sessions, settings) and the signed-in
wallet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from eth_account.signers.local import LocalAccount
from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from marketplace_api.auth import COOKIE_NAME, SessionAuthority
from marketplace_api.chain import MarketChain
from marketplace_api.indexer import Indexer
from marketplace_api.settings import MarketSettings
from marketplace_api.tail_egress import TailPolicy

__all__ = ["Services", "services", "db_session", "session_token", "current_wallet"]


@dataclass
class Services:
    settings: MarketSettings
    chain: MarketChain
    chain_id: int
    sessions: sessionmaker[Session]
    auth: SessionAuthority
    indexer: Indexer
    relayer: LocalAccount | None
    tail_policy: TailPolicy


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def db_session(request: Request) -> Iterator[Session]:
    with services(request).sessions() as session:
        yield session


def session_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(COOKIE_NAME)


def current_wallet(request: Request) -> str:
    """The checksummed address of the signed-in wallet (401 in the one error shape otherwise)."""
    return services(request).auth.address_of(session_token(request))
