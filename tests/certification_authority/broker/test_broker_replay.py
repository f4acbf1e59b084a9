"""Single-use release requests and content-hash-bound answers: a nonce is accepted once per enclave
(across restarts, and even when the first request was refused), a replay spends nothing and is
logged, and every released key names the content hash the order commits to."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from broker_support import (
    DATASET,
    DATASET_HASH,
    ENGINE,
    ENGINE_HASH,
    INPUTS_HASH,
    MODEL,
    MODEL_HASH,
    NOW,
    ORDER_ID,
    World,
    account,
    fresh_nonce,
)

from certification_authority.broker import (
    BrokerRequestInvalid,
    ChainLookupError,
    OrderNotAccepted,
    OrderStatus,
    ReleaseReplayed,
)
from certification_authority.broker.release import RELEASE_WINDOW_S


def _replays(world: World) -> list:
    return [
        e
        for e in world.broker.audit.entries()
        if e.event == "key_release" and e.reason == "release_replayed"
    ]


def test_a_replayed_request_nonce_is_refused_logged_and_spends_nothing(world):
    world.deposit_all(
        {"allowed_engine_hashes": [ENGINE_HASH], "allowed_customers": "any", "max_uses": 2}
    )
    nonce = fresh_nonce()
    world.broker.release(world.enclave, ORDER_ID, request_nonce=nonce)
    with pytest.raises(ReleaseReplayed) as replayed:
        world.broker.release(world.enclave, ORDER_ID, request_nonce=nonce)
    assert replayed.value.http_status == 409 and replayed.value.guard == "guard_request_unused"
    assert {
        world.broker.deposit_status(resource).uses for resource in (ENGINE, MODEL, DATASET)
    } == {1}
    assert sorted(int(e.resource_ids[0]) for e in _replays(world)) == [ENGINE, MODEL, DATASET]
    assert all(
        e.decision == "denied" and e.guard == "guard_request_unused" for e in _replays(world)
    )
    world.broker.release(
        world.enclave, ORDER_ID, request_nonce=fresh_nonce()
    )  # a fresh request: the last use
    assert world.broker.deposit_status(ENGINE).uses_left == 0


def test_the_nonce_is_spent_even_when_the_first_request_was_refused(world):
    world.deposit_all()
    world.set_order(status=OrderStatus.OPEN)
    nonce = fresh_nonce()
    with pytest.raises(OrderNotAccepted):
        world.broker.release(world.enclave, ORDER_ID, request_nonce=nonce)
    world.set_order(status=OrderStatus.ACCEPTED)
    with pytest.raises(ReleaseReplayed):
        world.broker.release(world.enclave, ORDER_ID, request_nonce=nonce)


def test_a_nonce_is_single_use_per_enclave_and_in_one_spelling(world):
    world.deposit_all()
    nonce = fresh_nonce()
    world.broker.release(world.enclave, ORDER_ID, request_nonce=nonce)
    with pytest.raises(ReleaseReplayed):
        world.broker.release(world.enclave, ORDER_ID, request_nonce="0x" + nonce.upper())
    other = replace(world.enclave, enclave_address=account("another enclave").address)
    world.broker.release(other, ORDER_ID, request_nonce=nonce)  # another enclave's own request


def test_a_restarted_broker_still_refuses_a_replay(world):
    world.deposit_all()
    nonce = fresh_nonce()
    world.broker.release(world.enclave, ORDER_ID, request_nonce=nonce)
    with pytest.raises(ReleaseReplayed):
        world.reopen().release(world.enclave, ORDER_ID, request_nonce=nonce)


def test_nonces_are_forgotten_only_once_no_request_carrying_them_can_be_fresh(world):
    world.deposit_all()
    nonce = fresh_nonce()
    world.broker.release(
        world.enclave, ORDER_ID, request_nonce=nonce, issued_at=NOW + RELEASE_WINDOW_S
    )
    world.clock.now = NOW + 2 * RELEASE_WINDOW_S  # the request would still be inside its window
    with pytest.raises(ReleaseReplayed):
        world.broker.release(
            world.enclave, ORDER_ID, request_nonce=nonce, issued_at=NOW + RELEASE_WINDOW_S
        )


def test_concurrent_twins_of_one_request_release_once(world):
    world.deposit_all()
    nonce, outcomes = fresh_nonce(), []

    def ask() -> None:
        try:
            world.broker.release(world.enclave, ORDER_ID, request_nonce=nonce)
            outcomes.append("granted")
        except ReleaseReplayed:
            outcomes.append("replayed")

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["granted"] + ["replayed"] * 5
    assert world.broker.deposit_status(ENGINE).uses == 1


@pytest.mark.parametrize("nonce", ["", "zz" * 32, "ab" * 31, "ab" * 33, None, 7])
def test_a_malformed_request_nonce_is_refused_before_anything(world, nonce):
    world.deposit_all()
    with pytest.raises(BrokerRequestInvalid):
        world.broker.release(world.enclave, ORDER_ID, request_nonce=nonce)
    assert world.broker.deposit_status(ENGINE).uses == 0


def test_every_released_key_names_the_content_hash_the_order_commits_to(world):
    world.deposit_all()
    world.broker.deposit_order_inputs(world.inputs_deposit())
    keys = world.broker.release(world.enclave, ORDER_ID, request_nonce=fresh_nonce())
    assert [(k.kind, k.resource_id, k.content_hash) for k in keys] == [
        ("resource", ENGINE, ENGINE_HASH),
        ("resource", MODEL, MODEL_HASH),
        ("resource", DATASET, DATASET_HASH),
        ("order_inputs", 0, INPUTS_HASH),
    ]


@pytest.mark.parametrize(
    "changes",
    [
        {"resource_hashes": (MODEL_HASH,)},
        {"inputs_hash": None},
        {"resource_hashes": (MODEL_HASH, "not a hash")},
    ],
)
def test_an_order_without_its_content_hashes_refuses_the_release(world, changes):
    world.deposit_all()
    world.set_order(**changes)
    with pytest.raises(ChainLookupError):
        world.broker.release(world.enclave, ORDER_ID, request_nonce=fresh_nonce())
    assert world.broker.deposit_status(ENGINE).uses == 0
