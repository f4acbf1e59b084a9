"""The tail_url policy and the pinned transport: every resolved address checked, the connection made
to the checked address with the name kept as Host and TLS server name, DNS rebinding refused."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from marketplace_api.errors import TailDestinationRefused, TailUrlRefused
from marketplace_api.tail_egress import PinnedTransport, TailPolicy, address_problem
from tests.e2e.provider_process import free_port

PUBLIC = "93.184.215.14"


def _resolver(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("name does not resolve")
        return table[host]

    return resolve


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "0.0.0.0",
        "::",
        "169.254.169.254",
        "fd00:ec2::254",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.0.1",
        "100.64.0.1",
        "fe80::1",
        "fc00::1",
        "224.0.0.251",
        "ff02::1",
        "240.0.0.1",
        "255.255.255.255",
        "::ffff:10.0.0.1",
        "2002:7f00:1::1",
        "64:ff9b::a00:1",
        "192.0.2.1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", [PUBLIC, "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


def test_loopback_opt_in_admits_loopback_only() -> None:
    assert address_problem(ipaddress.ip_address("127.0.0.1"), allow_loopback=True) is None
    assert address_problem(ipaddress.ip_address("10.0.0.1"), allow_loopback=True) is not None
    assert address_problem(ipaddress.ip_address("169.254.169.254"), allow_loopback=True) is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://tail.example/",
        "ftp://tail.example/",
        "https://u:p@tail.example/",
        "https://tail.example/#",
        "https://tail.example/?a=1",
        "https:///nohost",
        "not a url",
    ],
)
def test_urls_that_are_not_a_plain_https_base_are_refused(url: str) -> None:
    policy = TailPolicy(resolver=_resolver({"tail.example": [PUBLIC]}))
    with pytest.raises(TailUrlRefused):
        policy.check_listing(url)


def test_a_name_is_refused_when_any_of_its_addresses_is_not_public() -> None:
    policy = TailPolicy(
        resolver=_resolver({"tail.example": [PUBLIC], "mixed.example": [PUBLIC, "10.0.0.7"]})
    )
    policy.check_listing("https://tail.example/base")
    with pytest.raises(TailUrlRefused) as refused:
        policy.check_listing("https://mixed.example/")
    assert "10.0.0.7" in refused.value.message and "private" in refused.value.message
    with pytest.raises(TailUrlRefused, match="does not resolve"):
        policy.check_listing("https://unknown.example/")


def test_the_opt_in_admits_plain_http_on_loopback_but_not_elsewhere() -> None:
    policy = TailPolicy(allow_loopback=True, resolver=_resolver({"tail.example": [PUBLIC]}))
    policy.check_listing("http://127.0.0.1:8080")
    with pytest.raises(TailUrlRefused, match="https"):
        policy.check_listing("http://tail.example/")


# --------------------------------------------------------------------------------- real connections


def _echo_app(hits: list[str]) -> Starlette:
    async def tail(request: Request) -> JSONResponse:
        hits.append(request.headers.get("host", ""))
        return JSONResponse({"host": request.headers.get("host")})

    return Starlette(routes=[Route("/v1/tail/{split}", tail, methods=["POST"])])


@contextmanager
def _serving(app: Starlette, **ssl_options: str) -> Iterator[int]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, log_level="warning", **ssl_options
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the test server did not start"
            time.sleep(0.02)
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _post(policy: TailPolicy, url: str, verify: ssl.SSLContext | bool = True) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=PinnedTransport(policy, verify=verify), timeout=10
        ) as http:
            return await http.post(url, json={"activations": [[0.0]]})

    return anyio.run(go)


def test_the_connection_goes_to_the_checked_address_and_keeps_the_name_as_host() -> None:
    hits: list[str] = []
    policy = TailPolicy(allow_loopback=True, resolver=_resolver({"tail.test": ["127.0.0.1"]}))
    with _serving(_echo_app(hits)) as port:
        reply = _post(policy, f"http://tail.test:{port}/v1/tail/x")
    assert reply.status_code == 200 and reply.json()["host"] == f"tail.test:{port}"


def test_dns_rebinding_after_the_listing_check_is_refused_at_the_connection() -> None:
    answers = iter(
        [[PUBLIC], ["127.0.0.1"]]
    )  # public when the listing is checked, loopback when forwarding

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    hits: list[str] = []
    policy = TailPolicy(resolver=rebinding)
    with _serving(_echo_app(hits)) as port:
        policy.check_listing(f"https://rebind.test:{port}")
        with pytest.raises(TailDestinationRefused, match="loopback"):
            _post(policy, f"https://rebind.test:{port}/v1/tail/x")
    assert hits == []  # nothing reached the local service


def _tls_files(folder: Path, name: str) -> tuple[Path, Path, Path]:
    now = datetime.datetime.now(datetime.UTC)
    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test tail CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(2)
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "leaf.pem", folder / "leaf.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def test_https_to_a_pinned_address_checks_the_certificate_against_the_name(tmp_path: Path) -> None:
    ca, cert, key = _tls_files(tmp_path, "tail.test")
    trust = ssl.create_default_context(cafile=str(ca))
    hits: list[str] = []
    policy = TailPolicy(
        allow_loopback=True,
        resolver=_resolver({"tail.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}),
    )
    with _serving(_echo_app(hits), ssl_certfile=str(cert), ssl_keyfile=str(key)) as port:
        reply = _post(policy, f"https://tail.test:{port}/v1/tail/x", verify=trust)
        assert reply.status_code == 200 and reply.json()["host"] == f"tail.test:{port}"
        with pytest.raises(
            httpx.ConnectError
        ):  # same address, another name: the certificate does not match
            _post(policy, f"https://other.test:{port}/v1/tail/x", verify=trust)
