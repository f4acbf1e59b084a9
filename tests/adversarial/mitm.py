"""A man in the middle of the loader <-> CA link, as real network programs: a TCP relay that
terminates TLS with its own certificate and relays the bytes, and an HTTPS proxy that rewrites the
CA's answers. Shared by the channel tests and the loader-level attack tests."""

from __future__ import annotations

import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certification_authority.tls import issue_tls_certificate

__all__ = ["Tamper", "tls_relay", "tampering_proxy"]

Tamper = Callable[[str, bytes], bytes]  # (request path, response body) -> the body the client gets


def _attacker_tls(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """The attacker's own TLS server identity (a fresh key, valid names), and an unverifying
    client."""
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp / "mitm-cert.pem").write_bytes(
        issue_tls_certificate(key, "enclava-ca", ("127.0.0.1", "localhost")).public_bytes(
            serialization.Encoding.PEM
        )
    )
    (tmp / "mitm-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp / "mitm-cert.pem", tmp / "mitm-key.pem")
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
    return server, client


def _relay(down: socket.socket, up: socket.socket) -> None:
    """Copy bytes both ways in one thread (an SSL socket is not shared between threads) until one
    end closes."""
    ends = [down, up]
    try:
        while True:
            ready = [end for end in ends if isinstance(end, ssl.SSLSocket) and end.pending()]
            if not ready:
                ready, _, _ = select.select(ends, [], [], 60)
                if not ready:
                    return
            for end in ready:
                data = end.recv(65536)
                if not data:
                    return
                (up if end is down else down).sendall(data)
    except OSError:  # ssl.SSLError included: a peer that hangs up mid-record
        return
    finally:
        for end in ends:
            end.close()


@contextmanager
def tls_relay(upstream: str, tmp: Path) -> Iterator[str]:
    """A TCP proxy that terminates TLS with its own certificate, re-originates TLS to ``upstream``
    and relays the bytes unchanged both ways; yields its https URL."""
    host, port = httpx.URL(upstream).host, httpx.URL(upstream).port
    server_tls, client_tls = _attacker_tls(tmp)
    listener = socket.create_server(("127.0.0.1", 0))

    def handle(raw: socket.socket) -> None:
        try:
            down = server_tls.wrap_socket(raw, server_side=True)
            up = client_tls.wrap_socket(
                socket.create_connection((host, port), timeout=30), server_hostname=host
            )
        except (OSError, ssl.SSLError):
            raw.close()
            return
        _relay(down, up)

    def accept() -> None:
        while True:
            try:
                raw, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=handle, args=(raw,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


@contextmanager
def tampering_proxy(upstream: str, tmp: Path, tamper: Tamper) -> Iterator[str]:
    """An HTTPS proxy (its own certificate) that forwards each request to ``upstream`` over a fresh
    TLS connection and hands back ``tamper(path, body)`` instead of the CA's body; yields its
    URL."""
    server_tls, _ = _attacker_tls(tmp)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            return

        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            reply = httpx.request(
                self.command,
                upstream + self.path,
                content=body,
                verify=False,
                timeout=60,
                headers={"content-type": self.headers.get("Content-Type", "application/json")},
            )
            content = tamper(self.path, reply.content)
            self.send_response(reply.status_code)
            self.send_header("Content-Type", reply.headers.get("content-type", "application/json"))
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = _forward  # noqa: N815 - http.server's naming

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
