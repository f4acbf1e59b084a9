"""Owners read the audit entries about their resources, and check them against the whole chain."""

from __future__ import annotations

import pytest
from broker_support import (
    CA_ID,
    DATASET,
    ENGINE,
    MODEL,
    NOW,
    ORDER_ID,
    OTHER,
    OWNER_A,
    OWNER_B,
    fresh_nonce,
)

from certification_authority.broker import (
    EnclaveRevoked,
    NotResourceOwner,
    SignatureInvalid,
    SignatureStale,
    WrongCa,
)
from enclava.protocol.audit import ChainLink
from enclava.protocol.broker import build_audit_request, check_audit_view
from enclava.protocol.errors import AuditChainBroken


def _history(world) -> None:
    world.deposit_all()
    world.broker.release(world.enclave, ORDER_ID, request_nonce=fresh_nonce())
    world.broker.revoke_enclave(world.enclave.enclave_address, "retired")
    with pytest.raises(EnclaveRevoked):
        world.broker.release(world.enclave, ORDER_ID, request_nonce=fresh_nonce())


def test_owner_reads_every_entry_about_their_resource_and_only_those(world):
    _history(world)
    view = world.broker.audit_for_owner(build_audit_request(OWNER_B, CA_ID, MODEL, issued_at=NOW))
    assert all(entry.resource_ids == [str(MODEL)] for entry in view.entries)
    assert [(e.event, e.decision) for e in view.entries] == [
        ("key_deposit", "accepted"),
        ("key_release", "granted"),
        ("key_release", "denied"),
    ]
    assert view.entries[-1].reason == "enclave_revoked"
    assert len(view.links) == len(world.broker.audit.entries()) > len(view.entries)
    assert check_audit_view(view) == view.head
    assert check_audit_view(view.model_dump(mode="json")) == view.head


def test_owner_view_detects_an_entry_rewritten_by_the_ca(world):
    _history(world)
    view = world.broker.audit_for_owner(build_audit_request(OWNER_B, CA_ID, MODEL, issued_at=NOW))
    doctored = view.model_copy(update={"entries": [view.entries[0], view.entries[2]]})
    check_audit_view(doctored)  # omitting an own entry cannot be seen from links alone ...
    edited = view.entries[1].model_copy(update={"decision": "denied"})
    with pytest.raises(AuditChainBroken):  # ... but altering one can
        check_audit_view(
            view.model_copy(update={"entries": [view.entries[0], edited, view.entries[2]]})
        )


def test_owner_view_detects_a_rewound_log_with_an_anchor(world):
    world.deposit_all()
    anchor = world.broker.audit_for_owner(
        build_audit_request(OWNER_A, CA_ID, ENGINE, issued_at=NOW)
    ).head
    view = world.broker.audit_for_owner(build_audit_request(OWNER_A, CA_ID, DATASET, issued_at=NOW))
    assert check_audit_view(view, anchor=anchor) == anchor
    with pytest.raises(AuditChainBroken):
        check_audit_view(view.model_copy(update={"links": view.links[:1]}), anchor=anchor)
    with pytest.raises(AuditChainBroken):
        check_audit_view(
            view, anchor=ChainLink(seq=anchor.seq, prev_hash=anchor.prev_hash, entry_hash="00" * 32)
        )


def test_audit_read_by_a_non_owner_is_refused(world):
    world.deposit_all()
    with pytest.raises(NotResourceOwner):
        world.broker.audit_for_owner(build_audit_request(OWNER_A, CA_ID, MODEL, issued_at=NOW))
    with pytest.raises(NotResourceOwner):
        world.broker.audit_for_owner(build_audit_request(OTHER, CA_ID, MODEL, issued_at=NOW))


def test_audit_read_with_a_bad_stale_or_misdirected_signature_is_refused(world):
    request = build_audit_request(OWNER_B, CA_ID, MODEL, issued_at=NOW)
    with pytest.raises(SignatureInvalid):
        world.broker.audit_for_owner(request.model_copy(update={"resource_id": ENGINE}))
    with pytest.raises(SignatureStale):
        world.broker.audit_for_owner(
            build_audit_request(OWNER_B, CA_ID, MODEL, issued_at=NOW - 3600)
        )
    with pytest.raises(WrongCa):
        world.broker.audit_for_owner(build_audit_request(OWNER_B, "other-ca", MODEL, issued_at=NOW))
