"""The marketplace's SQLAlchemy tables: the chain index, listing metadata and sign-in state.

Amounts are wei as decimal strings (uint96/uint256 do not fit SQL integers everywhere) plus a float
copy used only to filter and sort. ``pos`` is the (block, log index) of the last event applied to a
row, so replaying older events never moves a row backwards (the indexer's idempotence).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Integer,
    String,
    Text,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    sessionmaker,
)

__all__ = [
    "Base",
    "Cursor",
    "Provider",
    "TeeOffer",
    "Resource",
    "ListingMetadata",
    "Order",
    "OrderMoney",
    "Enclave",
    "Service",
    "TokenPrice",
    "SiweNonce",
    "AuthSession",
    "make_engine",
    "make_sessionmaker",
    "event_pos",
]


class Base(DeclarativeBase):
    pass


def event_pos(block: int, log_index: int) -> int:
    return int(block) * 1_000_000 + int(log_index)


class Cursor(Base):
    __tablename__ = "index_cursor"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    block: Mapped[int] = mapped_column(BigInteger)  # last block fully indexed


class Provider(Base):
    __tablename__ = "providers"
    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    stake_wei: Mapped[str] = mapped_column(String(80))
    registered_block: Mapped[int] = mapped_column(BigInteger)
    pos: Mapped[int] = mapped_column(BigInteger)


class TeeOffer(Base):
    __tablename__ = "tee_offers"
    tee_offer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    provider: Mapped[str] = mapped_column(String(42), index=True)
    tee_type: Mapped[int] = mapped_column(Integer)
    gpu_class: Mapped[str] = mapped_column(String(64))
    price_per_second_wei: Mapped[str] = mapped_column(String(80))
    price_sort: Mapped[float] = mapped_column(Float)
    slots: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    pos: Mapped[int] = mapped_column(BigInteger)


class Resource(Base):
    __tablename__ = "resources"
    resource_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    owner: Mapped[str] = mapped_column(String(42), index=True)
    kind: Mapped[int] = mapped_column(Integer, index=True)
    cid: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(66))
    price_wei: Mapped[str] = mapped_column(String(80))
    price_sort: Mapped[float] = mapped_column(Float)
    metadata_cid: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    listed_block: Mapped[int] = mapped_column(BigInteger)
    listed_tx: Mapped[str] = mapped_column(String(66))
    pos: Mapped[int] = mapped_column(BigInteger)


class ListingMetadata(Base):
    """Off-chain description of a resource, written only by its on-chain owner."""

    __tablename__ = "listing_metadata"
    resource_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    owner: Mapped[str] = mapped_column(String(42))
    name: Mapped[str] = mapped_column(String(120), index=True)
    description: Mapped[str] = mapped_column(Text)
    task: Mapped[str] = mapped_column(String(64), index=True)
    input_schema: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, nullable=True
    )  # engines: the customer's input format (JSON Schema), when declared
    price_wei: Mapped[str] = mapped_column(String(80))
    license: Mapped[str] = mapped_column(String(120))
    engine_hash: Mapped[str] = mapped_column(String(66))
    tee_requirements: Mapped[dict[str, Any]] = mapped_column(JSON)
    tee_types: Mapped[str] = mapped_column(String(64))  # ",TDX,SIMULATED," for LIKE filters
    tail_url: Mapped[str | None] = mapped_column(
        Text, nullable=True, default=None
    )  # split models' tail service
    engine_resource_id: Mapped[int | None] = mapped_column(
        BigInteger, nullable=True, default=None, index=True
    )  # weights/datasets: the engine (same owner) they are for
    updated_at: Mapped[float] = mapped_column(Float)


class Order(Base):
    __tablename__ = "orders"
    order_id: Mapped[str] = mapped_column(String(66), primary_key=True)
    nonce: Mapped[int] = mapped_column(BigInteger)
    customer: Mapped[str] = mapped_column(String(42), index=True)
    provider: Mapped[str] = mapped_column(String(42), index=True)
    tee_offer_id: Mapped[int] = mapped_column(BigInteger)
    tee_type: Mapped[int] = mapped_column(Integer)
    engine_id: Mapped[int] = mapped_column(BigInteger, index=True)
    engine_hash: Mapped[str] = mapped_column(String(66))
    inputs_hash: Mapped[str] = mapped_column(String(66))
    escrow_wei: Mapped[str] = mapped_column(String(80))
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    inputs: Mapped[list[Any]] = mapped_column(JSON)
    resource_hashes: Mapped[list[Any]] = mapped_column(JSON)
    status: Mapped[int] = mapped_column(Integer, index=True)
    created_block: Mapped[int] = mapped_column(BigInteger)
    created_tx: Mapped[str] = mapped_column(String(66))
    accepted_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    enclave: Mapped[str | None] = mapped_column(String(42), nullable=True)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    report_tx: Mapped[str | None] = mapped_column(String(66), nullable=True)
    failure_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    failure_detail_cid: Mapped[str | None] = mapped_column(Text, nullable=True)
    pos: Mapped[int] = mapped_column(BigInteger)
    money: Mapped[list["OrderMoney"]] = relationship(
        primaryjoin="Order.order_id == foreign(OrderMoney.order_id)",
        order_by="OrderMoney.pos",
        viewonly=True,
        lazy="selectin",
    )


class OrderMoney(Base):
    """One ``Credited`` or ``Refunded`` event of an order: who got how much, in chain order.

    Keyed by the event's position, so indexing the same block again adds nothing; an order's
    payouts and refund are read from these rows, never recomputed from its terms.
    """

    __tablename__ = "order_money"
    pos: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[str] = mapped_column(String(66), index=True)
    event: Mapped[str] = mapped_column(String(16))  # "credited" or "refunded"
    account: Mapped[str] = mapped_column(String(42))
    amount_wei: Mapped[str] = mapped_column(String(80))
    tx: Mapped[str] = mapped_column(String(66))


class Enclave(Base):
    __tablename__ = "enclaves"
    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    provider: Mapped[str] = mapped_column(String(42), index=True)
    ca: Mapped[str] = mapped_column(String(42))
    tee_type: Mapped[int] = mapped_column(Integer)
    measurement: Mapped[str] = mapped_column(String(66))
    expires_at: Mapped[int] = mapped_column(BigInteger)
    # the GPUs the CA certified with the enclave ("" and 0: none; NULL: indexed before GPUs were)
    gpu_class: Mapped[str | None] = mapped_column(String(32), nullable=True)
    gpu_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pos: Mapped[int] = mapped_column(BigInteger)


class Service(Base):
    """A ServiceMarket service: its terms (from a ``ServiceStarted`` event whose terms hash to the
    id; others are never stored), then its endpoint, bound enclave and stop as they happen."""

    __tablename__ = "services"
    service_id: Mapped[str] = mapped_column(String(66), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(80))
    provider: Mapped[str] = mapped_column(String(42), index=True)
    tee_offer_id: Mapped[str] = mapped_column(String(80))  # uint256 as decimal
    tee_type: Mapped[int] = mapped_column(Integer)
    model_id: Mapped[str] = mapped_column(String(80), index=True)  # uint256 as decimal
    model_owner: Mapped[str] = mapped_column(String(42))
    model_hash: Mapped[str] = mapped_column(String(66))
    input_token_price_wei: Mapped[str] = mapped_column(String(80))
    output_token_price_wei: Mapped[str] = mapped_column(String(80))
    provider_per_token: Mapped[bool] = mapped_column(Boolean)
    provider_price_wei: Mapped[str] = mapped_column(String(80))
    ends_at: Mapped[str] = mapped_column(String(24))  # uint64 as decimal
    ends_sort: Mapped[float] = mapped_column(Float)
    stopped_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    enclave: Mapped[str | None] = mapped_column(String(42), nullable=True)
    endpoint: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_block: Mapped[int] = mapped_column(BigInteger)
    started_tx: Mapped[str] = mapped_column(String(66))
    pos: Mapped[int] = mapped_column(BigInteger)


class TokenPrice(Base):
    """A model's serving prices per input and output token (``TokenPricesSet``; both 0: not
    served)."""

    __tablename__ = "token_prices"
    model_id: Mapped[str] = mapped_column(String(80), primary_key=True)  # uint256 as decimal
    input_price_wei: Mapped[str] = mapped_column(String(80))
    output_price_wei: Mapped[str] = mapped_column(String(80))
    pos: Mapped[int] = mapped_column(BigInteger)


class SiweNonce(Base):
    __tablename__ = "siwe_nonces"
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[float] = mapped_column(Float)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class AuthSession(Base):
    __tablename__ = "sessions"
    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(42), index=True)
    expires_at: Mapped[float] = mapped_column(Float)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout (the indexer thread writes too)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(  # pragma: no cover - trivial
            dbapi_connection: Any,  # the DBAPI's own connection (sqlite3): untyped by SQLAlchemy
            _record: Any,
        ) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
    else:
        engine = create_engine(url, pool_pre_ping=True)
    replay = _needs_replay(engine)
    Base.metadata.create_all(engine)
    _add_missing_columns(engine)
    if replay:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM index_cursor"))
    return engine


#: Tables filled only from chain events that older versions did not keep: an index made before
#: one existed must read the chain again from the start to fill it.
_REPLAYED_TABLES = ("order_money", "services", "token_prices")


def _needs_replay(engine: Engine) -> bool:
    """True for an existing index that lacks a chain-filled table: the indexer's cursor is then
    dropped so it replays every event; its handlers are idempotent, so nothing else changes."""
    present = inspect(engine)
    if not present.has_table("index_cursor"):
        return False
    return any(not present.has_table(name) for name in _REPLAYED_TABLES)


def _add_missing_columns(engine: Engine) -> None:
    """Bring an index made by an older version up to date: columns added since (always nullable)
    are added in place, so an existing database keeps its rows and its indexer cursor."""
    present = inspect(engine)
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            have = {column["name"] for column in present.get_columns(table.name)}
            for column in table.columns:
                if column.name not in have and column.nullable:
                    kind = column.type.compile(dialect=engine.dialect)
                    connection.execute(
                        text(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}')
                    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
