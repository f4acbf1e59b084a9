"""The append-only, hash-chained audit log, stored in the CA's database.

``append`` writes inside the caller's transaction, so a decision and its entry commit together (a
key is never released without its entry); ``record`` is the same in a transaction of its own. A
second writer racing for the same ``seq`` hits the primary key and its transaction is retried
(see :func:`certification_authority.db.write_transaction`), so the chain never forks.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from certification_authority.audit.errors import AuditStorageError
from certification_authority.db import AuditEntryRow, AuditResourceRow, write_transaction
from enclava.protocol.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditView,
    ChainLink,
    entry_hash,
    verify_chain,
)
from enclava.protocol.canonical import canonical_json

__all__ = ["AuditLog"]


@contextmanager
def _storage(what: str) -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as exc:
        raise AuditStorageError(f"the audit log could not {what}") from exc


def _entry(row: AuditEntryRow) -> AuditEntry:
    return AuditEntry(
        seq=row.seq,
        time=row.time,
        event=row.event,
        resource_ids=json.loads(row.resource_ids_json),
        order_id=row.order_id,
        enclave_address=row.enclave_address,
        decision=row.decision,
        reason=row.reason,
        guard=row.guard,
        details=json.loads(row.details_json),
        prev_hash=row.prev_hash,
        entry_hash=row.entry_hash,
    )


class AuditLog:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        clock: Callable[[], float] = time.time,
        lock: threading.Lock | threading.RLock | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._lock = lock or threading.RLock()

    def append(
        self,
        session: Session,
        *,
        event: str,
        decision: str,
        reason: str,
        resource_ids: Iterable[int | str] = (),
        order_id: str | None = None,
        enclave_address: str | None = None,
        guard: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Add one entry at the head of the chain, inside ``session``'s transaction (flushed, not
        committed)."""
        head = session.execute(
            select(AuditEntryRow.seq, AuditEntryRow.entry_hash)
            .order_by(AuditEntryRow.seq.desc())
            .limit(1)
        ).first()
        seq, prev_hash = (head.seq + 1, head.entry_hash) if head else (1, GENESIS_HASH)
        resources = list(dict.fromkeys(str(int(resource)) for resource in resource_ids))
        body = json.loads(
            canonical_json(
                {
                    "seq": seq,
                    "time": int(self._clock()),
                    "event": str(getattr(event, "value", event)),
                    "resource_ids": resources,
                    "order_id": order_id,
                    "enclave_address": enclave_address,
                    "decision": str(getattr(decision, "value", decision)),
                    "reason": reason,
                    "guard": guard,
                    "details": dict(details or {}),
                    "prev_hash": prev_hash,
                }
            )
        )
        entry = AuditEntry(**body, entry_hash=entry_hash(prev_hash, body))
        session.add(
            AuditEntryRow(
                seq=seq,
                time=entry.time,
                event=entry.event,
                resource_ids_json=canonical_json(resources).decode(),
                order_id=order_id,
                enclave_address=enclave_address,
                decision=entry.decision,
                reason=reason,
                guard=guard,
                details_json=canonical_json(entry.details).decode(),
                prev_hash=prev_hash,
                entry_hash=entry.entry_hash,
            )
        )
        session.flush()
        session.add_all(AuditResourceRow(resource_id=resource, seq=seq) for resource in resources)
        session.flush()
        return entry

    def record(self, **fields: Any) -> AuditEntry:
        """``append`` in a transaction of its own, committed before it returns."""
        with _storage("append an entry"):
            return write_transaction(
                self._sessions, lambda session: self.append(session, **fields), lock=self._lock
            )

    def entries(self) -> list[AuditEntry]:
        """Every entry, in chain order."""
        with _storage("read its entries"), self._sessions() as session:
            rows = session.scalars(select(AuditEntryRow).order_by(AuditEntryRow.seq))
            return [_entry(row) for row in rows]

    def links(self) -> list[ChainLink]:
        with _storage("read its links"), self._sessions() as session:
            rows = session.execute(
                select(
                    AuditEntryRow.seq, AuditEntryRow.prev_hash, AuditEntryRow.entry_hash
                ).order_by(AuditEntryRow.seq)
            )
            return [
                ChainLink(seq=r.seq, prev_hash=r.prev_hash, entry_hash=r.entry_hash) for r in rows
            ]

    def entries_for_resource(self, resource_id: int | str) -> list[AuditEntry]:
        """Every entry about ``resource_id``, in chain order."""
        with _storage("read a resource's entries"), self._sessions() as session:
            rows = session.scalars(
                select(AuditEntryRow)
                .join(AuditResourceRow, AuditResourceRow.seq == AuditEntryRow.seq)
                .where(AuditResourceRow.resource_id == str(int(resource_id)))
                .order_by(AuditEntryRow.seq)
            )
            return [_entry(row) for row in rows]

    def view_for_resource(self, ca_id: str, resource_id: int | str) -> AuditView:
        """The owner's view: all links, and the entries about ``resource_id``.

        Entries are read before links: the log only grows, so every entry returned has its link.
        """
        entries = self.entries_for_resource(resource_id)
        return AuditView(
            ca_id=ca_id, resource_id=str(int(resource_id)), links=self.links(), entries=entries
        )

    def verify(self, *, anchor: ChainLink | None = None) -> ChainLink | None:
        """Recompute the whole stored chain; return its head, or raise ``AuditChainBroken``."""
        return verify_chain(self.entries(), anchor=anchor)
