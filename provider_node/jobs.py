"""The node's durable memory: one row per accepted order (saved before its task is queued) and the
block cursor of the chain follower. SQLite by default, any SQLAlchemy URL.

A job moves ``queued → running → completed | failed``; ``running`` carries a lease that the
executing worker renews, so a second delivery of the same task (a killed worker, a restarted
Redis) can only take the job over once the first holder has stopped renewing it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    CursorResult,
    Integer,
    Result,
    String,
    create_engine,
    select,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

__all__ = ["JobStore", "JobRecord", "OPEN_STATES"]

OPEN_STATES = ("accepting", "queued", "running")


class _Base(DeclarativeBase):
    pass


class _Job(_Base):
    __tablename__ = "jobs"
    order_id: Mapped[str] = mapped_column(String(66), primary_key=True)
    tee_offer_id: Mapped[int] = mapped_column(BigInteger)
    deadline: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    holder: Mapped[str] = mapped_column(String(128), default="")
    lease_until: Mapped[float] = mapped_column(default=0.0)
    reason: Mapped[str] = mapped_column(String(64), default="")
    tx_hash: Mapped[str] = mapped_column(String(66), default="")
    created_at: Mapped[float] = mapped_column(default=0.0)
    finished_at: Mapped[float] = mapped_column(default=0.0)
    stages: Mapped[str] = mapped_column(String(1024), default="")


class _Cursor(_Base):
    __tablename__ = "cursor"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    block: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True)
class JobRecord:
    order_id: str
    tee_offer_id: int
    deadline: int
    status: str
    attempts: int
    holder: str
    lease_until: float
    reason: str
    tx_hash: str
    stages: dict[str, Any]


def _record(row: _Job) -> JobRecord:
    return JobRecord(
        row.order_id,
        row.tee_offer_id,
        row.deadline,
        row.status,
        row.attempts,
        row.holder,
        row.lease_until,
        row.reason,
        row.tx_hash,
        json.loads(row.stages) if row.stages else {},
    )


def _rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE matched (SQLAlchemy types ``execute`` as a plain ``Result``)."""
    return int(cast("CursorResult[Any]", result).rowcount)


class JobStore:
    def __init__(self, url: str, *, clock: Callable[[], float] = time.time) -> None:
        args = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}
        self._engine = create_engine(url, **args)
        _Base.metadata.create_all(self._engine)
        self._session = sessionmaker(self._engine, expire_on_commit=False)
        self._clock = clock

    def add(
        self, order_id: str, *, tee_offer_id: int, deadline: int, status: str = "queued"
    ) -> bool:
        """Save a job; ``False`` when the order already has one (idempotent)."""
        with self._session.begin() as s:
            if s.get(_Job, order_id) is not None:
                return False
            s.add(
                _Job(
                    order_id=order_id,
                    tee_offer_id=tee_offer_id,
                    deadline=deadline,
                    status=status,
                    attempts=0,
                    created_at=self._clock(),
                    lease_until=self._clock() + 3600,
                )
            )
            return True

    def queue(self, order_id: str, *, deadline: int) -> None:
        """An ``accepting`` job whose acceptance landed: queued, with the order's deadline."""
        with self._session.begin() as s:
            s.execute(
                update(_Job)
                .where(_Job.order_id == order_id, _Job.status == "accepting")
                .values(status="queued", deadline=deadline, lease_until=0.0)
            )

    def discard(self, order_id: str) -> None:
        """Forget an ``accepting`` job whose acceptance did not land."""
        with self._session.begin() as s:
            row = s.get(_Job, order_id)
            if row is not None and row.status == "accepting":
                s.delete(row)

    def get(self, order_id: str) -> JobRecord | None:
        with self._session() as s:
            row = s.get(_Job, order_id)
            return _record(row) if row else None

    def claim(self, order_id: str, holder: str, lease_s: float) -> JobRecord | None:
        """Take the job for ``holder`` unless it is finished or another holder's lease is live."""
        now = self._clock()
        with self._session.begin() as s:
            result = s.execute(
                update(_Job)
                .where(
                    _Job.order_id == order_id,
                    _Job.status.in_(("queued", "running")),
                    (_Job.status == "queued") | (_Job.lease_until < now) | (_Job.holder == holder),
                )
                .values(
                    status="running",
                    holder=holder,
                    lease_until=now + lease_s,
                    attempts=_Job.attempts + 1,
                )
            )
            row = s.get(_Job, order_id)
            if _rowcount(result) != 1 or row is None:
                return None
            return _record(row)

    def renew(self, order_id: str, holder: str, lease_s: float) -> bool:
        with self._session.begin() as s:
            result = s.execute(
                update(_Job)
                .where(_Job.order_id == order_id, _Job.holder == holder, _Job.status == "running")
                .values(lease_until=self._clock() + lease_s)
            )
            return _rowcount(result) == 1

    def release(self, order_id: str, holder: str, pickup_within_s: float) -> None:
        """Give a running job back to the queue (a transient error): its task retries it; the node
        queues it again only if nobody picks it up within ``pickup_within_s``."""
        with self._session.begin() as s:
            s.execute(
                update(_Job)
                .where(_Job.order_id == order_id, _Job.holder == holder, _Job.status == "running")
                .values(status="queued", holder="", lease_until=self._clock() + pickup_within_s)
            )

    def mark_enqueued(self, order_id: str, pickup_within_s: float) -> None:
        """A queued job not picked up by ``now + pickup_within_s`` is queued again by the node."""
        with self._session.begin() as s:
            s.execute(
                update(_Job)
                .where(_Job.order_id == order_id, _Job.status == "queued")
                .values(lease_until=self._clock() + pickup_within_s)
            )

    def stale_jobs(self) -> list[JobRecord]:
        """Open jobs whose pickup window or lease ran out: their task was lost or its worker
        died."""
        now = self._clock()
        return [
            job for job in self.open_jobs() if job.status != "accepting" and job.lease_until < now
        ]

    def finish(
        self,
        order_id: str,
        status: str,
        *,
        reason: str = "",
        tx_hash: str = "",
        stages: dict[str, float] | None = None,
    ) -> None:
        assert status in ("completed", "failed")
        timing = json.dumps({k: round(v, 4) for k, v in (stages or {}).items()}, sort_keys=True)
        with self._session.begin() as s:
            s.execute(
                update(_Job)
                .where(_Job.order_id == order_id)
                .values(
                    status=status,
                    reason=reason[:64],
                    tx_hash=tx_hash,
                    lease_until=0.0,
                    finished_at=self._clock(),
                    stages=timing[:1024],
                )
            )

    def open_jobs(self) -> list[JobRecord]:
        with self._session() as s:
            return [_record(r) for r in s.scalars(select(_Job).where(_Job.status.in_(OPEN_STATES)))]

    def all_jobs(self) -> list[JobRecord]:
        with self._session() as s:
            return [_record(r) for r in s.scalars(select(_Job))]

    def open_count(self, tee_offer_id: int) -> int:
        return sum(1 for job in self.open_jobs() if job.tee_offer_id == tee_offer_id)

    def cursor(self, name: str = "orders") -> int | None:
        with self._session() as s:
            row = s.get(_Cursor, name)
            return row.block if row else None

    def set_cursor(self, block: int, name: str = "orders") -> None:
        with self._session.begin() as s:
            row = s.get(_Cursor, name)
            if row is None:
                s.add(_Cursor(name=name, block=block))
            else:
                row.block = block

    def dispose(self) -> None:
        self._engine.dispose()
