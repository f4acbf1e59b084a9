"""Deposits: only the on-chain owner, with a fresh signature for this CA, can store or replace a
key."""

from __future__ import annotations

import pyrage
import pytest
from broker_support import (
    CA_ID,
    ENGINE,
    ENGINE_HASH,
    KEYS,
    NOW,
    OPEN_POLICY,
    ORDER_ID,
    OTHER,
    OWNER_A,
    World,
    fresh_nonce,
)
from pyrage import x25519

from certification_authority.broker import (
    BrokerRequestInvalid,
    CiphertextNotForCa,
    DepositReplayed,
    NotResourceOwner,
    ResourceNotFound,
    SignatureInvalid,
    SignatureStale,
    WrongCa,
)
from enclava.protocol.broker import KeyPolicy, build_deposit_request, deposit_message, sign_text


def deposit_entries(world: World) -> list:
    return [entry for entry in world.broker.audit.entries() if entry.event == "key_deposit"]


def test_deposit_by_the_owner_is_stored_as_ciphertext_and_logged(world):
    receipt = world.deposit(ENGINE)
    assert (receipt.resource_id, receipt.owner, receipt.version) == (
        ENGINE,
        OWNER_A.address.lower(),
        1,
    )
    assert receipt.policy == KeyPolicy.model_validate(OPEN_POLICY)
    status = world.broker.deposit_status(ENGINE)
    assert status.version == 1 and status.uses == 0 and status.uses_left is None
    (entry,) = deposit_entries(world)
    assert (entry.decision, entry.reason, entry.resource_ids) == ("accepted", "ok", [str(ENGINE)])
    assert (entry.seq, entry.entry_hash) == (receipt.audit_seq, receipt.audit_entry_hash)
    assert entry.details["policy"]["allowed_engine_hashes"] == [ENGINE_HASH]


def test_deposit_by_a_non_owner_is_refused_and_logged(world):
    with pytest.raises(NotResourceOwner) as raised:
        world.deposit(ENGINE, owner=OTHER)
    assert raised.value.http_status == 403
    assert world.broker.deposit_status(ENGINE) is None
    (entry,) = deposit_entries(world)
    assert (entry.decision, entry.reason) == ("refused", "not_resource_owner")
    assert entry.details["claimed_owner"] == OTHER.address.lower()


def test_deposit_for_an_unknown_resource_is_refused(world):
    with pytest.raises(ResourceNotFound):
        world.deposit(12345, owner=OWNER_A, key=b"k")


def test_deposit_with_a_signature_by_someone_else_is_refused(world):
    request = build_deposit_request(
        OTHER, world.broker.ca_recipient, CA_ID, ENGINE, KEYS[ENGINE], OPEN_POLICY, issued_at=NOW
    )
    forged = request.model_copy(update={"owner": OWNER_A.address.lower()})
    with pytest.raises(SignatureInvalid):
        world.broker.deposit(forged)
    assert deposit_entries(world)[-1].reason == "signature_invalid"


def test_deposit_with_an_altered_policy_is_refused(world):
    request = build_deposit_request(
        OWNER_A, world.broker.ca_recipient, CA_ID, ENGINE, KEYS[ENGINE], OPEN_POLICY, issued_at=NOW
    )
    widened = request.model_copy(
        update={"policy": KeyPolicy(allowed_engine_hashes="any", allowed_customers="any")}
    )
    with pytest.raises(SignatureInvalid):
        world.broker.deposit(widened)


@pytest.mark.parametrize("signature", ["0x" + "00" * 65, "0x" + "ff" * 65, "0x" + "11" * 64 + "05"])
def test_deposit_with_a_garbled_signature_is_refused(world, signature):
    request = build_deposit_request(
        OWNER_A, world.broker.ca_recipient, CA_ID, ENGINE, KEYS[ENGINE], OPEN_POLICY, issued_at=NOW
    )
    with pytest.raises(SignatureInvalid):
        world.broker.deposit(request.model_copy(update={"signature": signature}))


@pytest.mark.parametrize("issued_at", [NOW - 301, NOW + 61])
def test_deposit_with_a_stale_or_future_signature_is_refused(world, issued_at):
    with pytest.raises(SignatureStale):
        world.deposit(ENGINE, issued_at=issued_at)
    assert deposit_entries(world)[-1].reason == "signature_stale"


def test_deposit_signed_for_another_ca_is_refused(world):
    request = build_deposit_request(
        OWNER_A,
        world.broker.ca_recipient,
        "another-ca",
        ENGINE,
        KEYS[ENGINE],
        OPEN_POLICY,
        issued_at=NOW,
    )
    with pytest.raises(WrongCa):
        world.broker.deposit(request)


def test_deposit_encrypted_to_someone_else_is_refused(world):
    stranger = x25519.Identity.generate().to_public()
    request = build_deposit_request(
        OWNER_A, stranger, CA_ID, ENGINE, KEYS[ENGINE], OPEN_POLICY, issued_at=NOW
    )
    with pytest.raises(CiphertextNotForCa):
        world.broker.deposit(request)


def test_redeposit_replaces_the_policy_with_a_new_version_and_resets_uses(world):
    world.deposit_all()
    world.broker.release(world.enclave, ORDER_ID, request_nonce=fresh_nonce())
    world.clock.now += 5
    receipt = world.deposit(
        ENGINE,
        {"allowed_engine_hashes": "any", "allowed_customers": "any", "max_uses": 7},
        key=b"rotated key",
    )
    status = world.broker.deposit_status(ENGINE)
    assert receipt.version == status.version == 2 and status.uses == 0 and status.uses_left == 7
    (key,) = world.broker.release(
        world.enclave, ORDER_ID, resource_ids=[ENGINE], request_nonce=fresh_nonce()
    )
    assert pyrage.decrypt(key.ciphertext, [world.enclave_identity]) == b"rotated key"
    assert key.policy_version == 2
    versions = [
        entry.details["version"]
        for entry in deposit_entries(world)
        if entry.resource_ids == [str(ENGINE)]
    ]
    assert versions == [1, 2]


def test_replayed_deposit_is_refused(world):
    request = build_deposit_request(
        OWNER_A, world.broker.ca_recipient, CA_ID, ENGINE, KEYS[ENGINE], OPEN_POLICY, issued_at=NOW
    )
    world.broker.deposit(request)
    with pytest.raises(DepositReplayed):
        world.broker.deposit(request)
    assert world.broker.deposit_status(ENGINE).version == 1


def test_deposit_accepts_the_request_as_json(world):
    request = build_deposit_request(
        OWNER_A, world.broker.ca_recipient, CA_ID, ENGINE, KEYS[ENGINE], OPEN_POLICY, issued_at=NOW
    )
    assert world.broker.deposit(request.model_dump_json()).version == 1


def test_deposit_message_is_canonical_and_domain_tagged(world):
    policy = KeyPolicy.model_validate(OPEN_POLICY)
    message = deposit_message(
        ca_id=CA_ID, resource_id=2**255, ciphertext_sha256="ab" * 32, policy=policy, issued_at=NOW
    )
    assert message.startswith('{"ca_id":"enclava-ca-test","ciphertext_sha256":')
    assert '"domain":"enclava-key-deposit-v1"' in message and f'"resource_id":"{2**255}"' in message
    assert " " not in message


def test_malformed_deposit_is_refused_with_the_field_named(world):
    with pytest.raises(BrokerRequestInvalid) as raised:
        world.broker.deposit({"ca_id": CA_ID, "resource_id": -1})
    assert "resource_id" in raised.value.message


def test_signature_over_another_message_kind_is_refused(world):
    request = build_deposit_request(
        OWNER_A, world.broker.ca_recipient, CA_ID, ENGINE, KEYS[ENGINE], OPEN_POLICY, issued_at=NOW
    )
    other_kind = sign_text(
        OWNER_A,
        f'{{"ca_id":"{CA_ID}","domain":"enclava-audit-read-v1","issued_at":{NOW},'
        f'"resource_id":"{ENGINE}"}}',
    )
    with pytest.raises(SignatureInvalid):
        world.broker.deposit(request.model_copy(update={"signature": other_kind}))
