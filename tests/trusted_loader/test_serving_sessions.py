"""The proxy verifies a session token in full once, then knows it by its bytes until it expires:
an expired, foreign or altered token is still refused."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from eth_account import Account
from starlette.requests import Request

from enclava.protocol.serving import encode_session_token, issue_session_token
from trusted_loader.serving import SessionRefused
from trusted_loader.serving.proxy import _Proxy

SERVICE = "0x" + "ab" * 32
NOW = 1_800_000_000


def _request(header: str) -> Request:
    return Request({"type": "http", "headers": [(b"authorization", header.encode())]})


def _proxy(clock: list[int]) -> _Proxy:
    return _Proxy(SimpleNamespace(service_id=SERVICE, clock=lambda: clock[0]))  # type: ignore[arg-type]


def _bearer(account, *, service_id: str = SERVICE, expires_at: int = NOW + 60) -> str:
    token = issue_session_token(account, service_id=service_id, expires_at=expires_at)
    return "Bearer " + encode_session_token(token)


def test_a_known_token_is_recognised_until_it_expires():
    clock = [NOW]
    proxy, customer = _proxy(clock), Account.create()
    header = _bearer(customer)
    assert proxy.authenticate(_request(header)) == customer.address
    assert proxy.authenticate(_request(header)) == customer.address
    clock[0] = NOW + 60
    with pytest.raises(SessionRefused):
        proxy.authenticate(_request(header))


def test_a_token_for_another_service_or_altered_is_refused_even_beside_a_known_one():
    proxy = _proxy([NOW])
    customer = Account.create()
    proxy.authenticate(_request(_bearer(customer)))
    with pytest.raises(SessionRefused):
        proxy.authenticate(_request(_bearer(customer, service_id="0x" + "cd" * 32)))
    header = _bearer(customer)
    altered = header[:-6] + ("A" if header[-6] != "A" else "B") + header[-5:]
    with pytest.raises(SessionRefused):
        proxy.authenticate(_request(altered))
