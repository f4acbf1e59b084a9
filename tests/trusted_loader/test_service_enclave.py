"""The service enclave end to end on this machine: a tiny random Llama folder served by the real
``engines.chat_server`` in the sandbox (as root; unsandboxed otherwise), behind the real HTTPS
proxy, with session tokens, receipts and vouchers signed by real keys.

An integration test: the engine's start (torch import, model load) takes ~20 s, once per module.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import secrets
import socket
import ssl
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from eth_account import Account

from enclava.protocol.service_terms import ServiceTerms
from enclava.protocol.serving import (
    RECEIPT_HEADER,
    VOUCHER_HEADER,
    Cumulative,
    Receipt,
    SseSplitter,
    check_receipt,
    decode_receipt_header,
    decode_statement,
    encode_session_token,
    encode_voucher_header,
    is_receipt_event,
    issue_session_token,
    parse_receipt_event,
    sha256_hex,
    sign_voucher_envelope,
    verify_statement,
)
from engines.chat_server.tiny_model import build_tiny_llama
from trusted_loader.serving import ServingEnclave, ServingSettings, tls_spki_sha256

CHAIN_ID, MARKET = 31337, "0x" + "5a" * 20
MODEL_HASH, WEIGHTS = "0x" + "ab" * 32, "0x" + "cd" * 32
CHAT = "/v1/chat/completions"


def _enclave_certificate(account) -> str:
    """A stand-in for the CA-issued certificate of the enclave key (the client checks its chain)."""
    key = ec.derive_private_key(int(account.key.hex(), 16), ec.SECP256K1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, account.address)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    root = tmp_path_factory.mktemp("serving")
    model = build_tiny_llama(root / "model")
    enclave = Account.create()
    terms = ServiceTerms(
        nonce=1,
        provider="0x" + "11" * 20,
        tee_offer_id=1,
        tee_type=0,
        model_id=1,
        model_owner="0x" + "22" * 20,
        model_hash=MODEL_HASH,
        input_token_price=3,
        output_token_price=5,
        provider_per_token=False,
        provider_price=1000,
        ends_at=int(time.time()) + 3600,
    )
    settings = ServingSettings(
        hosts=("127.0.0.1", "localhost"),
        bind_host="127.0.0.1",
        port=0,
        chain_id=CHAIN_ID,
        service_market=MARKET,
        model_name="tiny",
        engine_memory_mb=4096,
        engine_threads=2,
        engine_startup_timeout_s=300,
        insecure_unsandboxed_engine=os.geteuid() != 0,
        scratch_root=str(root / "scratch"),
    )
    serving = ServingEnclave(
        account=enclave,
        enclave_certificate_pem=_enclave_certificate(enclave),
        terms=terms,
        service_id=terms.service_id,
        model_dir=model,
        model_hash=MODEL_HASH,
        weights_sha256=WEIGHTS,
        settings=settings,
    )
    serving.start()
    serving.serve_in_thread()
    yield serving
    serving.stop()
    assert not any((root / "scratch").iterdir())  # the scratch area is wiped


@pytest.fixture(scope="module")
def statement(service):
    with httpx.Client(verify=False) as client:  # fetched first, verified, then pinned
        answer = client.get(f"https://127.0.0.1:{service.port}/v1/enclava/attestation")
    assert answer.status_code == 200
    return decode_statement(answer.content)


@pytest.fixture(scope="module")
def pinned(service, statement):
    context = ssl.create_default_context(cadata=statement.tls_certificate)
    with httpx.Client(
        base_url=f"https://localhost:{service.port}", verify=context, timeout=60
    ) as client:
        yield client


class Customer:
    def __init__(self, service: ServingEnclave, client: httpx.Client) -> None:
        self.account = Account.create()
        self.service, self.client = service, client
        self.sequence, self.cumulative = 0, Cumulative()
        token = issue_session_token(
            self.account, service_id=service.service_id, expires_at=int(time.time()) + 600
        )
        self.auth = {"authorization": "Bearer " + encode_session_token(token)}

    def voucher(self) -> dict[str, str]:
        signed = sign_voucher_envelope(
            self.account, self.service.terms, self.cumulative, chain_id=CHAIN_ID, contract=MARKET
        )
        return {VOUCHER_HEADER: encode_voucher_header(signed)}

    def check(self, receipt: Receipt, path: str, body: bytes, response_sha256: str) -> None:
        check_receipt(
            receipt,
            enclave=self.service.account.address,
            service_id=self.service.service_id,
            customer=self.account.address,
            model_hash=MODEL_HASH,
            method="GET" if path.startswith("/v1/models") else "POST",
            path=path,
            request_body=body,
            response_sha256=response_sha256,
            after_sequence=self.sequence,
            previous=self.cumulative,
        )
        self.sequence, self.cumulative = receipt.sequence, receipt.cumulative

    def chat(self, text: str, *, stream: bool = False, **extra: object) -> tuple[bytes, Receipt]:
        body = json.dumps(
            {
                "model": "tiny",
                "messages": [{"role": "user", "content": text}],
                "max_tokens": 6,
                "stream": stream,
                **extra,
            }
        ).encode()
        headers = {**self.auth, "content-type": "application/json"}
        if self.sequence:
            headers.update(self.voucher())
        if not stream:
            answer = self.client.post(CHAT, content=body, headers=headers)
            assert answer.status_code == 200, answer.text
            receipt = decode_receipt_header(answer.headers[RECEIPT_HEADER])
            self.check(receipt, CHAT, body, sha256_hex(answer.content))
            return answer.content, receipt
        with self.client.stream("POST", CHAT, content=body, headers=headers) as answer:
            assert answer.status_code == 200
            raw = b"".join(answer.iter_raw())
        blocks = SseSplitter().feed(raw)
        assert blocks[-1] == b"data: [DONE]\n\n" and is_receipt_event(blocks[-2])
        receipt = parse_receipt_event(blocks[-2])
        self.check(receipt, CHAT, body, sha256_hex(b"".join(blocks[:-2])))
        return b"".join(blocks[:-2]), receipt


def test_statement_is_signed_by_the_enclave_and_binds_the_served_tls_key(service, statement):
    verify_statement(statement)
    assert statement.enclave == service.account.address
    assert (statement.service_id, statement.model_hash) == (service.service_id, MODEL_HASH)
    assert (statement.weights_sha256, statement.model_name) == (WEIGHTS, "tiny")
    served = ssl.get_server_certificate(("127.0.0.1", service.port))
    assert tls_spki_sha256(served) == statement.tls_spki_sha256
    assert tls_spki_sha256(statement.tls_certificate) == statement.tls_spki_sha256


def test_a_pinned_client_refuses_another_tls_key(service):
    from trusted_loader.serving import make_tls_identity

    other = make_tls_identity(("localhost",), not_after=int(time.time()) + 60)
    with pytest.raises(ssl.SSLError):
        with socket.create_connection(("127.0.0.1", service.port)) as raw:
            other.client_context().wrap_socket(raw, server_hostname="localhost")


def test_requests_without_a_valid_session_token_are_refused(service, pinned):
    body = {"model": "tiny", "messages": [{"role": "user", "content": "hi"}]}
    someone = Account.create()
    now = int(time.time())
    wrong_service = issue_session_token(someone, service_id="0x" + "99" * 32, expires_at=now + 60)
    expired = issue_session_token(someone, service_id=service.service_id, expires_at=now - 1)
    for headers in (
        {},
        {"authorization": "Bearer not-a-token"},
        {"authorization": "Bearer " + encode_session_token(wrong_service)},
        {"authorization": "Bearer " + encode_session_token(expired)},
    ):
        answer = pinned.post(CHAT, json=body, headers=headers)
        assert answer.status_code == 401
        error = answer.json()["error"]
        assert error["type"] == "authentication_error" and error["code"] == "session_refused"
        assert RECEIPT_HEADER not in answer.headers
    assert pinned.get("/v1/models").status_code == 401


def test_non_streamed_answer_carries_a_receipt_over_its_exact_bytes(service, pinned):
    customer = Customer(service, pinned)
    content, receipt = customer.chat("what is a tuple?")
    usage = json.loads(content)["usage"]
    assert (receipt.prompt_tokens, receipt.completion_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    assert receipt.sequence == 1 and receipt.compute_ms >= 1
    assert receipt.cumulative == Cumulative(
        usage["prompt_tokens"], usage["completion_tokens"], receipt.compute_ms
    )


def test_stream_receipt_covers_every_byte_and_the_forced_usage_chunk_is_dropped(service, pinned):
    customer = Customer(service, pinned)
    sent, receipt = customer.chat("tell me about lists", stream=True)
    chunks = [json.loads(b[6:]) for b in SseSplitter().feed(sent)]
    assert chunks and all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert all(c["choices"] for c in chunks)  # the usage-only chunk the enclave asked for is gone
    assert receipt.completion_tokens >= 1 and receipt.prompt_tokens >= 1
    sent, receipt = customer.chat("and dicts", stream=True, stream_options={"include_usage": True})
    last = json.loads(SseSplitter().feed(sent)[-1][6:])
    assert last["choices"] == [] and last["usage"]["completion_tokens"] == receipt.completion_tokens
    assert receipt.sequence == 2


def test_credit_rule_needs_a_voucher_for_all_but_one_response(service, pinned):
    customer = Customer(service, pinned)
    customer.chat("first")
    body = {"model": "tiny", "messages": [{"role": "user", "content": "second"}], "max_tokens": 2}
    refused = pinned.post(CHAT, json=body, headers=customer.auth)
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "payment_required" and "enclava-voucher" in error["hint"]
    too_much = sign_voucher_envelope(
        customer.account,
        service.terms,
        customer.cumulative.plus(1, 0, 0),
        chain_id=CHAIN_ID,
        contract=MARKET,
    )
    over = pinned.post(
        CHAT, json=body, headers={**customer.auth, VOUCHER_HEADER: encode_voucher_header(too_much)}
    )
    assert over.status_code == 400 and over.json()["error"]["code"] == "voucher_refused"
    customer.chat("second, paid")  # with the voucher for the first response
    assert customer.sequence == 2


def test_models_route_is_signed_and_free(service, pinned):
    customer = Customer(service, pinned)
    answer = pinned.get("/v1/models", headers=customer.auth)
    assert answer.status_code == 200 and answer.json()["data"][0]["id"] == "tiny"
    receipt = decode_receipt_header(answer.headers[RECEIPT_HEADER])
    customer.check(receipt, "/v1/models", b"", sha256_hex(answer.content))
    assert receipt.cumulative == Cumulative() and receipt.sequence == 1
    card = pinned.get("/v1/models/tiny", headers=customer.auth)
    assert card.status_code == 200 and card.json()["id"] == "tiny"
    receipt = decode_receipt_header(card.headers[RECEIPT_HEADER])
    customer.check(receipt, "/v1/models/tiny", b"", sha256_hex(card.content))
    unknown = pinned.get("/v1/models/other", headers=customer.auth)
    assert unknown.status_code == 404 and RECEIPT_HEADER not in unknown.headers
    customer.chat("still on credit")  # a free answer used none of the credit


def test_engine_refusals_keep_the_openai_shape_and_count_nothing(service, pinned):
    customer = Customer(service, pinned)
    answer = pinned.post(
        CHAT,
        json={"model": "another", "messages": [{"role": "user", "content": "x"}]},
        headers=customer.auth,
    )
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "model_not_found"
    not_json = pinned.post(CHAT, content=b"{", headers=customer.auth)
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "request_refused"
    assert service.ledger.sequence(customer.account.address) == 0
    customer.chat("the credit is untouched")


def _completion_text(content: bytes) -> str:
    """The generated text of a saved answer (one JSON body, or a stream's chunks)."""
    if not content.startswith(b"data: "):
        return json.loads(content)["choices"][0]["message"]["content"]
    chunks = [json.loads(block[6:]) for block in SseSplitter().feed(content)]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def test_customers_are_isolated_and_nothing_of_their_text_is_logged(service, pinned, caplog):
    caplog.set_level(logging.DEBUG)
    alice, bob = Customer(service, pinned), Customer(service, pinned)
    prompt = {alice: f"alice-{secrets.token_hex(8)}", bob: f"bob-{secrets.token_hex(8)}"}
    seen: dict[Customer, list[bytes]] = {alice: [], bob: []}
    for round_ in range(2):
        for customer in (alice, bob):
            content, receipt = customer.chat(prompt[customer], stream=bool(round_))
            seen[customer].append(content)
            assert receipt.customer == customer.account.address
            assert receipt.sequence == round_ + 1
    assert alice.cumulative != Cumulative() and bob.cumulative != Cumulative()
    assert service.ledger.cumulative(alice.account.address) == alice.cumulative
    assert service.ledger.cumulative(bob.account.address) == bob.cumulative
    for customer, other in ((alice, bob), (bob, alice)):
        assert all(prompt[other].encode() not in content for content in seen[customer])
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "served" in logged  # the proxy did log its requests, by path and status
    for customer in (alice, bob):
        assert prompt[customer] not in logged
        assert customer.auth["authorization"][7:] not in logged
        for content in seen[customer]:
            text = _completion_text(content)
            assert len(text) < 8 or text not in logged


def test_a_stream_the_client_leaves_gets_no_receipt_and_costs_no_credit(service, pinned):
    customer = Customer(service, pinned)
    body = {
        "model": "tiny",
        "messages": [{"role": "user", "content": "write a lot"}],
        "max_tokens": 480,
        "stream": True,
    }
    with pinned.stream("POST", CHAT, json=body, headers=customer.auth) as answer:
        assert answer.status_code == 200
        next(answer.iter_raw())  # the first chunk, then the client goes away
    deadline = time.monotonic() + 60
    while service.ledger.in_flight(customer.account.address) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.ledger.in_flight(customer.account.address) == 0
    assert service.ledger.sequence(customer.account.address) == 0  # no receipt, nothing counted
    customer.chat("the credit is back")


def test_vouchers_route_lists_each_customers_latest_voucher(service, pinned):
    customer = Customer(service, pinned)
    customer.chat("one")
    customer.chat("two")  # carries the voucher for the first response
    answer = pinned.get("/v1/enclava/vouchers")
    assert answer.status_code == 200
    listed = answer.json()
    assert listed["service_id"] == service.service_id
    mine = [v for v in listed["vouchers"] if v["customer"] == customer.account.address]
    assert len(mine) == 1
    assert (
        mine[0]["amount"]
        == service.terms.price(
            mine[0]["input_tokens"], mine[0]["output_tokens"], mine[0]["compute_ms"]
        )[2]
    )
    assert mine[0]["input_tokens"] > 0 and mine[0]["signature"].startswith("0x")


def test_healthz_answers_while_the_engine_runs(service, pinned):
    assert pinned.get("/healthz").json()["status"] == "ok"
    assert Path(str(service.engine.socket_path)).exists()


def test_the_official_openai_client_through_enclavas_transport(service, statement):
    """The client side's own verifier (``ServiceTransport``) accepts every answer, streamed or
    not; the chain and CA guards of ``verify_service`` are the client's tests, so the verified
    service is built here from the statement."""
    import httpx2
    import openai

    from enclava.client.serving._certificates import CertifiedFacts
    from enclava.client.serving._tls import Origin
    from enclava.client.serving.transport import ServiceTransport
    from enclava.client.serving.verify import VerifiedService

    der = x509.load_pem_x509_certificate(statement.tls_certificate.encode()).public_bytes(
        serialization.Encoding.DER
    )
    verified = VerifiedService(
        endpoint=f"https://127.0.0.1:{service.port}",
        origin=Origin("127.0.0.1", service.port),
        statement=statement,
        terms=service.terms,
        chain_id=CHAIN_ID,
        service_market=MARKET,
        certificate_der=der,
        facts=CertifiedFacts(statement.enclave, 0, b"", "0x" + "11" * 20, True, 0),
    )
    customer = Account.create()
    transport = ServiceTransport(verified, customer)
    client = openai.OpenAI(
        base_url=verified.endpoint + "/v1",
        api_key=transport.api_key,
        http_client=httpx2.Client(transport=transport),
    )
    messages = [{"role": "user", "content": "hello"}]
    first = client.chat.completions.create(model="tiny", messages=messages, max_tokens=4)
    assert first.usage is not None and first.usage.completion_tokens >= 1
    chunks = list(
        client.chat.completions.create(model="tiny", messages=messages, max_tokens=4, stream=True)
    )
    assert chunks and all(chunk.choices for chunk in chunks)
    text = client.completions.create(model="tiny", prompt="def f", max_tokens=3)
    assert text.choices[0].text is not None
    assert [e.receipt.sequence for e in transport.journal] == [1, 2, 3]
    assert service.ledger.latest_vouchers()  # the second and third requests carried vouchers
    assert transport.vouched == service.ledger.cumulative(customer.address)
    client.close()
