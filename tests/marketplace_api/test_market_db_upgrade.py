"""An index made before payouts were kept: it gains the new columns and the money table, and its
cursor is dropped so the indexer replays the chain to fill them (its handlers are idempotent)."""

from __future__ import annotations

import sqlite3

from sqlalchemy import inspect

from marketplace_api.db import make_engine


def _old_index(path) -> None:
    make_engine(f"sqlite:///{path}").dispose()
    with sqlite3.connect(path) as old:  # the tables as they were before issue 15
        old.execute("DROP TABLE order_money")
        old.execute("ALTER TABLE orders DROP COLUMN failure_detail_cid")
        old.execute("DROP INDEX IF EXISTS ix_listing_metadata_engine_resource_id")
        old.execute("ALTER TABLE listing_metadata DROP COLUMN engine_resource_id")
        old.execute("INSERT INTO index_cursor (name, block) VALUES ('chain', 42)")
        old.execute("INSERT INTO siwe_nonces (nonce, created_at, used) VALUES ('kept', 1.0, 0)")


def test_an_older_index_gains_the_money_table_and_replays_the_chain(tmp_path):
    path = tmp_path / "old.db"
    _old_index(path)
    engine = make_engine(f"sqlite:///{path}")
    found = inspect(engine)
    assert found.has_table("order_money")
    assert "failure_detail_cid" in {c["name"] for c in found.get_columns("orders")}
    assert "engine_resource_id" in {c["name"] for c in found.get_columns("listing_metadata")}
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM index_cursor").scalar() == 0
        assert connection.exec_driver_sql("SELECT nonce FROM siwe_nonces").scalar() == "kept"


def test_a_current_index_keeps_its_cursor(tmp_path):
    path = tmp_path / "current.db"
    make_engine(f"sqlite:///{path}").dispose()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO index_cursor (name, block) VALUES ('chain', 42)")
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT block FROM index_cursor").scalar() == 42
