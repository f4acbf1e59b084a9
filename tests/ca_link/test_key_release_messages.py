"""The key-release protocol's messages: the request an enclave signs, and the CA's signed answer
that the enclave verifies (signer, CA, order, enclave, nonce, shape), built by the same
functions."""

from __future__ import annotations

import base64
import copy
import hashlib
import json

import pytest
from eth_account import Account

from enclava.protocol.canonical import canonical_json
from enclava.protocol.eip191 import recover_bytes_signer
from enclava.protocol.errors import (
    ReleaseAnswerForged,
    ReleaseAnswerInvalid,
    ReleaseAnswerMalformed,
    ReleaseAnswerMismatch,
    ReleaseRequestInvalid,
)
from enclava.protocol.key_release import (
    KEY_RELEASE_DOMAIN,
    RELEASE_ANSWER_DOMAIN,
    build_release_request,
    key_release_message,
    release_answer,
    release_answer_bytes,
    released_key_entry,
    sign_release_answer,
    verify_release_answer,
)

CA = Account.from_key(hashlib.sha256(b"ca signer").digest())
ENCLAVE = Account.from_key(hashlib.sha256(b"enclave").digest())
ORDER_ID = "0x" + hashlib.sha256(b"order").hexdigest()
NONCE = hashlib.sha256(b"nonce").hexdigest()
ENGINE_HASH, MODEL_HASH, INPUTS_HASH = (
    hashlib.sha256(s).digest() for s in (b"engine", b"model", b"inputs")
)


def _keys() -> list[dict]:
    return [
        released_key_entry(
            kind="resource",
            resource_id=1,
            content_hash=ENGINE_HASH,
            policy_version=1,
            ciphertext=b"age engine",
        ),
        released_key_entry(
            kind="resource",
            resource_id=2**200,
            content_hash=MODEL_HASH,
            policy_version=3,
            ciphertext=b"age model",
        ),
        released_key_entry(
            kind="order_inputs",
            resource_id=0,
            content_hash=INPUTS_HASH,
            policy_version=0,
            ciphertext=b"age inputs",
        ),
    ]


def _answer(signer=CA, **changes) -> dict:
    fields = {
        "ca_id": "enclava-ca",
        "order_id": ORDER_ID,
        "enclave": ENCLAVE.address,
        "request_nonce": NONCE,
        "issued_at": 1_800_000_000,
        "keys": _keys(),
        **changes,
    }
    release = release_answer(**fields)
    return {"release": release, "signature": sign_release_answer(signer, release)}


def _verify(answer: dict, **changes):
    expected = {
        "signer": CA.address,
        "ca_id": "enclava-ca",
        "order_id": ORDER_ID,
        "enclave": ENCLAVE.address,
        "request_nonce": NONCE,
        **changes,
    }
    return verify_release_answer(answer, **expected)


def test_the_request_message_is_canonical_and_names_every_field():
    message = key_release_message(
        ca_id="enclava-ca",
        order_id=ORDER_ID.upper().replace("0X", "0x"),
        issued_at=1_800_000_000,
        request_nonce="0x" + NONCE.upper(),
    )
    assert json.loads(message) == {
        "domain": KEY_RELEASE_DOMAIN,
        "ca_id": "enclava-ca",
        "order_id": ORDER_ID,
        "issued_at": 1_800_000_000,
        "request_nonce": NONCE,
    }
    assert message.encode() == canonical_json(json.loads(message))
    narrowed = key_release_message(
        ca_id="enclava-ca",
        order_id=ORDER_ID,
        issued_at=1,
        request_nonce=NONCE,
        resource_ids=[2**255, 7],
    )
    assert json.loads(narrowed)["resource_ids"] == [str(2**255), "7"]


def test_a_built_request_is_signed_by_the_enclave_over_its_own_fields():
    body = build_release_request(
        ENCLAVE, certificate_pem="PEM", ca_id="enclava-ca", order_id=ORDER_ID, resource_ids=[5]
    )
    assert set(body) == {
        "certificate_pem",
        "order_id",
        "issued_at",
        "request_nonce",
        "signature",
        "resource_ids",
    }
    assert len(bytes.fromhex(body["request_nonce"])) == 32
    message = key_release_message(
        ca_id="enclava-ca",
        order_id=ORDER_ID,
        issued_at=body["issued_at"],
        request_nonce=body["request_nonce"],
        resource_ids=[5],
    )
    assert recover_bytes_signer(message.encode(), body["signature"]) == ENCLAVE.address
    again = build_release_request(
        ENCLAVE, certificate_pem="PEM", ca_id="enclava-ca", order_id=ORDER_ID
    )
    assert again["request_nonce"] != body["request_nonce"] and "resource_ids" not in again


@pytest.mark.parametrize(
    "changes",
    [
        {"request_nonce": "zz" * 32},
        {"request_nonce": "ab" * 31},
        {"order_id": "0x1234"},
        {"issued_at": "now"},
        {"resource_ids": [0]},
        {"resource_ids": [True]},
    ],
)
def test_a_malformed_request_is_refused_typed(changes):
    fields = {"ca_id": "c", "order_id": ORDER_ID, "issued_at": 1, "request_nonce": NONCE, **changes}
    with pytest.raises(ReleaseRequestInvalid):
        key_release_message(**fields)


def test_a_genuine_answer_verifies_with_every_key_decoded():
    verified = _verify(_answer())
    assert (
        verified.signer == CA.address
        and verified.order_id == ORDER_ID
        and verified.request_nonce == NONCE
    )
    assert [
        (k.kind, k.resource_id, k.content_hash, k.policy_version, k.ciphertext)
        for k in verified.keys
    ] == [
        ("resource", 1, ENGINE_HASH, 1, b"age engine"),
        ("resource", 2**200, MODEL_HASH, 3, b"age model"),
        ("order_inputs", 0, INPUTS_HASH, 0, b"age inputs"),
    ]
    assert verified.require_resources(
        {1: ENGINE_HASH, 2**200: MODEL_HASH}, inputs_hash=INPUTS_HASH
    ).keys() == {1, 2**200}
    assert _answer()["release"]["domain"] == RELEASE_ANSWER_DOMAIN
    assert release_answer_bytes(_answer()["release"]) == canonical_json(_answer()["release"])


@pytest.mark.parametrize(
    "expected",
    [
        {1: ENGINE_HASH},
        {1: ENGINE_HASH, 2**200: MODEL_HASH, 3: MODEL_HASH},
        {1: ENGINE_HASH, 2**200: ENGINE_HASH},
    ],
)
def test_keys_other_than_exactly_the_orders_resources_are_refused(expected):
    with pytest.raises(ReleaseAnswerMismatch):
        _verify(_answer()).require_resources(expected)


def test_an_answer_without_the_inputs_key_is_refused_when_the_order_has_inputs():
    answer = _answer(keys=_keys()[:2])
    with pytest.raises(ReleaseAnswerMismatch):
        _verify(answer).require_resources(
            {1: ENGINE_HASH, 2**200: MODEL_HASH}, inputs_hash=INPUTS_HASH
        )


def _tampered(edit) -> dict:
    answer = copy.deepcopy(_answer())
    edit(answer["release"])
    return answer


@pytest.mark.parametrize(
    "edit",
    [
        lambda r: r["keys"].append(
            released_key_entry(
                kind="resource",
                resource_id=9,
                content_hash=MODEL_HASH,
                policy_version=1,
                ciphertext=b"provider's own key",
            )
        ),
        lambda r: r["keys"].pop(0),
        lambda r: r["keys"][0].update(ciphertext=base64.b64encode(b"age enginf").decode()),
        lambda r: r["keys"][1].update(content_hash="0x" + ENGINE_HASH.hex()),
        lambda r: r.update(issued_at=r["issued_at"] + 1),
        lambda r: r.update(order_id="0x" + "00" * 32),
    ],
)
def test_any_change_to_a_signed_answer_is_detected(edit):
    with pytest.raises(ReleaseAnswerForged):
        _verify(_tampered(edit))


def test_an_answer_signed_by_anyone_but_the_attested_signer_is_refused():
    with pytest.raises(ReleaseAnswerForged):
        _verify(_answer(signer=Account.create()))
    with pytest.raises(ReleaseAnswerForged):
        _verify({**_answer(), "signature": "0x" + "00" * 65})


@pytest.mark.parametrize(
    "changes",
    [
        {"ca_id": "another-ca"},
        {"order_id": "0x" + "ab" * 32},
        {"enclave": Account.create().address},
        {"request_nonce": "cd" * 32},
    ],
)
def test_a_genuine_answer_for_another_request_is_refused(changes):
    with pytest.raises(ReleaseAnswerMismatch):
        _verify(_answer(), **changes)


@pytest.mark.parametrize(
    "answer",
    [
        None,
        [],
        {"release": {}},
        {"release": [], "signature": "0x"},
        {"release": {}, "signature": 5},
        {"release": {"a": 1}, "signature": "0x", "extra": 1},
    ],
)
def test_a_malformed_envelope_is_refused(answer):
    with pytest.raises(ReleaseAnswerMalformed):
        _verify(answer)


@pytest.mark.parametrize(
    "keys",
    [
        [],
        [{"kind": "resource"}],
        [dict(_keys()[0], kind="engine")],
        [dict(_keys()[0], resource_id="01")],
        [dict(_keys()[0], resource_id=1)],
        [dict(_keys()[0], resource_id="0")],
        [dict(_keys()[2], resource_id="4")],
        [dict(_keys()[0], policy_version=-1)],
        [dict(_keys()[0], content_hash="0x12")],
        [dict(_keys()[0], ciphertext="not base64!")],
        [dict(_keys()[0], ciphertext="")],
        [_keys()[0], _keys()[0]],
        [dict(_keys()[0], resource_id="²")],
    ],
)
def test_a_signed_but_malformed_release_is_refused_typed(keys):
    with pytest.raises(ReleaseAnswerMalformed):
        _verify(_answer(keys=keys))


def test_every_refusal_is_a_release_answer_invalid_with_a_hint():
    for error in (ReleaseAnswerMalformed, ReleaseAnswerForged, ReleaseAnswerMismatch):
        assert issubclass(error, ReleaseAnswerInvalid) and error("x").to_dict()["hint"]
