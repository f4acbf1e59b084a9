"""The audit watcher: a verified view's head is remembered per CA and resource; a later view that
no longer holds it is rewound, one whose entries no longer match their hashes is edited, and
neither overwrites the head remembered before. Views are built with the protocol's own hashing."""

from __future__ import annotations

import json

import pytest

from enclava.client.audit_watch import AuditWatcher, HeadStore, check_view, describe, utc_date
from enclava.client.errors import AuditHeadsUnreadable, AuditLogEdited, AuditLogRewound
from enclava.protocol.audit import GENESIS_HASH, AuditEntry, AuditView, entry_hash

CA = "enclava-ca"
ORDER = "0x" + "ab" * 32
ENCLAVE = "0x" + "12" * 20  # checksummed: all digits
CUSTOMER = "0x" + "34" * 20


def _chain(decisions: list[tuple[str, str, list[str]]]) -> list[AuditEntry]:
    """Entries (event, decision, resource ids) hashed into one chain, as the CA appends them."""
    entries, prev = [], GENESIS_HASH
    for seq, (event, decision, resources) in enumerate(decisions, start=1):
        denied = decision == "denied"
        body = {
            "seq": seq,
            "time": 1_764_000_000 + seq,
            "event": event,
            "resource_ids": resources,
            "order_id": ORDER if event == "key_release" else None,
            "enclave_address": ENCLAVE if event == "key_release" else None,
            "decision": decision,
            "reason": "order_not_accepted" if denied else "ok",
            "guard": "order" if denied else None,
            "details": {"message": "the order is not accepted"}
            if denied
            else ({"customer": CUSTOMER} if event == "key_release" else {"version": 1}),
            "prev_hash": prev,
        }
        entry = AuditEntry(**body, entry_hash=entry_hash(prev, body))
        entries.append(entry)
        prev = entry.entry_hash
    return entries


def _view(entries: list[AuditEntry], resource: str = "7") -> AuditView:
    return AuditView(
        ca_id=CA,
        resource_id=resource,
        links=[e.link() for e in entries],
        entries=[e for e in entries if resource in e.resource_ids],
    )


LOG = [
    ("key_deposit", "accepted", ["7"]),
    ("key_deposit", "accepted", ["8"]),
    ("key_release", "granted", ["7"]),
    ("key_release", "denied", ["7"]),
]


@pytest.fixture
def store(tmp_path) -> HeadStore:
    return HeadStore(tmp_path / "audit-heads.json")


def test_poll_remembers_the_head_and_returns_only_new_entries(store):
    log = _chain(LOG)
    current = {"view": _view(log[:3])}
    watcher = AuditWatcher(lambda: current["view"], store, ca_recipient="age1test")
    assert [e.seq for e in watcher.poll()] == [1, 3]
    assert store.get(CA, 7).link == log[2].link()
    current["view"] = _view(log)
    assert [e.seq for e in watcher.poll()] == [4]
    assert watcher.poll() == []
    saved = store.get(CA, 7)
    assert saved.link == log[3].link() and saved.ca_recipient == "age1test"
    assert store.get(CA, 8) is None  # heads are per resource


def test_a_shorter_log_is_rewound_and_the_saved_head_is_kept(store):
    log = _chain(LOG)
    AuditWatcher(lambda: _view(log), store).poll()
    with pytest.raises(AuditLogRewound, match="REWOUND") as caught:
        AuditWatcher(lambda: _view(log[:3]), store).poll()
    assert caught.value.seq == 4 and "enclava audit RESOURCE --forget" in caught.value.hint
    assert store.get(CA, 7).link == log[3].link()


def test_a_rewound_log_under_a_new_ca_key_says_so_and_is_still_rewound(store):
    log = _chain(LOG)
    AuditWatcher(lambda: _view(log), store, ca_recipient="age1old").poll()
    with pytest.raises(AuditLogRewound, match="the CA's key changed too"):
        AuditWatcher(lambda: _view(log[:2]), store, ca_recipient="age1new").poll()
    assert store.get(CA, 7).ca_recipient == "age1old"


def test_a_rewritten_history_is_rewound_even_when_it_is_longer(store):
    log = _chain(LOG)
    AuditWatcher(lambda: _view(log[:3]), store).poll()
    rewritten = _chain([LOG[0], LOG[1], ("key_release", "denied", ["7"]), LOG[3], LOG[3]])
    with pytest.raises(AuditLogRewound, match="no longer the one"):
        check_view(_view(rewritten), store.get(CA, 7))


def test_an_edited_entry_is_detected(store):
    log = _chain(LOG)
    edited = log[3].model_copy(update={"decision": "granted"})
    with pytest.raises(AuditLogEdited, match="edited") as caught:
        AuditWatcher(lambda: _view([*log[:3], edited]), store).poll()
    assert caught.value.seq == 4 and store.get(CA, 7) is None


def test_a_tampered_heads_file_is_refused_or_detected(store):
    log = _chain(LOG)
    AuditWatcher(lambda: _view(log), store).poll()
    data = json.loads(store.path.read_text())
    data["heads"][f"{CA}/7"]["entry_hash"] = "ff" * 32
    store.path.write_text(json.dumps(data))
    with pytest.raises(AuditLogRewound):
        check_view(_view(log), store.get(CA, 7))
    store.path.write_text("not json")
    with pytest.raises(AuditHeadsUnreadable):
        store.get(CA, 7)


def test_forget_drops_only_that_head(store):
    log = _chain(LOG)
    AuditWatcher(lambda: _view(log), store).poll()
    AuditWatcher(lambda: _view(log, "8"), store).poll()
    assert store.forget(CA, 7) and not store.forget(CA, 7)
    assert store.get(CA, 7) is None and store.get(CA, 8) is not None


def test_describe_names_the_customer_and_why_not():
    log = _chain(LOG)
    asked = []

    def customer_of(order_id):
        asked.append(order_id)
        return CUSTOMER

    lines = describe(_view(log).entries, customer_of)
    deposit, granted, denied = lines
    assert deposit.granted and deposit.customer is None and deposit.outcome() == "accepted"
    assert granted.outcome() == "granted" and granted.customer == CUSTOMER
    assert denied.customer == CUSTOMER and asked == [ORDER]  # looked up once, for the denial
    assert denied.outcome() == (
        "denied: order_not_accepted (guard order): the order is not accepted"
    )
    assert denied.date == utc_date(denied.time) and denied.date.endswith(" UTC")
    assert denied.to_dict()["granted"] is False and denied.to_dict()["enclave"] == ENCLAVE
