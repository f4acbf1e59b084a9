"""Releasing keys: granted only to the right enclave for the right order; every refusal typed and
logged."""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import replace
from pathlib import Path

import pyrage
import pytest
from broker_support import (
    CUSTOMER,
    DATASET,
    ENGINE,
    KEYS,
    MODEL,
    NOW,
    ORDER_ID,
    OTHER,
    UNLISTED,
    World,
    fresh_nonce,
)

from certification_authority.broker import (
    ENCLAVE_GUARDS,
    RESOURCE_GUARDS,
    CertificateExpired,
    CertificateRevoked,
    EnclaveRevoked,
    KeyNotDeposited,
    MeasurementNotAllowed,
    OrderExpired,
    OrderNotAccepted,
    OrderNotFound,
    OrderStatus,
    OrderTeeMismatch,
    PolicyCustomerRefused,
    PolicyEngineRefused,
    PolicyExpired,
    PolicyMeasurementRefused,
    PolicySimulatedRefused,
    PolicyTeeRefused,
    ProviderMismatch,
    ReleaseDenied,
    ResourceNotInOrder,
    UsesExhausted,
)
from enclava.protocol.tee import TeeType

OTHER_HASH = "0x" + "11" * 32


def release_entries(world: World) -> list:
    return [entry for entry in world.broker.audit.entries() if entry.event == "key_release"]


def test_release_grants_every_key_of_the_order_wrapped_to_the_enclave(world, caplog):
    world.deposit_all()
    caplog.set_level(logging.DEBUG)
    keys = world.broker.release(world.enclave, ORDER_ID, request_nonce=fresh_nonce())
    assert [key.resource_id for key in keys] == [ENGINE, MODEL, DATASET]
    for key in keys:
        assert pyrage.decrypt(key.ciphertext, [world.enclave_identity]) == KEYS[key.resource_id]
        with pytest.raises(pyrage.DecryptError):
            pyrage.decrypt(key.ciphertext, [world.ca_identity])
    granted = release_entries(world)
    assert [(e.resource_ids, e.decision, e.reason) for e in granted] == [
        ([str(resource)], "granted", "ok") for resource in (ENGINE, MODEL, DATASET)
    ]
    assert granted[0].enclave_address == world.enclave.enclave_address.lower()
    assert granted[0].order_id == ORDER_ID and granted[0].details["policy_version"] == 1
    assert world.broker.deposit_status(MODEL).uses == 1
    logged = caplog.text + "".join(str(vars(r)) for r in caplog.records)
    assert not any(key in logged.encode() or key.hex() in logged for key in KEYS.values())


def test_release_never_stores_or_logs_a_key_in_clear(world):
    world.deposit_all()
    world.broker.release(world.enclave, ORDER_ID, request_nonce=fresh_nonce())
    database = Path(world.db_url.removeprefix("sqlite:///"))
    stored = b"".join(path.read_bytes() for path in database.parent.glob(database.name + "*"))
    assert not any(key in stored for key in KEYS.values())


def test_release_accepts_the_order_id_as_an_integer_and_a_subset_of_resources(world):
    world.deposit_all()
    keys = world.broker.release(
        world.enclave, int(ORDER_ID, 16), resource_ids=[MODEL, MODEL], request_nonce=fresh_nonce()
    )
    assert [key.resource_id for key in keys] == [MODEL]
    assert world.broker.deposit_status(ENGINE).uses == 0


def _revoke_enclave(w: World):
    w.broker.revoke_enclave(w.enclave.enclave_address, "key extracted")
    return w.enclave, None


def _revoke_certificate(w: World):
    w.broker.revoke_certificate("0x1234abcd", "superseded")
    return w.enclave, None


def _restrict_model(**policy):
    def setup(w: World):
        w.deposit(
            MODEL,
            {"allowed_engine_hashes": "any", "allowed_customers": "any", **policy},
            issued_at=NOW + 1,
        )
        return w.enclave, None

    return setup


def _expire_policy(w: World):
    _restrict_model(expires_at=NOW + 10)(w)
    w.clock.now = NOW + 10
    return w.enclave, None


def _change_order(**changes):
    def setup(w: World):
        w.set_order(**changes)
        return w.enclave, None

    return setup


def _exhaust_uses(w: World):
    _restrict_model(max_uses=1)(w)
    w.broker.release(w.enclave, ORDER_ID, request_nonce=fresh_nonce())
    return w.enclave, None


DENIALS = {
    "revoked enclave": (_revoke_enclave, EnclaveRevoked, None),
    "revoked certificate": (_revoke_certificate, CertificateRevoked, None),
    "expired certificate": (
        lambda w: (replace(w.enclave, not_after=NOW - 1), None),
        CertificateExpired,
        None,
    ),
    "measurement off the allow-list": (
        lambda w: (replace(w.enclave, measurement="cd" * 48), None),
        MeasurementNotAllowed,
        None,
    ),
    "unaccepted order": (_change_order(status=OrderStatus.OPEN), OrderNotAccepted, None),
    "completed order": (_change_order(status=OrderStatus.COMPLETED), OrderNotAccepted, None),
    "expired order": (_change_order(deadline=NOW), OrderExpired, None),
    "order expired by the chain's clock": (
        _change_order(deadline=NOW + 60, observed_at=NOW + 60),
        OrderExpired,
        None,
    ),
    "another provider's enclave": (
        lambda w: (replace(w.enclave, provider_address=OTHER.address), None),
        ProviderMismatch,
        None,
    ),
    "order for another TEE": (_change_order(tee_type=TeeType.SEV_SNP), OrderTeeMismatch, None),
    "resource not in the order": (
        lambda w: (w.enclave, [ENGINE, UNLISTED]),
        ResourceNotInOrder,
        UNLISTED,
    ),
    "policy excludes the engine": (
        _restrict_model(allowed_engine_hashes=[OTHER_HASH]),
        PolicyEngineRefused,
        MODEL,
    ),
    "policy excludes the customer": (
        _restrict_model(allowed_customers=[OTHER.address]),
        PolicyCustomerRefused,
        MODEL,
    ),
    "policy excludes the measurement": (
        _restrict_model(allowed_measurements=["ee" * 48]),
        PolicyMeasurementRefused,
        MODEL,
    ),
    "policy excludes the TEE type": (
        _restrict_model(allowed_tee_types=[TeeType.SEV_SNP]),
        PolicyTeeRefused,
        MODEL,
    ),
    "policy expired": (_expire_policy, PolicyExpired, MODEL),
    "uses exhausted": (_exhaust_uses, UsesExhausted, MODEL),
}


@pytest.mark.parametrize("case", list(DENIALS))
def test_release_is_denied_and_logged_with_its_own_code(world, case):
    setup, error, refused_resource = DENIALS[case]
    world.deposit_all()
    enclave, resource_ids = setup(world)
    uses_before = {
        resource: world.broker.deposit_status(resource).uses
        for resource in (ENGINE, MODEL, DATASET)
    }
    before = len(release_entries(world))
    with pytest.raises(error) as raised:
        world.broker.release(
            enclave, ORDER_ID, resource_ids=resource_ids, request_nonce=fresh_nonce()
        )
    denial = raised.value
    assert isinstance(denial, ReleaseDenied) and denial.http_status in (401, 403, 404, 409)
    assert denial.guard in {g.__name__ for g in ENCLAVE_GUARDS + RESOURCE_GUARDS}
    entries = release_entries(world)[before:]
    assert entries and all(entry.decision == "denied" for entry in entries)
    by_reason = {entry.reason for entry in entries}
    if refused_resource is None:  # refused for the whole order: every resource's owner sees why
        assert by_reason == {error.code} and all(entry.guard == error.guard for entry in entries)
    else:  # one resource refused: its entry says why, the others were withheld
        refused = [entry for entry in entries if entry.resource_ids == [str(refused_resource)]]
        assert [(entry.reason, entry.guard) for entry in refused] == [(error.code, error.guard)]
        assert by_reason == {error.code, "withheld"} or by_reason == {error.code}
    assert {
        resource: world.broker.deposit_status(resource).uses for resource in uses_before
    } == uses_before
    world.broker.audit.verify()


def test_every_denial_has_a_distinct_code():
    codes = [error.code for _, error, _ in DENIALS.values()]
    assert (
        len(set(codes)) == len(codes) - 2
    )  # open and completed share order_not_accepted; both expiries order_expired


def test_release_of_an_unknown_order_is_denied(world):
    world.deposit_all()
    with pytest.raises(OrderNotFound):
        world.broker.release(world.enclave, "0x" + "22" * 32, request_nonce=fresh_nonce())
    assert release_entries(world)[-1].reason == "order_not_found"


def test_release_without_a_deposit_is_denied(world):
    world.deposit(ENGINE)
    world.deposit(DATASET)
    with pytest.raises(KeyNotDeposited) as raised:
        world.broker.release(world.enclave, ORDER_ID, request_nonce=fresh_nonce())
    assert raised.value.resource_id == MODEL and world.broker.deposit_status(ENGINE).uses == 0


def test_release_refuses_a_simulated_enclave_unless_the_policy_allows_it(world):
    world.allow_list.allow(TeeType.SIMULATED, bytes.fromhex("5e" * 48))
    world.set_order(tee_type=TeeType.SIMULATED)
    simulated = replace(
        world.enclave, tee_type=TeeType.SIMULATED, measurement="5e" * 48, simulated=True
    )
    world.deposit_all()
    with pytest.raises(PolicySimulatedRefused):
        world.broker.release(simulated, ORDER_ID, request_nonce=fresh_nonce())
    world.clock.now += 1
    world.deposit_all(
        {
            "allowed_engine_hashes": "any",
            "allowed_customers": "any",
            "insecure_allow_simulated_tee": True,
        }
    )
    assert len(world.broker.release(simulated, ORDER_ID, request_nonce=fresh_nonce())) == 3


def test_release_reports_the_first_guard_in_order(world):
    world.deposit_all()
    world.broker.revoke_enclave(world.enclave.enclave_address, "compromised")
    world.set_order(status=OrderStatus.OPEN)
    bad = replace(world.enclave, measurement="cd" * 48, not_after=NOW + 1)
    with pytest.raises(EnclaveRevoked):
        world.broker.release(bad, ORDER_ID, request_nonce=fresh_nonce())


def test_release_policy_allowing_the_customer_and_engine_grants(world):
    world.deposit_all(
        {
            "allowed_engine_hashes": [world.order.engine_hash.upper().replace("0X", "0x")],
            "allowed_customers": [CUSTOMER.address],
            "allowed_tee_types": [TeeType.TDX],
            "allowed_measurements": ["0x" + world.enclave.measurement.upper()],
            "max_uses": 2,
            "expires_at": NOW + 60,
        }
    )
    assert len(world.broker.release(world.enclave, ORDER_ID, request_nonce=fresh_nonce())) == 3
    assert world.broker.deposit_status(MODEL).uses_left == 1


def test_release_counts_uses_atomically_across_brokers(world):
    world.deposit_all({"allowed_engine_hashes": "any", "allowed_customers": "any", "max_uses": 3})
    brokers = [world.broker, world.reopen()]
    outcomes: list[str] = []

    def ask(broker):
        try:
            broker.release(
                world.enclave, ORDER_ID, resource_ids=[MODEL], request_nonce=fresh_nonce()
            )
            outcomes.append("granted")
        except UsesExhausted:
            outcomes.append("exhausted")

    threads = [threading.Thread(target=ask, args=(brokers[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["exhausted"] * 5 + ["granted"] * 3
    assert world.broker.deposit_status(MODEL).uses == 3
    world.broker.audit.verify()


def test_wrapped_key_is_different_for_each_release(world):
    world.deposit_all()
    first, second = (
        world.broker.release(
            world.enclave, ORDER_ID, resource_ids=[ENGINE], request_nonce=fresh_nonce()
        )[0].ciphertext
        for _ in range(2)
    )
    assert first != second and hashlib.sha256(first).digest() != hashlib.sha256(second).digest()
