"""A test-only service enclave for the client's unit tests: TLS with a self-signed P-256 key,
statements and receipts signed with a test key through enclava.protocol.serving, and switches
for each way a hostile enclave or path can misbehave.

It is a fake of trusted_loader.serving (a unit test of the client module): the real enclave is
tested in tests/trusted_loader/ and end to end on the devnet.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from eth_account import Account
from eth_account.signers.local import LocalAccount

from certification_authority.certificates import issue_ca_certificate, issue_enclave_certificate
from enclava.chain.types import EnclaveRecord, EnclaveStatus
from enclava.protocol.csr import build_csr
from enclava.protocol.eip191 import sign_bytes
from enclava.protocol.service_terms import ServiceTerms
from enclava.protocol.serving import (
    ATTESTATION_PATH,
    DONE_EVENT,
    RECEIPT_HEADER,
    VOUCHER_HEADER,
    Cumulative,
    Receipt,
    ServiceStatement,
    SignedVoucher,
    bearer_token,
    certificate_spki_sha256,
    decode_voucher_header,
    encode_receipt_header,
    encode_statement,
    receipt_event,
    sha256_hex,
    sign_receipt,
    sign_statement,
    verify_session_token,
    verify_voucher_envelope,
)
from enclava.protocol.tee import TeeType

CHAIN_ID = 31337
MARKET = "0x" + "5e" * 20
PROVIDER = "0x" + "01" * 20
MODEL_HASH = "0x" + "cd" * 32
MEASUREMENT = b"\x42" * 48


def tls_identity(tmp: Path, name: str) -> tuple[Path, Path, str]:
    """A fresh self-signed P-256 certificate (an end-entity one, as the enclave makes): its
    certificate file, key file and PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    cert_path, key_path = tmp / f"{name}.crt", tmp / f"{name}.key"
    cert_path.write_text(pem)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path, pem


@dataclass
class Ca:
    key: ec.EllipticCurvePrivateKey
    pem: str
    cert: x509.Certificate


def make_ca(name: str = "Test CA") -> Ca:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = issue_ca_certificate(key, name)
    return Ca(key, cert.public_bytes(serialization.Encoding.PEM).decode("ascii"), cert)


def enclave_identity(
    ca: Ca, *, provider: str = PROVIDER, tee_type: int = TeeType.TDX, simulated: bool = False
) -> tuple[LocalAccount, str]:
    """A secp256k1 enclave key (as an eth account) and its certificate from ``ca``."""
    key = ec.generate_private_key(ec.SECP256K1())
    csr = x509.load_pem_x509_csr(build_csr(key, "age1testrecipient"))
    cert = issue_enclave_certificate(
        ca.key,
        ca.cert,
        csr,
        tee_type=int(tee_type),
        measurement=MEASUREMENT,
        provider_address=provider,
        simulated=simulated,
        now=int(time.time()) - 60,
        lifetime_s=86400,
    )
    account = Account.from_key(key.private_numbers().private_value.to_bytes(32, "big"))
    return account, cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def make_terms(**changes: Any) -> ServiceTerms:
    terms = ServiceTerms(
        nonce=1,
        provider=PROVIDER,
        tee_offer_id=3,
        tee_type=int(TeeType.TDX),
        model_id=2,
        model_owner="0x" + "02" * 20,
        model_hash=MODEL_HASH,
        input_token_price=7,
        output_token_price=11,
        provider_per_token=True,
        provider_price=2,
        ends_at=int(time.time()) + 86400,
    )
    return replace(terms, **changes)


@dataclass
class FakeChain:
    """An in-memory ServiceChainView."""

    terms: ServiceTerms
    enclave: str
    bound: str | None = "the enclave"  # the enclave bound on chain ("the enclave": ``enclave``)
    status: EnclaveStatus = EnclaveStatus.VALID
    record_provider: str = PROVIDER
    record_tee: int = int(TeeType.TDX)
    record_ca: str = "0x" + "ca" * 20
    live: bool = True
    gpu_class: str = ""
    chain_id: int = CHAIN_ID
    service_market: str = MARKET

    def service_terms(self, service_id: str) -> ServiceTerms | None:
        return self.terms if service_id.lower() == self.terms.service_id else None

    def service_live(self, service_id: str) -> bool:
        return self.live and service_id.lower() == self.terms.service_id

    def service_enclave(self, service_id: str) -> str | None:
        return self.enclave if self.bound == "the enclave" else self.bound

    def enclave_status(self, address: str) -> tuple[EnclaveStatus, EnclaveRecord]:
        import hashlib

        record = EnclaveRecord(
            address=address,
            provider=self.record_provider,
            tee_type=self.record_tee,
            expires_at=int(time.time()) + 3600,
            revoked=self.status == EnclaveStatus.REVOKED,
            ca=self.record_ca,
            measurement=hashlib.sha256(MEASUREMENT).digest(),
        )
        return self.status, record

    def tee_offer_gpu_class(self, tee_offer_id: int) -> str:
        return self.gpu_class


@dataclass
class Behaviour:
    """How the fake enclave misbehaves (all off: an honest enclave)."""

    tamper_body: bool = False
    tamper_chunk: bool = False
    no_receipt: bool = False
    other_key: LocalAccount | None = None
    replay_sequence: bool = False
    inflate_cumulative: int = 0
    inflate_usage: int = 0
    compute_ms: int = 5
    data_after_receipt: bool = False
    refuse_status: int = 0  # answer every exchange with this HTTP status (no receipt)
    gate: threading.Event | None = None  # set by the client once it holds the first chunk
    gate_opened: list[bool] = field(default_factory=list)


@dataclass
class FakeEnclave:
    """The fake's state: what it signs with, what it saw."""

    account: LocalAccount
    statement: ServiceStatement
    terms: ServiceTerms
    behaviour: Behaviour = field(default_factory=Behaviour)
    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    attestation_headers: list[dict[str, str]] = field(default_factory=list)
    vouchers: list[SignedVoucher] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    counts: dict[str, tuple[int, Cumulative]] = field(default_factory=dict)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def receipt(
        self,
        customer: str,
        method: str,
        path: str,
        body: bytes,
        response: bytes,
        prompt: int,
        completion: int,
    ) -> Receipt:
        b = self.behaviour
        with self.lock:
            sequence, cumulative = self.counts.get(customer, (0, Cumulative()))
            if not (b.replay_sequence and sequence > 0):
                sequence += 1
            cumulative = cumulative.plus(prompt, completion, b.compute_ms)
            self.counts[customer] = (sequence, cumulative)
        signed_cumulative = cumulative.plus(b.inflate_cumulative, 0, 0)
        receipt = Receipt(
            service_id=self.terms.service_id,
            enclave=self.account.address,
            customer=customer,
            sequence=sequence,
            method=method,
            path=path,
            request_sha256=sha256_hex(body),
            response_sha256=sha256_hex(response),
            model_hash=self.statement.model_hash,
            prompt_tokens=prompt,
            completion_tokens=completion,
            compute_ms=b.compute_ms,
            cumulative=signed_cumulative,
            created_at=int(time.time()),
        )
        if b.other_key is not None:
            receipt = replace(receipt, signature=sign_bytes(b.other_key, receipt.signing_bytes()))
        else:
            receipt = sign_receipt(self.account, receipt)
        self.receipts.append(receipt)
        return receipt


def _chunks(text: str) -> Iterator[bytes]:
    for i in range(0, len(text), 3):
        chunk = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "pydoc-tiny",
            "choices": [{"index": 0, "delta": {"content": text[i : i + 3]}, "finish_reason": None}],
        }
        yield b"data: " + json.dumps(chunk).encode() + b"\n\n"


def _answer(path: str, request: dict[str, Any], prompt: int, completion: int) -> dict[str, Any]:
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if path == "/v1/completions":
        return {
            "id": "cmpl-1",
            "object": "text_completion",
            "created": 0,
            "model": "pydoc-tiny",
            "choices": [{"index": 0, "text": " world", "finish_reason": "stop", "logprobs": None}],
            "usage": usage,
        }
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "pydoc-tiny",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hello there"},
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }


def _handler(enclave: FakeEnclave) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
            return

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path == ATTESTATION_PATH:
                enclave.attestation_headers.append({k.lower(): v for k, v in self.headers.items()})
                self._send(
                    200, encode_statement(enclave.statement), {"content-type": "application/json"}
                )
                return
            self._serve(b"")

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("content-length", "0"))
            self._serve(self.rfile.read(length))

        def _serve(self, body: bytes) -> None:
            enclave.bodies.append(body)
            enclave.headers.append({k.lower(): v for k, v in self.headers.items()})
            if enclave.behaviour.refuse_status:
                error = {"error": {"message": "refused", "type": "x", "param": None, "code": None}}
                self._send(enclave.behaviour.refuse_status, json.dumps(error).encode(), {})
                return
            try:
                token = bearer_token(self.headers.get("authorization"))
                customer = verify_session_token(
                    token, service_id=enclave.terms.service_id, now=int(time.time())
                )
            except Exception as exc:  # noqa: BLE001 - the fake answers any refusal with 401
                self._send(401, json.dumps({"error": str(exc)}).encode(), {})
                return
            if VOUCHER_HEADER in self.headers:
                voucher = decode_voucher_header(self.headers[VOUCHER_HEADER])
                verify_voucher_envelope(voucher, chain_id=CHAIN_ID, contract=MARKET)
                enclave.vouchers.append(voucher)
            path = self.path.split("?")[0]
            if path == "/v1/models":
                answer = json.dumps(
                    {
                        "object": "list",
                        "data": [
                            {"id": "pydoc-tiny", "object": "model", "created": 0, "owned_by": "x"}
                        ],
                    }
                ).encode()
                receipt = enclave.receipt(customer, "GET", path, body, answer, 0, 0)
                self._send(
                    200,
                    answer,
                    {
                        "content-type": "application/json",
                        RECEIPT_HEADER: encode_receipt_header(receipt),
                    },
                )
                return
            request = json.loads(body)
            prompt, completion = 4, 2
            if request.get("stream"):
                self._stream(customer, path, body, prompt, completion)
                return
            answer_obj = _answer(path, request, prompt, completion)
            answer_obj["usage"]["completion_tokens"] += enclave.behaviour.inflate_usage
            answer = json.dumps(answer_obj).encode()
            receipt = enclave.receipt(customer, "POST", path, body, answer, prompt, completion)
            if enclave.behaviour.tamper_body:
                answer = answer.replace(b"hello", b"HELLO")
            headers = {"content-type": "application/json"}
            if not enclave.behaviour.no_receipt:
                headers[RECEIPT_HEADER] = encode_receipt_header(receipt)
            self._send(200, answer, headers)

        def _stream(
            self, customer: str, path: str, body: bytes, prompt: int, completion: int
        ) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("connection", "close")
            self.end_headers()
            blocks = list(_chunks("hello there"))
            # counted before sending, as an enclave that generated it: a client that hangs up
            # early is still counted (and its receipt never reaches it)
            receipt = enclave.receipt(
                customer, "POST", path, body, b"".join(blocks), prompt, completion
            )
            for block in blocks:
                if enclave.behaviour.tamper_chunk and b"the" in block:
                    block = block.replace(b"the", b"THE")
                self.wfile.write(block)
                self.wfile.flush()
                gate = enclave.behaviour.gate
                if gate is not None and not enclave.behaviour.gate_opened:
                    # a deadlock guard, not a timing: the client opens the gate on the first chunk
                    enclave.behaviour.gate_opened.append(gate.wait(timeout=30))
            if not enclave.behaviour.no_receipt:
                self.wfile.write(receipt_event(receipt))
            if enclave.behaviour.data_after_receipt:
                self.wfile.write(next(_chunks("late")))
            self.wfile.write(DONE_EVENT)
            self.wfile.flush()
            self.close_connection = True

    return Handler


@dataclass
class Served:
    enclave: FakeEnclave
    server: ThreadingHTTPServer
    thread: threading.Thread
    cert_pem: str
    ca: Ca
    chain: FakeChain

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def serve(tmp: Path, *, ca: Ca | None = None, statement_tls_pem: str | None = None) -> Served:
    """Start a fake enclave on 127.0.0.1 (a free port) over TLS; its statement names its own TLS
    certificate unless ``statement_tls_pem`` is given."""
    ca = ca or make_ca()
    account, enclave_cert = enclave_identity(ca)
    cert_path, key_path, pem = tls_identity(tmp, "enclave-tls")
    terms = make_terms()
    named = statement_tls_pem or pem
    statement = sign_statement(
        account,
        ServiceStatement(
            service_id=terms.service_id,
            chain_id=CHAIN_ID,
            enclave=account.address,
            model_hash=terms.model_hash,
            weights_sha256="0x" + "ee" * 32,
            model_name="pydoc-tiny",
            tls_certificate=named,
            tls_spki_sha256=certificate_spki_sha256(named),
            enclave_certificate=enclave_cert,
            issued_at=int(time.time()),
        ),
    )
    enclave = FakeEnclave(account=account, statement=statement, terms=terms)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(enclave))
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    enclave.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    chain = FakeChain(terms=terms, enclave=account.address)
    return Served(enclave, server, thread, pem, ca, chain)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    s = serve(tmp_path)
    yield s
    s.stop()


def test_fake_enclave_answers_its_signed_statement(served: Served) -> None:
    from enclava.client.serving._tls import fetch_statement, parse_origin
    from enclava.protocol.serving import decode_statement, verify_statement

    der, body = fetch_statement(parse_origin(served.enclave.url), timeout=10)
    statement = decode_statement(body)
    verify_statement(statement)
    assert statement == served.enclave.statement
    assert der == x509.load_pem_x509_certificate(served.cert_pem.encode()).public_bytes(
        serialization.Encoding.DER
    )
    assert served.enclave.bodies == []  # the pre-flight is not an exchange
