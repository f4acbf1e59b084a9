"""The CA's persistent state: one SQLAlchemy engine and the tables the key broker and audit log
share.

Any SQLAlchemy URL works; the default is a SQLite file under ``$ENCLAVA_CA_HOME`` (or
``~/.local/share/enclava/ca``). Tables::

    resource_keys       the current deposit per resource: age ciphertext (to the CA), policy,
                        version, uses
    policy_versions     every deposit ever accepted (the policy history; no ciphertext)
    revocations         revoked certificate serials and enclave addresses
    audit_entries       the hash-chained audit log; ``seq`` is the position in the chain
    audit_resources     which resources each audit entry is about (the index behind an owner's view)
    attestation_nonces  challenge nonces: issued, expiry, consumed (single use across restarts)
    admin_requests      digests of accepted signed admin requests (replay protection across
                        restarts)
    release_requests    (enclave, request nonce) of every key-release request seen, until it expires

uint256 resource ids do not fit SQL integers, so they are stored as decimal strings.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Engine,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    event,
    text,
)
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from enclava.errors import ConfigError

__all__ = [
    "Base",
    "ResourceKeyRow",
    "PolicyVersionRow",
    "RevocationRow",
    "AuditEntryRow",
    "AuditResourceRow",
    "NonceRow",
    "AdminRequestRow",
    "ReleaseRequestRow",
    "default_db_url",
    "open_database",
    "write_transaction",
]

T = TypeVar("T")


class Base(DeclarativeBase):
    pass


class ResourceKeyRow(Base):
    __tablename__ = "resource_keys"

    resource_id: Mapped[str] = mapped_column(String(78), primary_key=True)
    owner: Mapped[str] = mapped_column(String(42))
    version: Mapped[int] = mapped_column(Integer)
    ciphertext: Mapped[bytes] = mapped_column(
        LargeBinary
    )  # age, to the CA's recipient; never plaintext
    ciphertext_sha256: Mapped[str] = mapped_column(String(64))
    policy_json: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[int] = mapped_column(
        Integer
    )  # of the signed request: later deposits must be newer
    deposited_at: Mapped[int] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    max_uses: Mapped[int | None] = mapped_column(Integer, nullable=True)


class OrderInputKeyRow(Base):
    """The key of one order's customer inputs, deposited by the order's customer."""

    __tablename__ = "order_input_keys"

    order_id: Mapped[str] = mapped_column(String(66), primary_key=True)
    customer: Mapped[str] = mapped_column(String(42))
    ciphertext: Mapped[bytes] = mapped_column(
        LargeBinary
    )  # age, to the CA's recipient; never plaintext
    ciphertext_sha256: Mapped[str] = mapped_column(String(64))
    deposited_at: Mapped[int] = mapped_column(Integer)
    releases: Mapped[int] = mapped_column(Integer, default=0)


class PolicyVersionRow(Base):
    __tablename__ = "policy_versions"

    resource_id: Mapped[str] = mapped_column(String(78), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner: Mapped[str] = mapped_column(String(42))
    ciphertext_sha256: Mapped[str] = mapped_column(String(64))
    policy_json: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[int] = mapped_column(Integer)
    deposited_at: Mapped[int] = mapped_column(Integer)


class RevocationRow(Base):
    __tablename__ = "revocations"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # "certificate" or "enclave"
    subject: Mapped[str] = mapped_column(String(80), primary_key=True)  # serial hex or address
    reason: Mapped[str] = mapped_column(Text)
    revoked_at: Mapped[int] = mapped_column(Integer)
    audit_seq: Mapped[int] = mapped_column(Integer)


class AuditEntryRow(Base):
    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    time: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(32))
    resource_ids_json: Mapped[str] = mapped_column(Text)
    order_id: Mapped[str | None] = mapped_column(String(66), nullable=True)
    enclave_address: Mapped[str | None] = mapped_column(String(42), nullable=True)
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    guard: Mapped[str | None] = mapped_column(String(64), nullable=True)
    details_json: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditResourceRow(Base):
    __tablename__ = "audit_resources"

    resource_id: Mapped[str] = mapped_column(String(78), primary_key=True)
    seq: Mapped[int] = mapped_column(ForeignKey("audit_entries.seq"), primary_key=True)


class NonceRow(Base):
    __tablename__ = "attestation_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)  # hex
    issued_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float, index=True)
    consumed_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class AdminRequestRow(Base):
    __tablename__ = "admin_requests"

    digest: Mapped[str] = mapped_column(
        String(64), primary_key=True
    )  # SHA-256 of the signed message
    admin: Mapped[str] = mapped_column(String(42))
    action: Mapped[str] = mapped_column(String(32))
    issued_at: Mapped[int] = mapped_column(Integer)
    used_at: Mapped[int] = mapped_column(Integer)


class ReleaseRequestRow(Base):
    """A key-release request's nonce, kept until no request carrying it could be fresh any more."""

    __tablename__ = "release_requests"

    enclave_address: Mapped[str] = mapped_column(String(42), primary_key=True)  # lowercase
    request_nonce: Mapped[str] = mapped_column(String(64), primary_key=True)  # 64 lowercase hex
    seen_at: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)


def default_db_url() -> str:
    """A SQLite file in the CA's state folder (created if missing)."""
    home = Path(
        os.environ.get("ENCLAVA_CA_HOME", Path.home() / ".local" / "share" / "enclava" / "ca")
    )
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'ca.sqlite3'}"


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(  # pragma: no cover - exercised by every test
        dbapi_connection: Any,  # the DBAPI's own connection (sqlite3): untyped by SQLAlchemy
        _record: Any,
    ) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


def open_database(db: str | Engine | sessionmaker[Session] | None = None) -> sessionmaker[Session]:
    """A session factory over ``db`` (URL, engine or factory), with every table created."""
    if isinstance(db, sessionmaker):
        bind = db.kw.get("bind")
        if bind is None:
            raise ConfigError(
                "the session factory given to the CA has no engine bound",
                hint="Build it with sessionmaker(bind=create_engine(url)).",
            )
        Base.metadata.create_all(bind)
        return db
    try:
        engine = db if isinstance(db, Engine) else create_engine(db or default_db_url())
    except (ArgumentError, NoSuchModuleError) as exc:
        raise ConfigError(
            f"the CA's database URL is invalid: {exc}",
            hint="Give a SQLAlchemy URL such as sqlite:////var/lib/enclava/ca.sqlite3.",
        ) from exc
    if engine.dialect.name == "sqlite" and isinstance(db, str | None):
        _sqlite_pragmas(engine)
    Base.metadata.create_all(engine)
    return sessionmaker(bind=engine, expire_on_commit=False)


def write_transaction(
    sessions: sessionmaker[Session],
    work: Callable[[Session], T],
    *,
    lock: threading.Lock | threading.RLock,
    attempts: int = 5,
) -> T:
    """Run ``work(session)`` and commit, serialized by ``lock`` in this process.

    On SQLite the transaction takes the database's write lock before ``work`` reads anything, so
    writers in other processes or engines wait their turn (up to ``busy_timeout``) instead of
    reading the same audit head and racing to the same ``seq``. Elsewhere such a unique-key race
    raises ``IntegrityError``; the whole transaction is then retried from scratch, up to
    ``attempts`` times. Any other exception rolls the transaction back and propagates.
    """
    for attempt in range(attempts):
        with lock, sessions() as session:
            try:
                if session.get_bind().dialect.name == "sqlite":
                    session.execute(text("BEGIN IMMEDIATE"))
                result = work(session)
                session.commit()
                return result
            except IntegrityError:
                session.rollback()
                if attempt == attempts - 1:
                    raise
    raise AssertionError("unreachable")  # pragma: no cover
