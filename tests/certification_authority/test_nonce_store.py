"""Nonce stores (in memory, and the CA's database): random, single-use, expiring, safe under
concurrent consumers; the database store keeps all of it across a restart."""

from __future__ import annotations

import threading

import pytest

from certification_authority.errors import NonceStorageError
from certification_authority.nonce_store import SqlNonceStore
from enclava.attestation import NONCE_LENGTH, NonceExpiredError, NonceReusedError, NonceUnknownError
from enclava.attestation.verifiers import InMemoryNonceStore, NonceStore
from enclava.errors import ConfigError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request, tmp_path):
    """A factory for the store under test (keyword arguments: ttl_s, clock)."""
    if request.param == "memory":
        return InMemoryNonceStore
    return lambda **kwargs: SqlNonceStore(f"sqlite:///{tmp_path / 'ca.sqlite'}", **kwargs)


def test_issued_nonces_are_random_and_sized(make_store):
    store = make_store()
    nonces = {store.issue() for _ in range(100)}
    assert len(nonces) == 100 and all(len(n) == NONCE_LENGTH for n in nonces)
    assert isinstance(store, NonceStore)


def test_nonce_is_single_use(make_store):
    store = make_store()
    nonce = store.issue()
    store.consume(nonce)
    with pytest.raises(NonceReusedError):
        store.consume(nonce)


@pytest.mark.parametrize("nonce", [bytes(32), b"", "not bytes", None])
def test_unknown_nonce_is_refused(make_store, nonce):
    with pytest.raises(NonceUnknownError):
        make_store().consume(nonce)


def test_nonce_expires_after_its_lifetime(make_store):
    clock = Clock()
    store = make_store(ttl_s=60, clock=clock)
    nonce = store.issue()
    clock.now += 60
    store.consume(store.issue())  # a nonce at exactly its expiry instant is still valid
    clock.now += 0.5
    with pytest.raises(NonceExpiredError):
        store.consume(nonce)


def test_expired_nonces_are_forgotten_and_then_unknown(make_store):
    clock = Clock()
    store = make_store(ttl_s=60, clock=clock)
    used, unused = store.issue(), store.issue()
    store.consume(used)
    clock.now += 121
    store.issue()  # issuing purges what is past expiry by more than a lifetime
    for nonce in (used, unused):
        with pytest.raises(NonceUnknownError):
            store.consume(nonce)


def test_concurrent_consumers_accept_a_nonce_exactly_once(make_store):
    store = make_store()
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
def test_non_positive_lifetime_is_a_config_error(make_store, ttl):
    with pytest.raises(ConfigError):
        make_store(ttl_s=ttl)


# -- the database store across a restart (a new store object on the same file) ---------------------


def test_restart_keeps_issued_used_and_expired_nonces(tmp_path):
    url, clock = f"sqlite:///{tmp_path / 'ca.sqlite'}", Clock()
    before = SqlNonceStore(url, ttl_s=60, clock=clock)
    used, fresh, late = before.issue(), before.issue(), before.issue()
    before.consume(used)
    before.close()

    after = SqlNonceStore(url, ttl_s=60, clock=clock)
    after.consume(fresh)  # issued before the restart, accepted once after it
    with pytest.raises(NonceReusedError):
        after.consume(used)
    with pytest.raises(NonceReusedError):
        after.consume(fresh)
    clock.now += 61
    with pytest.raises(NonceExpiredError):
        SqlNonceStore(url, ttl_s=60, clock=clock).consume(late)


def test_two_stores_on_one_database_accept_a_nonce_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'ca.sqlite'}"
    first, second = SqlNonceStore(url), SqlNonceStore(url)
    nonce = first.issue()
    second.consume(nonce)
    with pytest.raises(NonceReusedError):
        first.consume(nonce)


def test_a_failing_database_refuses_the_nonce(tmp_path):
    store = SqlNonceStore(f"sqlite:///{tmp_path / 'ca.sqlite'}")
    nonce = store.issue()
    store._sessions.kw["bind"].dispose()
    (tmp_path / "ca.sqlite").unlink()
    (tmp_path / "ca.sqlite").mkdir()  # the file is gone and cannot be re-created: every query fails
    with pytest.raises(NonceStorageError):
        store.consume(nonce)
