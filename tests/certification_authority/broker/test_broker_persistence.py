"""A restart (a new broker object on the same database file) loses nothing."""

from __future__ import annotations

import pyrage
import pytest
from broker_support import DATASET, ENGINE, KEYS, MODEL, NOW, ORDER_ID, fresh_nonce

from certification_authority.broker import CertificateRevoked, EnclaveRevoked, UsesExhausted
from enclava.protocol.audit import verify_chain


def test_restart_keeps_deposits_policies_uses_revocations_and_the_log(world):
    world.deposit_all()
    world.clock.now += 1
    world.deposit(
        MODEL, {"allowed_engine_hashes": "any", "allowed_customers": "any", "max_uses": 2}
    )
    world.broker.release(world.enclave, ORDER_ID, request_nonce=fresh_nonce())
    world.broker.revoke_certificate(0xDEAD, "lost")
    world.broker.revoke_enclave("0x" + "ee" * 20, "compromised")
    before = world.broker.audit.entries()
    head = verify_chain(before)

    restarted = world.reopen()
    after = restarted.audit.entries()
    assert after == before and restarted.audit.verify(anchor=head) == head
    assert {
        resource: restarted.deposit_status(resource) for resource in (ENGINE, MODEL, DATASET)
    } == {resource: world.broker.deposit_status(resource) for resource in (ENGINE, MODEL, DATASET)}
    assert (
        restarted.deposit_status(MODEL).version == 2
        and restarted.deposit_status(MODEL).uses_left == 1
    )
    assert restarted.is_revoked(serial="0xdead") and restarted.is_revoked(
        enclave_address="0x" + "EE" * 20
    )
    assert [r.subject for r in restarted.revocations()] == ["dead", "0x" + "ee" * 20]

    keys = restarted.release(world.enclave, ORDER_ID, request_nonce=fresh_nonce())
    assert {
        k.resource_id: pyrage.decrypt(k.ciphertext, [world.enclave_identity]) for k in keys
    } == KEYS
    with pytest.raises(UsesExhausted):
        restarted.release(world.enclave, ORDER_ID, request_nonce=fresh_nonce())
    restarted.revoke_enclave(world.enclave.enclave_address, "retired")
    with pytest.raises(EnclaveRevoked):
        world.reopen().release(world.enclave, ORDER_ID, request_nonce=fresh_nonce())
    assert world.reopen().audit.verify().seq == len(restarted.audit.entries())


def test_restart_keeps_a_certificate_revocation(world):
    world.deposit_all()
    world.broker.revoke_certificate(world.enclave.certificate_serial, "superseded")
    with pytest.raises(CertificateRevoked):
        world.reopen().release(world.enclave, ORDER_ID, request_nonce=fresh_nonce())


def test_revocation_is_idempotent_and_logged_once(world):
    first = world.broker.revoke_enclave("0x" + "AB" * 20, "compromised")
    again = world.broker.revoke_enclave("0x" + "ab" * 20, "again")
    assert first == again and first.reason == "compromised"
    revocations = [e for e in world.broker.audit.entries() if e.event == "revocation"]
    assert [(e.decision, e.reason, e.details["subject"]) for e in revocations] == [
        ("revoked", "enclave_revoked", "0x" + "ab" * 20)
    ]
    assert world.broker.is_revoked(enclave_address="0x" + "ab" * 20)
    assert not world.broker.is_revoked(serial=1, enclave_address="0x" + "cd" * 20)
    assert first.revoked_at == NOW
