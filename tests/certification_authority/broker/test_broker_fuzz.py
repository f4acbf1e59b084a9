"""Random and garbled requests only ever raise typed ``EnclavaError`` subclasses, and grant
nothing."""

from __future__ import annotations

import hashlib
from dataclasses import fields, replace

import pytest
from broker_support import CA_ID, ENGINE, KEYS, NOW, OPEN_POLICY, ORDER_ID, OWNER_A, fresh_nonce
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certification_authority.broker import CiphertextNotForCa, VerifiedEnclave
from enclava.errors import EnclavaError
from enclava.protocol.broker import (
    DepositRequest,
    KeyPolicy,
    build_audit_request,
    build_deposit_request,
    deposit_message,
    sign_text,
)

FUZZ = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**300), max_value=2**300),
    st.floats(allow_nan=True),
    st.text(max_size=80),
    st.binary(max_size=80),
    st.sampled_from(
        ["any", "0x" + "ab" * 32, "0x" + "cd" * 20, "0x" + "00" * 65, ORDER_ID, "age1"]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


def _garble(valid: dict, data) -> object:
    choice = data.draw(st.sampled_from(["field", "drop", "extra", "whole"]))
    garbled = dict(valid)
    if choice == "whole":
        return data.draw(st.one_of(json_values, st.text(), st.binary()))
    name = data.draw(st.sampled_from(sorted(valid)))
    if choice == "field":
        garbled[name] = data.draw(json_values)
    elif choice == "drop":
        garbled.pop(name)
    else:
        garbled[data.draw(st.text(max_size=12))] = data.draw(json_values)
    return garbled


def _answers_only_typed_errors(call, *args, **kwargs) -> None:
    try:
        call(*args, **kwargs)
    except EnclavaError as error:
        assert error.code and error.hint and error.to_dict()["type"] == error.code


@FUZZ
@given(data=st.data())
def test_garbled_deposits_raise_only_typed_errors(world, data):
    valid = build_deposit_request(
        OWNER_A, world.broker.ca_recipient, CA_ID, ENGINE, KEYS[ENGINE], OPEN_POLICY, issued_at=NOW
    ).model_dump(mode="json")
    _answers_only_typed_errors(world.broker.deposit, _garble(valid, data))
    assert (
        world.broker.deposit_status(ENGINE) is None
        or world.broker.deposit_status(ENGINE).owner == OWNER_A.address.lower()
    )


@FUZZ
@given(data=st.data())
def test_garbled_audit_reads_raise_only_typed_errors(world, data):
    valid = build_audit_request(OWNER_A, CA_ID, ENGINE, issued_at=NOW).model_dump(mode="json")
    _answers_only_typed_errors(world.broker.audit_for_owner, _garble(valid, data))


@FUZZ
@given(data=st.data())
def test_garbled_release_requests_raise_only_typed_errors(world, data):
    if world.broker.deposit_status(ENGINE) is None:
        world.deposit_all()
    wrong_provider = data.draw(st.booleans())
    enclave = (
        replace(world.enclave, provider_address="0x" + "cd" * 20)
        if wrong_provider
        else world.enclave
    )
    names = data.draw(
        st.sets(st.sampled_from([f.name for f in fields(VerifiedEnclave)]), max_size=3)
    )
    enclave = replace(
        enclave, **{name: data.draw(scalars) for name in names if name != "provider_address"}
    )
    order_id = data.draw(st.one_of(st.just(ORDER_ID), scalars))
    resource_ids = data.draw(st.one_of(st.none(), scalars, st.lists(scalars, max_size=3)))
    nonce = data.draw(st.one_of(st.builds(fresh_nonce), scalars))
    uses = world.broker.deposit_status(ENGINE).uses
    _answers_only_typed_errors(
        world.broker.release, enclave, order_id, resource_ids=resource_ids, request_nonce=nonce
    )
    if wrong_provider:  # no garbling turns another provider's enclave into this order's
        assert world.broker.deposit_status(ENGINE).uses == uses


@FUZZ
@given(subject=scalars, reason=scalars)
def test_garbled_revocations_raise_only_typed_errors(world, subject, reason):
    _answers_only_typed_errors(world.broker.revoke_certificate, subject, reason)
    _answers_only_typed_errors(world.broker.revoke_enclave, subject, reason)
    _answers_only_typed_errors(world.broker.is_revoked, serial=subject, enclave_address=reason)


@FUZZ
@given(
    ciphertext=st.one_of(
        st.binary(min_size=1, max_size=400),
        st.binary(max_size=200).map(lambda tail: b"age-encryption.org/v1\n" + tail),
        st.binary(max_size=200).map(lambda tail: b"-----BEGIN AGE ENCRYPTED FILE-----\n" + tail),
    )
)
def test_signed_deposits_of_garbage_ciphertext_are_refused_as_not_for_the_ca(world, ciphertext):
    policy = KeyPolicy.model_validate(OPEN_POLICY)
    message = deposit_message(
        ca_id=CA_ID,
        resource_id=ENGINE,
        ciphertext_sha256=hashlib.sha256(ciphertext).hexdigest(),
        policy=policy,
        issued_at=NOW,
    )
    request = DepositRequest(
        ca_id=CA_ID,
        resource_id=ENGINE,
        owner=OWNER_A.address,
        ciphertext=ciphertext,
        policy=policy,
        issued_at=NOW,
        signature=sign_text(OWNER_A, message),
    )
    with pytest.raises(CiphertextNotForCa):
        world.broker.deposit(request)
