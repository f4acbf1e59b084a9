"""The audit log is one hash chain: edits, removals, reorderings and rewinds are all detected."""

from __future__ import annotations

import hashlib
import sqlite3
import threading

import pytest

from certification_authority.audit import AuditLog, AuditStorageError
from certification_authority.db import open_database
from enclava.protocol.audit import GENESIS_HASH, verify_audit_view, verify_chain
from enclava.protocol.canonical import canonical_json
from enclava.protocol.errors import AuditChainBroken

BIG_RESOURCE = 2**256 - 1


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "audit.sqlite3"


@pytest.fixture
def log(db_path) -> AuditLog:
    audit = AuditLog(open_database(f"sqlite:///{db_path}"), clock=lambda: 1_800_000_000.7)
    for n, resource in enumerate([1, 2, 1, BIG_RESOURCE, 2], start=1):
        audit.record(
            event="key_release",
            decision="granted" if n % 2 else "denied",
            reason="ok",
            resource_ids=[resource],
            order_id="0x" + f"{n:064x}",
            enclave_address="0x" + "ab" * 20,
            guard=None,
            details={"n": n},
        )
    return audit


def sql(db_path, statement: str, *params) -> None:
    with sqlite3.connect(db_path) as connection:
        connection.execute(statement, params)


def test_entries_link_from_genesis_with_the_documented_hash(log):
    entries = log.entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5] and entries[0].prev_hash == GENESIS_HASH
    for before, entry in zip([None, *entries], entries):
        assert entry.prev_hash == (before.entry_hash if before else GENESIS_HASH)
        body = {k: v for k, v in entry.model_dump(mode="json").items() if k != "entry_hash"}
        assert (
            entry.entry_hash
            == hashlib.sha256(bytes.fromhex(entry.prev_hash) + canonical_json(body)).hexdigest()
        )
    assert entries[0].time == 1_800_000_000 and entries[3].resource_ids == [str(BIG_RESOURCE)]
    assert verify_chain(entries) == entries[-1].link() == log.verify()


def test_verify_detects_an_entry_edited_in_the_database(log, db_path):
    sql(db_path, "UPDATE audit_entries SET decision = 'granted' WHERE seq = 2")
    with pytest.raises(AuditChainBroken) as raised:
        log.verify()
    assert raised.value.seq == 2 and raised.value.code == "audit_chain_broken"


def test_verify_detects_an_edit_whose_hash_was_recomputed(log, db_path):
    entry = log.entries()[1].model_copy(update={"reason": "forged"})
    body = entry.body()
    forged_hash = hashlib.sha256(bytes.fromhex(entry.prev_hash) + canonical_json(body)).hexdigest()
    sql(
        db_path,
        "UPDATE audit_entries SET reason = 'forged', entry_hash = ? WHERE seq = 2",
        forged_hash,
    )
    with pytest.raises(AuditChainBroken) as raised:
        log.verify()
    assert raised.value.seq == 3


def test_verify_detects_a_removed_entry(log, db_path):
    sql(db_path, "DELETE FROM audit_resources WHERE seq = 3")
    sql(db_path, "DELETE FROM audit_entries WHERE seq = 3")
    with pytest.raises(AuditChainBroken) as raised:
        log.verify()
    assert raised.value.seq == 3


def test_verify_detects_reordered_entries(log, db_path):
    with sqlite3.connect(db_path) as connection:
        connection.execute("PRAGMA foreign_keys=OFF")
        for old, new in ((2, -1), (3, 2), (-1, 3)):
            connection.execute("UPDATE audit_entries SET seq = ? WHERE seq = ?", (new, old))
    with pytest.raises(AuditChainBroken) as raised:
        log.verify()
    assert raised.value.seq == 2


def test_verify_detects_a_cut_back_log_only_against_an_anchor(log, db_path):
    head = log.verify()
    sql(db_path, "DELETE FROM audit_resources WHERE seq = 5")
    sql(db_path, "DELETE FROM audit_entries WHERE seq = 5")
    assert log.verify().seq == 4
    with pytest.raises(AuditChainBroken):
        log.verify(anchor=head)


def test_owner_view_shows_all_links_but_only_their_entries(log):
    view = log.view_for_resource("ca", 1)
    assert [e.seq for e in view.entries] == [1, 3] and len(view.links) == 5
    assert verify_audit_view(view) == view.head


def test_owner_view_detects_another_owners_entry_rewritten_with_its_hash(log, db_path):
    sql(db_path, "UPDATE audit_entries SET entry_hash = ? WHERE seq = 2", "ff" * 32)
    with pytest.raises(AuditChainBroken) as raised:
        verify_audit_view(log.view_for_resource("ca", 1))
    assert raised.value.seq == 3


def test_owner_view_refuses_entries_that_are_not_theirs_or_not_in_place(log):
    view = log.view_for_resource("ca", 1)
    foreign = log.entries_for_resource(2)
    with pytest.raises(AuditChainBroken):
        verify_audit_view(view.model_copy(update={"entries": foreign}))
    with pytest.raises(AuditChainBroken):
        verify_audit_view(view.model_copy(update={"entries": list(reversed(view.entries))}))
    moved = view.entries[1].model_copy(update={"seq": 4})
    with pytest.raises(AuditChainBroken):
        verify_audit_view(view.model_copy(update={"entries": [view.entries[0], moved]}))


def test_concurrent_writers_on_one_file_never_fork_the_chain(db_path):
    logs = [AuditLog(open_database(f"sqlite:///{db_path}")) for _ in range(2)]

    def write(audit: AuditLog, n: int) -> None:
        for i in range(10):
            audit.record(
                event="revocation", decision="revoked", reason="test", details={"writer": n, "i": i}
            )

    threads = [threading.Thread(target=write, args=(logs[n % 2], n)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert logs[0].verify().seq == 40


def test_a_failing_database_becomes_an_audit_storage_error(log, db_path):
    sql(db_path, "DROP TABLE audit_resources")
    sql(db_path, "DROP TABLE audit_entries")
    with pytest.raises(AuditStorageError):
        log.entries()
    with pytest.raises(AuditStorageError):
        log.record(event="revocation", decision="revoked", reason="test")


def test_verify_chain_reports_a_malformed_hash_as_broken(log):
    entries = log.entries()
    entries[2] = entries[2].model_copy(update={"prev_hash": "not hex"})
    with pytest.raises(AuditChainBroken):
        verify_chain(entries)
