"""CA nonces: issued per attestation, single-use, short-lived. A protocol and an in-memory store.

The nonce is what makes evidence fresh: the enclave binds it into report_data, and the CA accepts
it once. Issued nonces are remembered for one lifetime past their expiry, so a late or replayed
one is refused as expired or reused; after that it is unknown, which is refused too. A store shared
by several CA replicas (database, Redis)
implements the same protocol later; ``consume`` must then be atomic.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from enclava.attestation.binding import NONCE_LENGTH
from enclava.attestation.errors import NonceExpiredError, NonceReusedError, NonceUnknownError
from enclava.errors import ConfigError

__all__ = ["NonceStore", "InMemoryNonceStore", "DEFAULT_NONCE_TTL_S"]

DEFAULT_NONCE_TTL_S = 300


@runtime_checkable
class NonceStore(Protocol):
    def issue(self) -> bytes:
        """A fresh random nonce of ``NONCE_LENGTH`` bytes."""
        ...

    def consume(self, nonce: bytes) -> None:
        """Accept ``nonce`` once; raise NonceUnknownError, NonceReusedError or NonceExpiredError."""
        ...


class InMemoryNonceStore:
    """Single-process nonce store with expiry; thread-safe; the clock is injectable for tests."""

    def __init__(
        self, *, ttl_s: float = DEFAULT_NONCE_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if ttl_s <= 0:
            raise ConfigError("the nonce lifetime must be positive")
        self._ttl_s, self._clock = ttl_s, clock
        self._lock = threading.Lock()
        self._expiry: dict[bytes, float] = {}  # nonce -> expiry instant
        self._consumed: set[bytes] = set()

    def issue(self) -> bytes:
        nonce = secrets.token_bytes(NONCE_LENGTH)
        with self._lock:
            self._purge()
            self._expiry[nonce] = self._clock() + self._ttl_s
        return nonce

    def consume(self, nonce: bytes) -> None:
        with self._lock:
            expiry = self._expiry.get(nonce) if isinstance(nonce, bytes) else None
            if expiry is None:
                raise NonceUnknownError("this nonce was not issued by the CA (or expired long ago)")
            if nonce in self._consumed:
                raise NonceReusedError("this nonce was already used for an attestation")
            if self._clock() > expiry:
                raise NonceExpiredError("this nonce expired before the evidence arrived")
            self._consumed.add(nonce)

    def _purge(self) -> None:
        """Forget nonces past expiry (called under the lock); keeps memory bounded by the issue
        rate."""
        now = self._clock()
        for nonce in [n for n, expiry in self._expiry.items() if expiry < now - self._ttl_s]:
            del self._expiry[nonce]
            self._consumed.discard(nonce)
