"""The index database: one made by an older version gains the columns added since, rows kept."""

from __future__ import annotations

import sqlite3

from sqlalchemy import inspect

from marketplace_api.db import make_engine


def test_make_engine_adds_columns_missing_from_an_older_database(tmp_path):
    path = tmp_path / "old.db"
    make_engine(f"sqlite:///{path}").dispose()
    with sqlite3.connect(
        path
    ) as old:  # the listing_metadata table as it was before tail_url existed
        old.execute("ALTER TABLE listing_metadata DROP COLUMN tail_url")
        old.execute("INSERT INTO index_cursor (name, block) VALUES ('chain', 42)")
    engine = make_engine(f"sqlite:///{path}")
    columns = {c["name"] for c in inspect(engine).get_columns("listing_metadata")}
    assert "tail_url" in columns
    with engine.connect() as connection:
        assert (
            connection.exec_driver_sql("SELECT block FROM index_cursor WHERE name='chain'").scalar()
            == 42
        )
