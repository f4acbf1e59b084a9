"""InMemoryNonceStore: random, single-use, expiring, and safe under concurrent consumers."""

from __future__ import annotations

import threading

import pytest

from certification_authority.verifiers import InMemoryNonceStore, NonceStore
from enclava.attestation import NONCE_LENGTH, NonceExpiredError, NonceReusedError, NonceUnknownError
from enclava.errors import ConfigError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_issued_nonces_are_random_and_sized():
    store = InMemoryNonceStore()
    nonces = {store.issue() for _ in range(100)}
    assert len(nonces) == 100 and all(len(n) == NONCE_LENGTH for n in nonces)
    assert isinstance(store, NonceStore)


def test_nonce_is_single_use():
    store = InMemoryNonceStore()
    nonce = store.issue()
    store.consume(nonce)
    with pytest.raises(NonceReusedError):
        store.consume(nonce)


@pytest.mark.parametrize("nonce", [bytes(32), b"", "not bytes", None])
def test_unknown_nonce_is_refused(nonce):
    with pytest.raises(NonceUnknownError):
        InMemoryNonceStore().consume(nonce)


def test_nonce_expires_after_its_lifetime():
    clock = Clock()
    store = InMemoryNonceStore(ttl_s=60, clock=clock)
    nonce = store.issue()
    clock.now += 60
    store.consume(store.issue())  # a nonce at exactly its expiry instant is still valid
    clock.now += 0.5
    with pytest.raises(NonceExpiredError):
        store.consume(nonce)


def test_expired_nonces_are_forgotten_and_then_unknown():
    clock = Clock()
    store = InMemoryNonceStore(ttl_s=60, clock=clock)
    used, unused = store.issue(), store.issue()
    store.consume(used)
    clock.now += 121
    store.issue()  # issuing purges what is past expiry by more than a lifetime
    for nonce in (used, unused):
        with pytest.raises(NonceUnknownError):
            store.consume(nonce)


def test_concurrent_consumers_accept_a_nonce_exactly_once():
    store = InMemoryNonceStore()
    nonce = store.issue()
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def consume() -> None:
        barrier.wait()
        try:
            store.consume(nonce)
            outcomes.append("ok")
        except NonceReusedError:
            outcomes.append("reused")

    threads = [threading.Thread(target=consume) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] + ["reused"] * 7


@pytest.mark.parametrize("ttl", [0, -1])
def test_non_positive_lifetime_is_a_config_error(ttl):
    with pytest.raises(ConfigError):
        InMemoryNonceStore(ttl_s=ttl)
