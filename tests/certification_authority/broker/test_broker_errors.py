"""Every outside failure (chain view, allow-list, database, age) becomes a typed error and
refuses."""

from __future__ import annotations

import sqlite3

import pytest
from broker_support import CA_ID, ENGINE, MODEL, OPEN_POLICY, ORDER_ID, OWNER_A, World, fresh_nonce
from pyrage import x25519

import certification_authority.broker.errors as broker_errors
from certification_authority.broker import (
    BrokerStorageError,
    ChainLookupError,
    KeyBroker,
    KeyUnwrapFailed,
)
from enclava.errors import ConfigError, EnclavaError
from enclava.protocol.broker import build_deposit_request
from enclava.protocol.errors import DepositRequestInvalid


class Failing:
    """Answers like ``inner`` (a chain view or an allow-list) except ``broken``: it raises or
    answers junk."""

    def __init__(self, inner, broken: str, answer=None) -> None:
        self.inner, self.broken, self.answer = inner, broken, answer

    def _call(self, name: str, *args):
        if name != self.broken:
            return getattr(self.inner, name)(*args)
        if self.answer is not None:
            return self.answer
        raise RuntimeError("rpc down")

    def resource_owner(self, resource_id):
        return self._call("resource_owner", resource_id)

    def order(self, order_id):
        return self._call("order", order_id)

    def service(self, service_id):
        return self._call("service", service_id)

    def is_allowed(self, tee_type, measurement):
        return self._call("is_allowed", tee_type, measurement)


def broker_with(world: World, *, chain=None, allow_list=None, identity=None) -> KeyBroker:
    return KeyBroker(
        world.db_url,
        identity or world.ca_identity,
        CA_ID,
        chain or world.chain,
        allow_list or world.allow_list,
        clock=world.clock,
    )


def last_entry(broker: KeyBroker):
    return broker.audit.entries()[-1]


@pytest.mark.parametrize(
    "broken, answer, guard",
    [
        ("order", None, "guard_order_accepted"),
        ("order", "not an order", "guard_order_accepted"),
        ("service", None, "guard_service_live"),
        ("is_allowed", None, "guard_measurement_allowed"),
    ],
)
def test_a_failing_chain_view_or_allow_list_refuses_the_release(world, broken, answer, guard):
    world.deposit_all()
    target = "allow_list" if broken == "is_allowed" else "chain"
    broker = broker_with(world, **{target: Failing(getattr(world, target), broken, answer)})
    with pytest.raises(ChainLookupError) as raised:
        broker.release(world.enclave, ORDER_ID, request_nonce=fresh_nonce())
    assert raised.value.http_status == 503 and isinstance(raised.value.__cause__, Exception)
    entry = last_entry(broker)
    assert (entry.decision, entry.reason, entry.guard) == (
        "denied",
        "broker_chain_unavailable",
        guard,
    )
    assert world.broker.deposit_status(ENGINE).uses == 0


def test_a_failing_chain_view_refuses_the_deposit(world):
    broker = broker_with(world, chain=Failing(world.chain, "resource_owner"))
    world.broker = broker
    with pytest.raises(ChainLookupError):
        world.deposit(ENGINE)
    assert (
        last_entry(broker).reason == "broker_chain_unavailable"
        and broker.deposit_status(ENGINE) is None
    )


def test_a_failing_database_becomes_a_broker_storage_error(world):
    world.deposit_all()
    path = world.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE resource_keys")
    with pytest.raises(BrokerStorageError):
        world.broker.release(world.enclave, ORDER_ID, request_nonce=fresh_nonce())
    with pytest.raises(BrokerStorageError):
        world.deposit(ENGINE, issued_at=world.clock.now + 1)


def test_a_corrupt_stored_policy_becomes_a_broker_storage_error(world):
    world.deposit_all()
    with sqlite3.connect(world.db_url.removeprefix("sqlite:///")) as connection:
        connection.execute(
            "UPDATE resource_keys SET policy_json = '{\"allowed_customers\": 1}' "
            "WHERE resource_id = ?",
            (str(MODEL),),
        )
    with pytest.raises(BrokerStorageError):
        world.broker.release(world.enclave, ORDER_ID, request_nonce=fresh_nonce())


def test_a_rotated_ca_identity_cannot_unwrap_and_refuses_every_key(world):
    world.deposit_all()
    rotated = broker_with(world, identity=x25519.Identity.generate())
    with pytest.raises(KeyUnwrapFailed) as raised:
        rotated.release(world.enclave, ORDER_ID, request_nonce=fresh_nonce())
    assert raised.value.http_status == 500 and raised.value.resource_id == ENGINE
    assert (
        last_entry(rotated).decision == "denied" and world.broker.deposit_status(ENGINE).uses == 0
    )


@pytest.mark.parametrize(
    "identity, ca_id, chain",
    [("AGE-SECRET-KEY-garbage", CA_ID, None), (None, "", None), (None, CA_ID, object())],
)
def test_broker_configuration_errors_are_config_errors(world, identity, ca_id, chain):
    with pytest.raises(ConfigError):
        KeyBroker(
            world.db_url,
            identity or world.ca_identity,
            ca_id,
            chain or world.chain,
            world.allow_list,
        )


def test_broker_accepts_its_identity_as_an_age_secret_key_string(world):
    broker = KeyBroker(world.db_url, str(world.ca_identity), CA_ID, world.chain, world.allow_list)
    assert broker.ca_recipient == world.broker.ca_recipient and "AGE-SECRET" not in repr(broker)


def test_every_broker_error_has_a_stable_code_a_hint_and_an_http_status():
    classes = [getattr(broker_errors, name) for name in broker_errors.__all__]
    assert all(issubclass(cls, EnclavaError) and cls.hint and cls.http_status for cls in classes)
    assert len({cls.code for cls in classes}) == len(classes)


def test_an_invalid_database_url_is_a_config_error(world):
    with pytest.raises(ConfigError):
        KeyBroker("nosuchdialect://x", world.ca_identity, CA_ID, world.chain, world.allow_list)


@pytest.mark.parametrize(
    "recipient, key", [("age1notarecipient", b"k"), (None, b""), (None, "text")]
)
def test_owner_helper_refuses_a_bad_recipient_or_key(world, recipient, key):
    with pytest.raises(DepositRequestInvalid):
        build_deposit_request(
            OWNER_A, recipient or world.broker.ca_recipient, CA_ID, ENGINE, key, OPEN_POLICY
        )
