"""Where the marketplace may send a split model's activations: the tail_url policy and a pinned
transport.

A listing's ``tail_url`` is chosen by whoever lists a model, and the API POSTs to it, so it is an
outbound request the public can aim. The rule, checked where a listing is accepted and again on
every forward:

- ``https://`` only, a host and nothing else (no credentials, query or fragment: the API appends
  ``/v1/tail/{split}`` to a base URL, and ``#`` or ``?`` would cut that off);
- every address the host resolves to is public: no loopback, private, link-local, multicast,
  unspecified, reserved, shared (CGNAT) or cloud-metadata address (169.254.169.254, fd00:ec2::254);
  IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.

The check is made on the address actually connected to: :class:`PinnedTransport` resolves the name
once per request, validates every address, and connects to the first one while keeping the name in
the Host header and as the TLS server name (SNI and certificate check), so DNS that answers a public
address to the check and a private one to the connection (rebinding) cannot switch it. Redirects are
never followed. ``MARKET_INSECURE_ALLOW_LOOPBACK_TAIL`` (devnet only) also admits plain http and
loopback addresses, never private or other non-public ones.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

import anyio.to_thread
import httpx

from marketplace_api.errors import (
    TailDestinationRefused,
    TailUnavailable,
    TailUrlRefused,
)

__all__ = ["TailPolicy", "PinnedTransport", "Resolver", "address_problem", "system_resolver"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (``getaddrinfo``, TCP), in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_problem(address: Address, *, allow_loopback: bool = False) -> str | None:
    """Why the marketplace must not connect to ``address`` (None when it is a public address)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            address = address.ipv4_mapped
        else:  # 6to4 and NAT64 carry an IPv4 destination: it must be public too
            carried = address.sixtofour or (
                ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in NAT64 else None
            )
            problem = address_problem(carried) if carried is not None else None
            if problem:
                return f"{problem} (carried in {address})"
    if address in METADATA:
        return "a cloud metadata address"
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    checks = (
        ("an unspecified", address.is_unspecified),
        ("a link-local", address.is_link_local),
        ("a multicast", address.is_multicast),
        ("a reserved", address.is_reserved),
        ("a private", address.is_private),
        ("a site-local", isinstance(address, ipaddress.IPv6Address) and address.is_site_local),
    )
    for name, hit in checks:
        if hit:
            return f"{name} address"
    if not address.is_global:
        return "not a public address"
    return None


@dataclass(frozen=True)
class TailPolicy:
    """The tail_url rule; ``allow_loopback`` is the devnet's opt-in (http and loopback allowed)."""

    allow_loopback: bool = False
    resolver: Resolver = system_resolver

    def check_url(
        self,
        url: str | httpx.URL,
        refuse: type[TailUrlRefused | TailDestinationRefused] = TailUrlRefused,
    ) -> httpx.URL:
        """The URL's shape: scheme, host, no credentials, query or fragment (no DNS yet)."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise refuse(f"the tail_url {str(url)[:200]!r} is not a URL") from exc
        schemes = ("https", "http") if self.allow_loopback else ("https",)
        if parsed.scheme not in schemes:
            raise refuse(f"the tail_url must be https://, not {parsed.scheme or 'schemeless'}")
        if not parsed.host:
            raise refuse("the tail_url names no host")
        if parsed.userinfo or parsed.query or parsed.fragment or "#" in str(url) or "?" in str(url):
            raise refuse("the tail_url must be a plain base URL: no credentials, query or fragment")
        return parsed

    def addresses(
        self, url: httpx.URL, refuse: type[TailUrlRefused | TailDestinationRefused] = TailUrlRefused
    ) -> list[Address]:
        """Resolve the host once and validate every address (raises ``refuse`` naming the first bad
        one)."""
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            names = [url.host] if _is_ip(url.host) else self.resolver(url.host, port)
            resolved = [ipaddress.ip_address(a.split("%")[0]) for a in names]
        except (OSError, UnicodeError, ValueError) as exc:
            error = refuse if refuse is TailUrlRefused else TailUnavailable
            raise error(
                f"the tail host {url.host!r} does not resolve ({type(exc).__name__})",
                hint="Check the tail_url's host name; it must resolve in public DNS.",
            ) from exc
        if not resolved:
            raise refuse(f"the tail host {url.host!r} resolves to no address")
        for address in resolved:
            problem = address_problem(address, allow_loopback=self.allow_loopback)
            if problem:
                raise refuse(f"the tail host {url.host!r} resolves to {address}, {problem}")
            if (
                url.scheme == "http" and not address.is_loopback
            ):  # the opt-in admits plain http on loopback only
                raise refuse(
                    f"the tail_url must be https:// unless it is on loopback ({address} is not)"
                )
        return resolved

    def check_listing(self, tail_url: str | None) -> None:
        """The check where a listing is accepted: shape, then every resolved address."""
        if tail_url is not None:
            self.addresses(self.check_url(tail_url))


class PinnedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that connects only to validated addresses, pinned for the request.

    The name is resolved once (off the event loop), every address checked by the policy, and the
    connection made to the first address; the Host header and the TLS server name stay the name,
    so the certificate is checked against it as usual.
    """

    def __init__(self, policy: TailPolicy, *, verify: ssl.SSLContext | bool = True) -> None:
        self.policy = policy
        self._inner = httpx.AsyncHTTPTransport(verify=verify, trust_env=False, retries=0)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = self.policy.check_url(request.url, TailDestinationRefused)
        addresses = await anyio.to_thread.run_sync(
            self.policy.addresses, url, TailDestinationRefused
        )
        pinned = str(addresses[0])
        extensions = dict(request.extensions)
        if url.scheme == "https" and not _is_ip(url.host):
            extensions["sni_hostname"] = url.host
        request.url = url.copy_with(
            host=pinned
        )  # the Host header, set from the original URL, is kept
        request.extensions = extensions
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
