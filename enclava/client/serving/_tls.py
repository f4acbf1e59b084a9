"""TLS to a service enclave: one unverified pre-flight that sends nothing secret, then a pin.

The pre-flight (:func:`fetch_statement`) completes one TLS handshake without verifying anything,
learns the certificate the server proves it holds, and sends one ``GET /v1/enclava/attestation``
with no credentials on that very connection. Nothing in it is secret: the statement is public, and
an attacker who answers it gains nothing, because the statement must then pass every guard.

Every later connection uses :func:`pinned_context`: it trusts exactly the statement's self-signed
certificate and nothing else (no system CAs). Hostname checking is off, which is safe here: the
trust store holds one certificate, whose key the enclave alone holds and bound into the statement
it signed, so only the enclave can complete the handshake whatever name the provider's host
answers under; a hostname would add no assurance (the host is the provider's, and untrusted).
"""

from __future__ import annotations

import socket
import ssl
from typing import NamedTuple
from urllib.parse import urlsplit

import h11

from enclava.client.serving.errors import ServiceUnreachable, ServiceUrlInsecure
from enclava.protocol.serving import ATTESTATION_PATH

__all__ = ["Origin", "parse_origin", "fetch_statement", "pinned_context"]

_MAX_STATEMENT = 1 << 20


class Origin(NamedTuple):
    """``(host, port)`` of an ``https://`` endpoint."""

    host: str
    port: int


def parse_origin(url: str) -> Origin:
    """The ``(host, port)`` of an https URL (:class:`ServiceUrlInsecure` otherwise)."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ServiceUrlInsecure(f"the service endpoint {url!r} is not an https:// URL")
    try:
        port = parts.port or 443
    except ValueError as exc:
        raise ServiceUrlInsecure(f"the service endpoint {url!r} has an invalid port") from exc
    return Origin(parts.hostname, port)


def _unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def fetch_statement(origin: Origin, *, timeout: float) -> tuple[bytes, bytes]:
    """``(certificate DER, statement body)`` from one unverified TLS connection to ``origin``."""
    host, port = origin
    request = h11.Request(
        method="GET",
        target=ATTESTATION_PATH,
        headers=[
            ("Host", f"{host}:{port}"),
            ("Accept", "application/json"),
            ("Connection", "close"),
        ],
    )
    conn = h11.Connection(our_role=h11.CLIENT)
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            _unverified_context().wrap_socket(raw, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
            tls.sendall(conn.send(request) + conn.send(h11.EndOfMessage()))
            status, body = _read_response(conn, tls)
    except (OSError, ssl.SSLError, h11.ProtocolError) as exc:
        raise ServiceUnreachable(
            f"no attestation from the service at {host}:{port} ({type(exc).__name__})"
        ) from exc
    if not der:
        raise ServiceUnreachable(f"the service at {host}:{port} presented no certificate")
    if status != 200:
        raise ServiceUnreachable(f"the service's attestation route answered HTTP {status}")
    return der, body


def _read_response(conn: h11.Connection, tls: ssl.SSLSocket) -> tuple[int, bytes]:
    status, body = 0, b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(tls.recv(65536))
        elif isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.Data):
            body += bytes(event.data)
            if len(body) > _MAX_STATEMENT:
                raise h11.RemoteProtocolError("the statement is too large")
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            return status, body


def pinned_context(certificate_der: bytes) -> ssl.SSLContext:
    """A client context that trusts ``certificate_der`` and nothing else (see the module doc)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False  # the pin is the exact certificate (module docstring)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=certificate_der)
    return context
