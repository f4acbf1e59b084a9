"""The loader's order guards, each refusing what the host could have altered, in their fixed
order."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from enclava.protocol.key_release import ExpectedKey, expected_keys
from enclava.protocol.order import (
    Order,
    OrderInput,
    OrderStatus,
    OrderTerms,
    Payment,
    inputs_hash,
    recipient_key_hash,
)
from trusted_loader.checks import check_order, guard_release_matches_order
from trusted_loader.errors import (
    KeyReleaseInvalid,
    OrderNotExecutable,
    OrderTermsMismatch,
    RecipientKeyMismatch,
)

PROVIDER = "0x" + "22" * 20
CUSTOMER = "0x" + "44" * 20
OWNER = "0x" + "33" * 20
RECIPIENT = b"age1customerrecipient"
ENGINE_HASH = hashlib.sha256(b"engine ciphertext").digest()
MODEL_HASH = hashlib.sha256(b"model ciphertext").digest()
INPUT = OrderInput("bafyinput", hashlib.sha256(b"input ciphertext").digest())


def _order(**changes) -> Order:
    from web3 import Web3

    terms = OrderTerms(
        nonce=7,
        customer=Web3.to_checksum_address(CUSTOMER),
        provider=Web3.to_checksum_address(PROVIDER),
        tee_offer_id=1,
        tee_type=3,
        price_per_second=10,
        max_duration=60,
        engine_hash=ENGINE_HASH,
        inputs_hash=inputs_hash([MODEL_HASH], [INPUT.content_hash]),
        recipient_key_hash=recipient_key_hash(RECIPIENT),
        payments=(
            Payment(11, Web3.to_checksum_address(OWNER), 5),
            Payment(12, Web3.to_checksum_address(OWNER), 6),
        ),
    )
    order = Order(
        order_id=terms.order_id,
        terms=terms,
        inputs=(INPUT,),
        resource_hashes=(MODEL_HASH,),
        recipient_key=RECIPIENT,
        status=OrderStatus.ACCEPTED,
        accepted_at=1000,
        enclave=None,
        created_block=5,
        deadline=5000,
    )
    return dataclasses.replace(order, **changes)


def test_check_order_accepts_terms_that_hash_to_the_id():
    order = _order()
    assert check_order(order.order_id, order, provider=PROVIDER, now=2000) is order


def test_check_order_refuses_terms_that_do_not_hash_to_the_id():
    order = _order()
    swapped = _order(
        terms=dataclasses.replace(order.terms, engine_hash=hashlib.sha256(b"other").digest())
    )
    with pytest.raises(OrderTermsMismatch):
        check_order(order.order_id, swapped, provider=PROVIDER, now=2000)


def test_check_order_refuses_an_order_whose_id_field_differs_from_the_one_asked_for():
    order = _order()
    other = "0x" + "ab" * 32
    with pytest.raises(OrderTermsMismatch):
        check_order(other, order, provider=PROVIDER, now=2000)


def test_check_order_refuses_a_swapped_recipient_key():
    order = _order(recipient_key=b"age1providerrecipient")
    with pytest.raises(RecipientKeyMismatch):
        check_order(order.order_id, order, provider=PROVIDER, now=2000)


def test_check_order_refuses_swapped_inputs():
    order = _order(inputs=(OrderInput("bafyother", hashlib.sha256(b"other input").digest()),))
    with pytest.raises(OrderTermsMismatch):
        check_order(order.order_id, order, provider=PROVIDER, now=2000)


def test_check_order_refuses_missing_resource_hashes():
    order = _order(resource_hashes=())
    with pytest.raises(OrderTermsMismatch):
        check_order(order.order_id, order, provider=PROVIDER, now=2000)


def test_check_order_runs_the_commitment_guards_before_the_state_guard():
    order = _order(recipient_key=b"swapped", status=OrderStatus.OPEN)
    with pytest.raises(RecipientKeyMismatch):  # not OrderNotExecutable: the first guard decides
        check_order(order.order_id, order, provider=PROVIDER, now=2000)


@pytest.mark.parametrize("changes, now", [({"status": OrderStatus.COMPLETED}, 2000), ({}, 6000)])
def test_check_order_refuses_orders_not_executable(changes, now):
    order = _order(**changes)
    with pytest.raises(OrderNotExecutable):
        check_order(order.order_id, order, provider=PROVIDER, now=now)


def test_check_order_refuses_another_providers_order():
    order = _order()
    with pytest.raises(OrderNotExecutable):
        check_order(order.order_id, order, provider="0x" + "99" * 20, now=2000)


def test_release_matching_the_order_is_accepted():
    order = _order()
    guard_release_matches_order(list(reversed(expected_keys(order))), order)


@pytest.mark.parametrize("tamper", ["extra", "missing", "wrong_hash", "wrong_kind"])
def test_release_not_matching_the_order_is_refused(tamper):
    order = _order()
    keys = expected_keys(order)
    if tamper == "extra":
        keys.append(ExpectedKey("resource", 99, hashlib.sha256(b"provider engine").digest()))
    elif tamper == "missing":
        keys.pop()
    elif tamper == "wrong_hash":
        keys[0] = ExpectedKey(
            "resource", keys[0].resource_id, hashlib.sha256(b"provider engine").digest()
        )
    else:
        keys[-1] = ExpectedKey("resource", 0, keys[-1].content_hash)
    with pytest.raises(KeyReleaseInvalid):
        guard_release_matches_order(keys, order)
