"""ServiceTransport under the official openai client, against a fake enclave over real TLS: every
response verified, every tamper refused with its typed error, vouchers only for receipted usage."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import httpx2
import openai
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from eth_account import Account
from openai.types.chat import ChatCompletionMessageParam

from enclava.client.serving import (
    RequestNotForService,
    SavedResponseInvalid,
    ServiceDistrusted,
    ServiceTransport,
    StreamMalformed,
    TlsPinFailed,
    VerifiedService,
    save_response,
    verify_saved_response,
    verify_service,
)
from enclava.protocol import errors
from enclava.protocol.service_terms import price_of
from enclava.protocol.serving import Cumulative
from tests.client.test_serving_fake_enclave import Served, make_ca, serve, tls_identity

CUSTOMER = Account.from_key("0x" + "c1" * 32)
OTHER = Account.from_key("0x" + "0e" * 32)
MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "What is a list comprehension?"}
]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    s = serve(tmp_path)
    yield s
    s.stop()


@pytest.fixture
def service(served: Served) -> VerifiedService:
    return verify_service(
        served.enclave.url,
        served.enclave.terms.service_id,
        served.chain,
        ca_certificate_pem=served.ca.pem,
        timeout=10,
    )


def _client(service: VerifiedService, **kwargs: object) -> tuple[openai.OpenAI, ServiceTransport]:
    transport = ServiceTransport(service, CUSTOMER, **kwargs)  # type: ignore[arg-type]
    client = openai.OpenAI(
        base_url=service.endpoint + "/v1",
        api_key=transport.api_key,
        http_client=httpx2.Client(transport=transport, timeout=30),
        max_retries=0,
    )
    return client, transport


def _chat(client: openai.OpenAI, max_tokens: int | None = None) -> str:
    reply = client.chat.completions.create(
        model="pydoc-tiny", messages=MESSAGES, max_tokens=max_tokens
    )
    return str(reply.choices[0].message.content)


def _stream(client: openai.OpenAI) -> str:
    stream = client.chat.completions.create(model="pydoc-tiny", messages=MESSAGES, stream=True)
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream)


def test_openai_chat_completions_and_models_work_through_the_transport(
    served: Served, service: VerifiedService
) -> None:
    client, transport = _client(service)
    assert _chat(client) == "hello there"
    completion = client.completions.create(model="pydoc-tiny", prompt="hello")
    assert completion.choices[0].text == " world"
    assert [m.id for m in client.models.list()] == ["pydoc-tiny"]
    assert [e.receipt.sequence for e in transport.journal] == [1, 2, 3]
    assert [e.path for e in transport.journal] == [
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/models",
    ]
    # the exact bytes the enclave received are the bytes the receipt covers
    assert [e.request_body for e in transport.journal] == served.enclave.bodies


def test_openai_stream_is_verified_and_the_receipt_event_removed(
    served: Served, service: VerifiedService
) -> None:
    client, transport = _client(service)
    assert _stream(client) == "hello there"
    (exchange,) = transport.journal
    assert exchange.streamed and b"enclava-receipt" not in exchange.response_body
    assert exchange.receipt == served.enclave.receipts[0]


def test_stream_chunks_pass_through_before_the_stream_ends(
    served: Served, service: VerifiedService
) -> None:
    gate = threading.Event()
    served.enclave.behaviour.gate = gate
    client, _ = _client(service)
    stream = client.chat.completions.create(model="pydoc-tiny", messages=MESSAGES, stream=True)
    first = next(iter(stream))  # the server holds the rest until this chunk has arrived
    gate.set()
    rest = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
    assert (first.choices[0].delta.content or "") + rest == "hello there"
    assert served.enclave.behaviour.gate_opened == [True]


def test_vouchers_are_signed_only_for_receipted_usage(
    served: Served, service: VerifiedService
) -> None:
    client, transport = _client(service)
    assert transport.latest_voucher is None
    _chat(client)
    _stream(client)
    _chat(client)
    receipts = served.enclave.receipts
    vouchers = served.enclave.vouchers  # what the enclave received, one per request after the 1st
    assert len(vouchers) == 2
    for voucher, receipt in zip(vouchers, receipts, strict=False):
        c = receipt.cumulative
        assert Cumulative.of_voucher(voucher.voucher) == c
        assert (
            voucher.voucher.amount
            == price_of(service.terms, c.input_tokens, c.output_tokens, c.compute_ms)[2]
        )
        assert voucher.voucher.customer == CUSTOMER.address
    latest = transport.latest_voucher
    assert latest is not None and Cumulative.of_voucher(latest.voucher) == receipts[-1].cumulative


def test_tampered_body_is_refused(served: Served, service: VerifiedService) -> None:
    served.enclave.behaviour.tamper_body = True
    client, transport = _client(service)
    with pytest.raises(errors.ReceiptResponseMismatch):
        _chat(client)
    assert transport.journal == [] and transport.latest_voucher is None
    with pytest.raises(ServiceDistrusted):
        _chat(client)  # nothing more is sent to a service that was caught once
    assert len(served.enclave.bodies) == 1


def test_tampered_stream_chunk_is_refused_instead_of_done(
    served: Served, service: VerifiedService
) -> None:
    served.enclave.behaviour.tamper_chunk = True
    client, transport = _client(service)
    with pytest.raises(errors.ReceiptResponseMismatch):
        _stream(client)
    assert transport.journal == []


@pytest.mark.parametrize("streamed", [False, True])
def test_missing_receipt_is_refused(
    served: Served, service: VerifiedService, streamed: bool
) -> None:
    served.enclave.behaviour.no_receipt = True
    client, transport = _client(service)
    with pytest.raises(errors.ReceiptMissing):
        _stream(client) if streamed else _chat(client)
    assert transport.latest_voucher is None


@pytest.mark.parametrize("streamed", [False, True])
def test_receipt_signed_by_another_key_is_refused(
    served: Served, service: VerifiedService, streamed: bool
) -> None:
    served.enclave.behaviour.other_key = OTHER
    client, _ = _client(service)
    with pytest.raises(errors.ReceiptForged):
        _stream(client) if streamed else _chat(client)


def test_replayed_sequence_is_refused(served: Served, service: VerifiedService) -> None:
    client, transport = _client(service)
    _chat(client)
    served.enclave.behaviour.replay_sequence = True
    with pytest.raises(errors.ReceiptSequenceInvalid):
        _chat(client)
    assert len(transport.journal) == 1


def test_inflated_cumulative_counts_are_refused_and_not_vouched(
    served: Served, service: VerifiedService
) -> None:
    client, transport = _client(service)
    _chat(client)
    before = transport.latest_voucher
    served.enclave.behaviour.inflate_cumulative = 1000
    with pytest.raises(errors.ReceiptCountsInvalid):
        _chat(client)
    assert transport.latest_voucher == before


def test_counts_other_than_the_response_usage_are_refused(
    served: Served, service: VerifiedService
) -> None:
    served.enclave.behaviour.inflate_usage = 5
    client, transport = _client(service)
    with pytest.raises(errors.ReceiptCountsInvalid):
        _chat(client)
    assert transport.latest_voucher is None


def test_counts_above_max_tokens_or_waited_time_are_refused(
    served: Served, service: VerifiedService
) -> None:
    client, _ = _client(service)
    with pytest.raises(errors.ReceiptCountsInvalid, match="more completion tokens"):
        _chat(client, max_tokens=1)  # the fake always counts 2 completion tokens
    served.enclave.behaviour.compute_ms = 10**9
    client, _ = _client(service)
    with pytest.raises(errors.ReceiptCountsInvalid, match="compute time"):
        _chat(client)


def test_other_tls_certificate_fails_the_handshake_before_the_body_is_sent(
    served: Served, service: VerifiedService, tmp_path: Path
) -> None:
    _, _, other_pem = tls_identity(tmp_path, "not-the-enclave")
    other_der = x509.load_pem_x509_certificate(other_pem.encode()).public_bytes(
        serialization.Encoding.DER
    )
    client, _ = _client(replace(service, certificate_der=other_der))
    with pytest.raises(TlsPinFailed):
        _chat(client)
    assert served.enclave.bodies == []


def test_requests_to_another_origin_are_not_sent(service: VerifiedService) -> None:
    transport = ServiceTransport(service, CUSTOMER)
    with httpx2.Client(transport=transport) as http:
        with pytest.raises(RequestNotForService):
            http.post("https://example.invalid/v1/chat/completions", content=b"{}")
        with pytest.raises(RequestNotForService):
            http.post(service.endpoint.replace("https", "http") + "/v1/x", content=b"{}")


def test_resumed_transport_continues_from_the_last_voucher(
    served: Served, service: VerifiedService
) -> None:
    client, first = _client(service)
    _chat(client)
    client, second = _client(service, last_voucher=first.latest_voucher)
    _chat(client)
    assert served.enclave.vouchers[0] == first.latest_voucher
    latest = second.latest_voucher
    assert latest is not None
    assert Cumulative.of_voucher(latest.voucher) == served.enclave.receipts[-1].cumulative


@pytest.mark.parametrize("streamed", [False, True])
def test_saved_response_verifies_offline(
    served: Served, service: VerifiedService, tmp_path: Path, streamed: bool
) -> None:
    client, transport = _client(service)
    _stream(client) if streamed else _chat(client)
    path = save_response(transport.journal[0], tmp_path / "response.json")
    exchange = verify_saved_response(
        path, ca_certificate_pem=served.ca.pem, customer=CUSTOMER.address
    )
    assert exchange == transport.journal[0]


def _tamper(path: Path, edit: object) -> Path:
    document = json.loads(path.read_text())
    edit(document)  # type: ignore[operator]
    path.write_text(json.dumps(document))
    return path


def _flip(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[len(raw) // 2] ^= 1
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize(
    "edit,error",
    [
        (lambda d: d.update(response_b64=_flip(d["response_b64"])), errors.ReceiptResponseMismatch),
        (
            lambda d: d["request"].update(body_b64=_flip(d["request"]["body_b64"])),
            errors.ReceiptRequestMismatch,
        ),
        (lambda d: d["receipt"].update(completion_tokens=1), errors.ReceiptForged),
        (lambda d: d["statement"].update(model_name="other"), errors.StatementForged),
        (lambda d: d.pop("receipt"), SavedResponseInvalid),
        (lambda d: d["receipt"].update(sequence="1"), SavedResponseInvalid),
    ],
)
def test_tampered_saved_response_is_refused(
    service: VerifiedService, tmp_path: Path, edit: object, error: type[Exception]
) -> None:
    client, transport = _client(service)
    _chat(client)
    path = save_response(transport.journal[0], tmp_path / "response.json")
    with pytest.raises(error):
        verify_saved_response(_tamper(path, edit))


def test_saved_response_of_another_customer_or_ca_is_refused(
    service: VerifiedService, tmp_path: Path
) -> None:
    client, transport = _client(service)
    _chat(client)
    path = save_response(transport.journal[0], tmp_path / "response.json")
    with pytest.raises(errors.ReceiptCustomerMismatch):
        verify_saved_response(path, customer=OTHER.address)
    from enclava.client.serving import EnclaveCertificateRefused

    with pytest.raises(EnclaveCertificateRefused):
        verify_saved_response(path, ca_certificate_pem=make_ca("Rogue").pem)


def test_data_after_the_receipt_is_refused(served: Served, service: VerifiedService) -> None:
    served.enclave.behaviour.data_after_receipt = True
    client, transport = _client(service)
    with pytest.raises(StreamMalformed):
        _stream(client)
    with pytest.raises(ServiceDistrusted):
        _chat(client)


def test_error_answers_pass_through_unsigned_and_vouch_nothing(
    served: Served, service: VerifiedService
) -> None:
    served.enclave.behaviour.refuse_status = 402
    client, transport = _client(service)
    with pytest.raises(openai.APIStatusError) as info:
        _chat(client)
    assert info.value.status_code == 402
    assert transport.journal == [] and transport.latest_voucher is None
    served.enclave.behaviour.refuse_status = 0
    assert _chat(client) == "hello there"  # an error answer is not a refusal of the service


def test_concurrent_requests_run_one_exchange_at_a_time(
    served: Served, service: VerifiedService
) -> None:
    client, transport = _client(service)
    with ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(pool.map(lambda _: _chat(client), range(8)))
    assert replies == ["hello there"] * 8
    assert sorted(e.receipt.sequence for e in transport.journal) == list(range(1, 9))
    latest = transport.latest_voucher
    assert latest is not None
    assert Cumulative.of_voucher(latest.voucher) == served.enclave.counts[CUSTOMER.address][1]


def test_every_exchange_carries_the_session_token_and_the_attestation_none(
    served: Served, service: VerifiedService
) -> None:
    client, transport = _client(service)
    _chat(client)
    _chat(client)
    with httpx2.Client(transport=transport) as http:
        assert http.get(service.endpoint + "/v1/enclava/attestation").status_code == 200
    first, second = served.enclave.headers
    assert first["authorization"].startswith("Bearer ") and "enclava-voucher" not in first
    assert second["enclava-voucher"]
    assert all(
        "authorization" not in h and "enclava-voucher" not in h
        for h in served.enclave.attestation_headers
    )


def test_stream_closed_early_leaves_the_transport_usable_and_vouches_no_gap(
    served: Served, service: VerifiedService
) -> None:
    client, transport = _client(service)
    _chat(client)
    stream = client.chat.completions.create(model="pydoc-tiny", messages=MESSAGES, stream=True)
    next(iter(stream))
    stream.close()  # before the receipt: whatever the enclave counts for it goes unvouched
    assert _chat(client) == "hello there"
    receipts = [e.receipt for e in transport.journal]
    assert len(receipts) == 2
    latest = transport.latest_voucher
    assert latest is not None
    vouched = Cumulative.of_voucher(latest.voucher)
    assert vouched == Cumulative().plus(
        sum(r.prompt_tokens for r in receipts),
        sum(r.completion_tokens for r in receipts),
        sum(r.compute_ms for r in receipts),
    )
    counted = served.enclave.counts[CUSTOMER.address][1]  # the abandoned stream's usage too
    assert counted.output_tokens > vouched.output_tokens
