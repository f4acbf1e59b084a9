"""Challenge nonces in the CA's database: single-use and expiring, across restarts and replicas.

Implements :class:`enclava.attestation.verifiers.NonceStore`. A nonce is accepted by one
conditional ``UPDATE`` (not yet consumed, not yet expired), which is atomic in SQLite and in any
server database, so two CA processes on one database never both accept it. When the update matches
nothing, the row says why: unknown, reused or expired, each its own error.

Times are wall-clock unix seconds (a monotonic clock does not survive a restart). Rows are kept one
lifetime past their expiry, so a late or replayed nonce is named as such; after that the purge on
``issue`` forgets them and they are unknown, which is refused too.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, delete, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from certification_authority.db import NonceRow, open_database, write_transaction
from certification_authority.errors import NonceStorageError
from enclava.attestation.binding import NONCE_LENGTH
from enclava.attestation.errors import (
    NonceExpiredError,
    NonceReusedError,
    NonceUnknownError,
)
from enclava.attestation.verifiers.nonces import DEFAULT_NONCE_TTL_S
from enclava.errors import ConfigError

__all__ = ["SqlNonceStore"]


@contextmanager
def _storage(what: str) -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as exc:
        raise NonceStorageError(f"the CA's nonce store failed while it tried to {what}") from exc


class SqlNonceStore:
    """Nonces in the CA's database (a URL, an engine or a session factory); the clock is
    injectable."""

    def __init__(
        self,
        db: str | Engine | sessionmaker[Session] | None,
        *,
        ttl_s: float = DEFAULT_NONCE_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl_s <= 0:
            raise ConfigError("the nonce lifetime must be positive")
        self._ttl_s, self._clock = ttl_s, clock
        self._lock = threading.RLock()
        with _storage("open"):
            self._sessions = open_database(db)

    def issue(self) -> bytes:
        nonce = secrets.token_bytes(NONCE_LENGTH)
        now = self._clock()

        def work(session: Session) -> None:
            session.execute(delete(NonceRow).where(NonceRow.expires_at < now - self._ttl_s))
            session.add(NonceRow(nonce=nonce.hex(), issued_at=now, expires_at=now + self._ttl_s))

        with _storage("issue a nonce"):
            write_transaction(self._sessions, work, lock=self._lock)
        return nonce

    def consume(self, nonce: bytes) -> None:
        if not isinstance(nonce, bytes) or len(nonce) != NONCE_LENGTH:
            raise NonceUnknownError("this nonce was not issued by the CA (or expired long ago)")
        key, now = nonce.hex(), self._clock()

        def work(session: Session) -> str:
            taken = session.execute(
                update(NonceRow)
                .where(
                    NonceRow.nonce == key,
                    NonceRow.consumed_at.is_(None),
                    NonceRow.expires_at >= now,
                )
                .values(consumed_at=now)
                .execution_options(synchronize_session=False)
            )
            if cast("CursorResult[Any]", taken).rowcount == 1:
                return "ok"
            row = session.get(NonceRow, key)
            return (
                "unknown" if row is None else "reused" if row.consumed_at is not None else "expired"
            )

        with _storage("consume a nonce"):
            outcome = write_transaction(self._sessions, work, lock=self._lock)
        if outcome == "unknown":
            raise NonceUnknownError("this nonce was not issued by the CA (or expired long ago)")
        if outcome == "reused":
            raise NonceReusedError("this nonce was already used for an attestation")
        if outcome == "expired":
            raise NonceExpiredError("this nonce expired before the evidence arrived")

    def close(self) -> None:
        """Release the database connections (the nonces stay on disk)."""
        self._sessions.kw["bind"].dispose()
