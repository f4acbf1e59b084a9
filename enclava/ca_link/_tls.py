"""TLS pieces of the attested channel: read the certificate a server presents, and trust only it.

The first connection verifies nothing (the CA's certificate is self-signed: its trust comes from
attestation, not from a PKI); it only learns which certificate the peer proves it holds. Every
later connection uses :func:`pinned_context`, which trusts exactly that certificate, so a changed
key fails the handshake instead of being used.
"""

from __future__ import annotations

import socket
import ssl

from enclava.ca_link.errors import CaUnreachable

__all__ = ["presented_certificate", "pinned_context"]


def presented_certificate(host: str, port: int, *, timeout: float) -> bytes:
    """The DER certificate the server at ``host:port`` completes a TLS handshake with."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        raise CaUnreachable(
            f"no TLS connection to the CA at {host}:{port} ({type(exc).__name__})"
        ) from exc
    if not der:
        raise CaUnreachable(f"the server at {host}:{port} presented no certificate")
    return der


def pinned_context(certificate_der: bytes) -> ssl.SSLContext:
    """A client context that trusts ``certificate_der`` and nothing else (no hostname check: the pin
    is the exact certificate)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=certificate_der)
    return context
