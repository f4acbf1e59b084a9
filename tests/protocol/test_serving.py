"""The serving wire: round trips, strict parsing, each tamper and foreign key refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from eth_account import Account

from enclava.protocol import errors
from enclava.protocol.canonical import canonical_json
from enclava.protocol.service_terms import ServiceTerms, price_of, service_id_of
from enclava.protocol.serving import (
    DONE_EVENT,
    Cumulative,
    Receipt,
    ServiceStatement,
    SseSplitter,
    b64url_decode,
    b64url_encode,
    bearer_token,
    certificate_spki_sha256,
    check_receipt,
    decode_receipt_header,
    decode_statement,
    decode_voucher_header,
    encode_receipt_header,
    encode_session_token,
    encode_statement,
    encode_voucher_header,
    is_receipt_event,
    issue_session_token,
    parse_receipt_event,
    receipt_event,
    sha256_hex,
    sign_receipt,
    sign_statement,
    sign_voucher_envelope,
    signing_bytes,
    verify_receipt_signature,
    verify_session_token,
    verify_statement,
    verify_voucher_envelope,
)

ENCLAVE = Account.from_key("0x" + "11" * 32)
OTHER = Account.from_key("0x" + "22" * 32)
CUSTOMER = Account.from_key("0x" + "33" * 32)
MARKET = "0x" + "ab" * 20
MODEL_HASH = "0x" + "cd" * 32
TERMS = ServiceTerms(
    nonce=7,
    provider="0x" + "01" * 20,
    tee_offer_id=1,
    tee_type=1,
    model_id=2,
    model_owner="0x" + "02" * 20,
    model_hash=MODEL_HASH,
    input_token_price=3,
    output_token_price=5,
    provider_per_token=False,
    provider_price=1000,
    ends_at=2_000_000_000,
)
SERVICE_ID = service_id_of(TERMS)
BODY = b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'
RESPONSE = b'{"choices":[]}'


def _statement(**changes: object) -> ServiceStatement:
    base = ServiceStatement(
        service_id=SERVICE_ID,
        chain_id=31337,
        enclave=ENCLAVE.address,
        model_hash=MODEL_HASH,
        weights_sha256="0x" + "ee" * 32,
        model_name="pydoc-tiny",
        tls_certificate="-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n",
        tls_spki_sha256="0x" + "99" * 32,
        enclave_certificate="-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----\n",
        issued_at=1_700_000_000,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _receipt(**changes: object) -> Receipt:
    base = Receipt(
        service_id=SERVICE_ID,
        enclave=ENCLAVE.address,
        customer=CUSTOMER.address,
        sequence=1,
        method="POST",
        path="/v1/chat/completions",
        request_sha256=sha256_hex(BODY),
        response_sha256=sha256_hex(RESPONSE),
        model_hash=MODEL_HASH,
        prompt_tokens=4,
        completion_tokens=6,
        compute_ms=120,
        cumulative=Cumulative(4, 6, 120),
        created_at=1_700_000_001,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _check(receipt: Receipt, **changes: object) -> None:
    kwargs: dict[str, object] = {
        "enclave": ENCLAVE.address,
        "service_id": SERVICE_ID,
        "customer": CUSTOMER.address,
        "model_hash": MODEL_HASH,
        "method": "POST",
        "path": "/v1/chat/completions",
        "request_body": BODY,
        "response_sha256": sha256_hex(RESPONSE),
        "after_sequence": 0,
        "previous": Cumulative(),
    }
    kwargs.update(changes)
    check_receipt(receipt, **kwargs)  # type: ignore[arg-type]


def test_sha256_hex_is_lowercase_prefixed() -> None:
    assert sha256_hex(b"") == ("0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


def test_b64url_round_trips_with_or_without_padding() -> None:
    for data in (b"", b"a", b"ab", b"abc", bytes(range(256))):
        text = b64url_encode(data)
        assert "=" not in text and "+" not in text and "/" not in text
        assert b64url_decode(text) == data
    assert b64url_decode("YQ==") == b"a"
    with pytest.raises(errors.ServingMessageMalformed):
        b64url_decode("a+b/")


def test_signing_bytes_are_domain_prefixed_and_exclude_the_signature() -> None:
    assert signing_bytes("d", {"b": 1, "a": 2, "signature": "x"}) == b'd\n{"a":2,"b":1}'


def test_statement_round_trips_and_verifies() -> None:
    statement = sign_statement(ENCLAVE, _statement())
    decoded = decode_statement(encode_statement(statement))
    assert decoded == statement
    verify_statement(decoded)
    assert json.loads(encode_statement(statement))["version"] == 1


@pytest.mark.parametrize(
    "field,value",
    [
        ("service_id", "0x" + "00" * 32),
        ("chain_id", 1),
        ("model_hash", "0x" + "00" * 32),
        ("weights_sha256", "0x" + "00" * 32),
        ("model_name", "other"),
        ("tls_certificate", "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n"),
        ("tls_spki_sha256", "0x" + "00" * 32),
        ("enclave_certificate", "x"),
        ("issued_at", 1),
    ],
)
def test_statement_tamper_of_any_field_is_refused(field: str, value: object) -> None:
    statement = sign_statement(ENCLAVE, _statement())
    with pytest.raises(errors.StatementForged):
        verify_statement(replace(statement, **{field: value}))  # type: ignore[arg-type]


def test_statement_signed_by_another_key_is_refused() -> None:
    with pytest.raises(errors.StatementForged):
        sign_statement(OTHER, _statement())
    forged = _statement(enclave=OTHER.address)
    forged = replace(
        forged, signature=sign_statement(OTHER, forged).signature, enclave=ENCLAVE.address
    )
    with pytest.raises(errors.StatementForged):
        verify_statement(forged)
    with pytest.raises(errors.StatementForged):
        verify_statement(_statement())  # unsigned


@pytest.mark.parametrize(
    "mutate",
    [
        lambda o: o.pop("model_name"),
        lambda o: o.update(extra=1),
        lambda o: o.update(version=2),
        lambda o: o.update(version=True),
        lambda o: o.update(chain_id="31337"),
        lambda o: o.update(chain_id=True),
        lambda o: o.update(chain_id=-1),
        lambda o: o.update(model_hash="0x" + "CD" * 32),
        lambda o: o.update(model_hash="0x" + "zz" * 32),
        lambda o: o.update(enclave="0x1234"),
        lambda o: o.update(signature="0x12"),
        lambda o: o.update(model_name=""),
    ],
)
def test_statement_parsing_is_strict(mutate: object) -> None:
    obj = sign_statement(ENCLAVE, _statement()).to_json()
    mutate(obj)  # type: ignore[operator]
    with pytest.raises(errors.StatementMalformed) as info:
        decode_statement(canonical_json(obj))
    assert info.value.code == "service_statement_malformed" and info.value.hint


def test_statement_that_is_not_json_is_malformed() -> None:
    with pytest.raises(errors.StatementMalformed):
        decode_statement(b"<html>")
    with pytest.raises(errors.StatementMalformed):
        decode_statement(b"[1]")


def test_session_token_round_trips_through_the_bearer_header() -> None:
    token = issue_session_token(CUSTOMER, service_id=SERVICE_ID, expires_at=2_000)
    parsed = bearer_token("Bearer " + encode_session_token(token))
    assert parsed == token
    assert verify_session_token(parsed, service_id=SERVICE_ID, now=1_999) == CUSTOMER.address


def test_session_token_refusals() -> None:
    token = issue_session_token(CUSTOMER, service_id=SERVICE_ID, expires_at=2_000)
    with pytest.raises(errors.SessionTokenRefused):
        verify_session_token(token, service_id=SERVICE_ID, now=2_000)
    with pytest.raises(errors.SessionTokenRefused):
        verify_session_token(token, service_id="0x" + "00" * 32, now=1)
    with pytest.raises(errors.SessionTokenForged):
        verify_session_token(replace(token, expires_at=3_000), service_id=SERVICE_ID, now=1)
    other = issue_session_token(OTHER, service_id=SERVICE_ID, expires_at=2_000)
    with pytest.raises(errors.SessionTokenForged):
        verify_session_token(
            replace(other, customer=CUSTOMER.address), service_id=SERVICE_ID, now=1
        )
    for header in (
        None,
        "",
        "Basic abc",
        "Bearer ",
        "Bearer !!!",
        "Bearer " + b64url_encode(b"{}"),
    ):
        with pytest.raises(errors.SessionTokenMalformed) as info:
            bearer_token(header)
        assert info.value.http_status == 401


def test_receipt_round_trips_as_header_and_event() -> None:
    receipt = sign_receipt(ENCLAVE, _receipt())
    assert decode_receipt_header(encode_receipt_header(receipt)) == receipt
    block = receipt_event(receipt)
    assert block.startswith(b"event: enclava-receipt\ndata: {") and block.endswith(b"}\n\n")
    assert is_receipt_event(block) and not is_receipt_event(DONE_EVENT)
    assert parse_receipt_event(block) == receipt
    verify_receipt_signature(receipt, enclave=ENCLAVE.address)
    _check(receipt)


def test_receipt_signed_by_another_key_is_refused() -> None:
    with pytest.raises(errors.ReceiptForged):
        sign_receipt(OTHER, _receipt())
    own = sign_receipt(OTHER, _receipt(enclave=OTHER.address))
    with pytest.raises(errors.ReceiptForged):
        verify_receipt_signature(own, enclave=ENCLAVE.address)
    with pytest.raises(errors.ReceiptForged):
        verify_receipt_signature(replace(own, enclave=ENCLAVE.address), enclave=ENCLAVE.address)


@pytest.mark.parametrize(
    "field,value",
    [
        ("sequence", 2),
        ("prompt_tokens", 5),
        ("completion_tokens", 1),
        ("compute_ms", 1),
        ("cumulative", Cumulative(40, 6, 120)),
        ("response_sha256", "0x" + "00" * 32),
        ("customer", OTHER.address),
        ("created_at", 2),
        ("path", "/v1/completions"),
    ],
)
def test_receipt_tamper_of_any_field_is_refused(field: str, value: object) -> None:
    receipt = sign_receipt(ENCLAVE, _receipt())
    with pytest.raises(errors.ReceiptForged):
        verify_receipt_signature(replace(receipt, **{field: value}), enclave=ENCLAVE.address)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes,check,error",
    [
        ({"service_id": "0x" + "00" * 32}, {}, errors.ReceiptServiceMismatch),
        ({"customer": OTHER.address}, {}, errors.ReceiptCustomerMismatch),
        ({}, {"after_sequence": 1}, errors.ReceiptSequenceInvalid),
        ({"sequence": 0}, {}, errors.ReceiptSequenceInvalid),
        ({}, {"request_body": BODY + b" "}, errors.ReceiptRequestMismatch),
        ({}, {"path": "/v1/completions"}, errors.ReceiptRequestMismatch),
        ({}, {"method": "GET"}, errors.ReceiptRequestMismatch),
        ({}, {"response_sha256": sha256_hex(b"x")}, errors.ReceiptResponseMismatch),
        ({"model_hash": "0x" + "00" * 32}, {}, errors.ReceiptModelMismatch),
        ({"cumulative": Cumulative(5, 6, 120)}, {}, errors.ReceiptCountsInvalid),
        ({}, {"previous": Cumulative(1, 0, 0)}, errors.ReceiptCountsInvalid),
        ({}, {"enclave": OTHER.address}, errors.ReceiptForged),
    ],
)
def test_check_receipt_refuses_each_mismatch(
    changes: dict[str, object], check: dict[str, object], error: type[Exception]
) -> None:
    receipt = sign_receipt(ENCLAVE, _receipt(**changes))
    with pytest.raises(error):
        _check(receipt, **check)


def test_receipt_parsing_is_strict() -> None:
    obj = sign_receipt(ENCLAVE, _receipt()).to_json()
    mutators: list[Callable[[dict[str, Any]], object]] = [
        lambda o: o["cumulative"].pop("compute_ms"),
        lambda o: o["cumulative"].update(extra=0),
        lambda o: o.update(cumulative=[1, 2, 3]),
        lambda o: o.update(sequence=1.0),
        lambda o: o.pop("signature"),
    ]
    for mutate in mutators:
        bad = json.loads(json.dumps(obj))
        mutate(bad)
        with pytest.raises(errors.ReceiptMalformed):
            decode_receipt_header(b64url_encode(canonical_json(bad)))
    with pytest.raises(errors.ReceiptMalformed):
        parse_receipt_event(b"event: enclava-receipt\ndata: {}\ndata: {}\n\n")
    with pytest.raises(errors.ReceiptMalformed):
        parse_receipt_event(DONE_EVENT)


def test_sse_splitter_yields_blocks_as_they_complete() -> None:
    splitter = SseSplitter()
    assert splitter.feed(b"data: a\n") == []
    assert splitter.feed(b"\ndata: b\n\nda") == [b"data: a\n\n", b"data: b\n\n"]
    assert splitter.rest == b"da"
    assert splitter.feed(b"ta: c\n\n") == [b"data: c\n\n"]
    assert splitter.rest == b""


def test_voucher_header_round_trips_and_verifies() -> None:
    signed = sign_voucher_envelope(
        CUSTOMER, TERMS, Cumulative(10, 20, 1500), chain_id=31337, contract=MARKET
    )
    assert signed.voucher.amount == price_of(TERMS, 10, 20, 1500)[2] == 10 * 3 + 20 * 5 + 1500
    decoded = decode_voucher_header(encode_voucher_header(signed))
    assert decoded == signed
    verify_voucher_envelope(decoded, chain_id=31337, contract=MARKET)
    assert Cumulative.of_voucher(decoded.voucher) == Cumulative(10, 20, 1500)


def test_voucher_tamper_or_foreign_key_is_refused() -> None:
    signed = sign_voucher_envelope(
        CUSTOMER, TERMS, Cumulative(1, 2, 3), chain_id=1, contract=MARKET
    )
    with pytest.raises(errors.VoucherForged):
        verify_voucher_envelope(
            replace(signed, voucher=replace(signed.voucher, amount=1)), chain_id=1, contract=MARKET
        )
    with pytest.raises(errors.VoucherForged):
        verify_voucher_envelope(signed, chain_id=2, contract=MARKET)
    other = sign_voucher_envelope(OTHER, TERMS, Cumulative(1, 2, 3), chain_id=1, contract=MARKET)
    forged = replace(other, voucher=replace(other.voucher, customer=CUSTOMER.address))
    with pytest.raises(errors.VoucherForged):
        verify_voucher_envelope(forged, chain_id=1, contract=MARKET)


def test_voucher_header_parsing_is_strict() -> None:
    obj = sign_voucher_envelope(
        CUSTOMER, TERMS, Cumulative(1, 2, 3), chain_id=1, contract=MARKET
    ).to_json()
    mutators: list[Callable[[dict[str, Any]], object]] = [
        lambda o: o.pop("amount"),
        lambda o: o.update(extra=1),
        lambda o: o.update(signature=""),
        lambda o: o.update(input_tokens=-1),
        lambda o: o.update(service_id="0x12"),
    ]
    for mutate in mutators:
        bad = dict(obj)
        mutate(bad)
        with pytest.raises(errors.VoucherHeaderMalformed) as info:
            decode_voucher_header(b64url_encode(canonical_json(bad)))
        assert info.value.http_status == 402
    with pytest.raises(errors.VoucherHeaderMalformed):
        decode_voucher_header("not base64!")


def test_certificate_spki_sha256_hashes_the_public_key_info() -> None:
    import datetime as dt
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "enclave")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    assert certificate_spki_sha256(pem) == "0x" + hashlib.sha256(spki).hexdigest()
    with pytest.raises(errors.StatementMalformed):
        certificate_spki_sha256("not a certificate")
