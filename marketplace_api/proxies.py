"""Who the client is: proxy headers are believed only from the proxies the operator names.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are the word of whoever sent them. A peer listed in
``MARKET_TRUSTED_PROXIES`` (addresses or CIDR networks, default none) is believed: the client is the
right-most address in ``X-Forwarded-For`` that is not itself a trusted proxy (the left part of the
header is the client's own claim). From any other peer the headers are ignored and the client is the
TCP peer. The service runs uvicorn with its own proxy handling off (``marketplace_api.main``), so
this middleware is the one place that decides; the rate limit keys on what it decides.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from marketplace_api.errors import TrustedProxiesInvalid

__all__ = ["TrustedProxies", "ProxyHeadersMiddleware"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


class TrustedProxies:
    """The configured proxy networks; empty (the default) trusts nobody's headers."""

    def __init__(self, entries: Iterable[str]) -> None:
        networks: list[Network] = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError as exc:
                raise TrustedProxiesInvalid(
                    f"MARKET_TRUSTED_PROXIES entry {entry!r} is no address or network"
                ) from exc
        self.networks = tuple(networks)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusts(self, host: str) -> bool:
        address = _ip(host)
        return address is not None and any(address in network for network in self.networks)

    def client_of(self, peer: str, forwarded_for: str | None) -> str:
        """The client's address: ``peer`` unless it is a trusted proxy that says who it forwards."""
        if not forwarded_for or not self.trusts(peer):
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            address = _ip(hop)
            if address is None:
                return peer  # a malformed hop: believe nothing further left than the proxy itself
            if not self.trusts(str(address)):
                return str(address)
        return str(_ip(hops[0])) if hops else peer


class ProxyHeadersMiddleware:
    """Rewrites the ASGI scope's client (and scheme) from proxy headers sent by a trusted proxy
    only."""

    def __init__(self, app: ASGIApp, proxies: TrustedProxies) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.proxies and scope.get("client"):
            peer, port = scope["client"]
            if self.proxies.trusts(peer):
                headers: dict[str, list[str]] = {}
                for key, value in scope["headers"]:
                    headers.setdefault(key.decode("latin-1").lower(), []).append(
                        value.decode("latin-1")
                    )
                client = self.proxies.client_of(peer, ",".join(headers.get("x-forwarded-for", [])))
                scope = dict(scope, client=(client, port if client == peer else 0))
                proto = (
                    ",".join(headers.get("x-forwarded-proto", [])).split(",")[-1].strip().lower()
                )
                if proto in ("http", "https"):
                    scheme = (
                        proto if scope["type"] == "http" else {"http": "ws", "https": "wss"}[proto]
                    )
                    scope["scheme"] = scheme
        await self.app(scope, receive, send)
