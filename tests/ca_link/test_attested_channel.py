"""connect_attested_ca against a real local HTTPS server that answers ``/v1/ca`` the way the CA does
(simulated evidence from the dev PKI, checked by the CA's own verifier pipeline), and against
servers that lie in each way the channel must catch."""

from __future__ import annotations

import hashlib
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pyrage
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from eth_account import Account

from certification_authority.certificates import issue_ca_certificate
from certification_authority.tls import issue_tls_certificate
from enclava.attestation import SimulatedTdxAttester
from enclava.attestation.verifiers import InMemoryMeasurementAllowList, ca_evidence_verifier
from enclava.ca_link import (
    CaChannelInsecure,
    CaEvidenceRefused,
    CaIdentity,
    CaIdentityMalformed,
    CaIdentityMismatch,
    CaSignerUnexpected,
    CaUnreachable,
    bind_ca_identity,
    connect_attested_ca,
    spki_sha256,
)
from enclava.protocol.tee import TeeType

MEASUREMENT = hashlib.sha384(b"a CA build").digest()
SIGNER = Account.from_key(hashlib.sha256(b"ca signer").digest())
Answer = Callable[[CaIdentity, bytes | None], dict]


def _pem(cert) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _tls_pair(tmp: Path, name: str) -> tuple[Path, Path, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = issue_tls_certificate(key, "test-ca", ("127.0.0.1", "localhost"))
    certfile, keyfile = tmp / f"{name}-cert.pem", tmp / f"{name}-key.pem"
    certfile.write_text(_pem(cert))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certfile, keyfile, _pem(cert)


def _identity(tls_pem: str) -> CaIdentity:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    return CaIdentity(
        ca_id="test-ca",
        ca_certificate_pem=_pem(issue_ca_certificate(ca_key, "test-ca")),
        signer_address=SIGNER.address,
        age_recipient=str(pyrage.x25519.Identity.generate().to_public()),
        tls_certificate_pem=tls_pem,
    )


def honest(identity: CaIdentity, nonce: bytes | None) -> dict:
    body = identity.to_json()
    if nonce is not None:
        body["evidence"] = json.loads(
            SimulatedTdxAttester(MEASUREMENT).attest(bind_ca_identity(nonce, identity)).to_json()
        )
    return body


@contextmanager
def serving(
    tmp: Path,
    answer: Answer = honest,
    *,
    name: str = "ca",
    port: int = 0,
    identity_pem: str | None = None,
) -> Iterator[tuple[str, CaIdentity]]:
    """An HTTPS server on 127.0.0.1 answering ``/v1/ca`` with ``answer(identity, nonce)``."""
    certfile, keyfile, pem = _tls_pair(tmp, name)
    identity = _identity(identity_pem or pem)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            return

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urlparse(self.path)
            nonce = parse_qs(url.query).get("nonce", [None])[0]
            body = json.dumps(
                answer(identity, bytes.fromhex(nonce) if nonce else None)
                if url.path == "/v1/ca"
                else {"status": "ok"}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certfile, keyfile)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", identity
    finally:
        server.shutdown()
        server.server_close()


def verifier(*, allowed: bool = True, simulated: bool = True):
    entries = [(TeeType.SIMULATED, MEASUREMENT)] if allowed else []
    return ca_evidence_verifier(
        InMemoryMeasurementAllowList(entries), insecure_allow_simulated_tee=simulated
    )


def test_an_honest_ca_is_attested_and_pinned(tmp_path):
    with serving(tmp_path) as (url, identity):
        with connect_attested_ca(
            url, verify_evidence=verifier(), expected_signer=SIGNER.address.lower()
        ) as ca:
            assert ca.identity.tls_spki_sha256 == identity.tls_spki_sha256
            assert (ca.ca_id, ca.signer_address, ca.age_recipient) == (
                "test-ca",
                SIGNER.address,
                identity.age_recipient,
            )
            assert ca.claims.measurement == MEASUREMENT and ca.claims.simulated
            assert ca.client.get("/healthz").json() == {"status": "ok"}


def test_plain_http_is_refused_before_any_connection():
    for url in ("http://127.0.0.1:1", "127.0.0.1:8700", "ftp://ca", "https://"):
        with pytest.raises(CaChannelInsecure) as refused:
            connect_attested_ca(url, verify_evidence=verifier())
        assert "https" in refused.value.hint


def test_nothing_listening_is_unreachable(tmp_path):
    with serving(tmp_path) as (url, _):
        pass
    with pytest.raises(CaUnreachable):
        connect_attested_ca(url, verify_evidence=verifier(), timeout=2)


def test_an_identity_naming_another_tls_key_is_refused(tmp_path):
    _, _, other_pem = _tls_pair(tmp_path, "other")
    with serving(tmp_path, identity_pem=other_pem) as (url, _):
        with pytest.raises(CaIdentityMismatch):
            connect_attested_ca(url, verify_evidence=verifier())


def test_evidence_bound_to_another_nonce_is_refused(tmp_path):
    stale = bytes(32)
    with serving(tmp_path, lambda identity, _nonce: honest(identity, stale)) as (url, _):
        with pytest.raises(CaIdentityMismatch):
            connect_attested_ca(url, verify_evidence=verifier())


def test_evidence_bound_to_another_identity_is_refused(tmp_path):
    def lying(identity: CaIdentity, nonce: bytes | None) -> dict:
        return {
            **honest(identity, nonce),
            "age_recipient": str(pyrage.x25519.Identity.generate().to_public()),
        }

    with serving(tmp_path, lying) as (url, _):
        with pytest.raises(CaIdentityMismatch):
            connect_attested_ca(url, verify_evidence=verifier())


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"allowed": False}, "measurement_not_allowed"),
        ({"simulated": False}, "simulated_tee_refused"),
    ],
)
def test_evidence_the_verifier_refuses_is_refused_with_its_reason(tmp_path, kwargs, reason):
    with serving(tmp_path) as (url, _):
        with pytest.raises(CaEvidenceRefused) as refused:
            connect_attested_ca(url, verify_evidence=verifier(**kwargs))
    assert refused.value.reason == reason


def test_a_ca_without_evidence_is_refused(tmp_path):
    with serving(tmp_path, lambda identity, _nonce: identity.to_json()) as (url, _):
        with pytest.raises(CaEvidenceRefused) as refused:
            connect_attested_ca(url, verify_evidence=verifier())
    assert refused.value.reason == "evidence_missing"


def test_a_verifier_that_breaks_refuses(tmp_path):
    def broken(_evidence, _report_data):
        raise RuntimeError("chain down")

    with serving(tmp_path) as (url, _):
        with pytest.raises(CaEvidenceRefused) as refused:
            connect_attested_ca(url, verify_evidence=broken)
    assert refused.value.reason == "verifier_failed"


@pytest.mark.parametrize(
    "answer",
    [
        lambda i, n: {**honest(i, n), "extra": 1},
        lambda i, n: [],
        lambda i, n: {**honest(i, n), "signer_address": "not an address"},
        lambda i, n: {**honest(i, n), "evidence": {"quote": "x"}},
    ],
)
def test_a_malformed_identity_is_refused(tmp_path, answer):
    with serving(tmp_path, answer) as (url, _):
        with pytest.raises(CaIdentityMalformed):
            connect_attested_ca(url, verify_evidence=verifier())


def test_another_signer_than_expected_is_refused(tmp_path):
    with serving(tmp_path) as (url, _):
        with pytest.raises(CaSignerUnexpected):
            connect_attested_ca(
                url, verify_evidence=verifier(), expected_signer=Account.create().address
            )


def test_a_pinned_client_refuses_the_ca_once_its_key_changes(tmp_path):
    with serving(tmp_path) as (url, _):
        ca = connect_attested_ca(url, verify_evidence=verifier())
    port = int(url.rsplit(":", 1)[1])
    with serving(tmp_path, name="rotated", port=port):
        with pytest.raises(httpx.ConnectError) as refused:
            ca.client.get("/healthz")
    assert "CERTIFICATE_VERIFY_FAILED" in str(refused.value)
    ca.close()


def test_the_binding_covers_each_field_and_the_nonce():
    pem = _pem(issue_tls_certificate(ec.generate_private_key(ec.SECP256R1()), "x", ["localhost"]))
    identity = _identity(pem)
    base = bind_ca_identity(bytes(32), identity)
    assert len(base) == 64 and base != bind_ca_identity(b"\x01" * 32, identity)
    for change in (
        {"ca_id": "other"},
        {"signer_address": Account.create().address},
        {"age_recipient": str(pyrage.x25519.Identity.generate().to_public())},
        {
            "tls_certificate_pem": _pem(
                issue_ca_certificate(ec.generate_private_key(ec.SECP256R1()), "y")
            )
        },
        {"ca_certificate_pem": pem},
    ):
        changed = CaIdentity(**{**identity.__dict__, **change})
        assert bind_ca_identity(bytes(32), changed) != base, change
    lowercase = CaIdentity(**{**identity.__dict__, "signer_address": SIGNER.address.lower()})
    assert bind_ca_identity(bytes(32), lowercase) == base  # the signer goes in checksummed
    assert spki_sha256(pem) == identity.tls_spki_sha256
