"""A confidential service's model key: released to the one enclave its provider bound to the
service on chain, while the service is LIVE and within its lifetime, only for the service's model
and only when the owner's policy allows serving. Guards in order, each refusal audited."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pyrage
import pytest
from broker_support import (
    ENGINE,
    ENGINE_HASH,
    KEYS,
    MODEL,
    MODEL_HASH,
    NOW,
    OTHER,
    PROVIDER,
    World,
    account,
    fresh_nonce,
)

from certification_authority.broker import (
    MeasurementNotAllowed,
    OrderGpuMismatch,
    PolicyServingRefused,
    ResourceNotServed,
    ServiceEnclaveMismatch,
    ServiceEnded,
    ServiceGpuMismatch,
    ServiceNotLive,
    ServiceProviderMismatch,
    ServiceStatus,
    ServiceTeeMismatch,
    ServiceView,
)
from certification_authority.broker.service_guards import __doc__ as GUARDS_DOC
from enclava.protocol.broker import KeyPolicy
from enclava.protocol.tee import TeeType

SERVICE_ID = "0x" + hashlib.sha256(b"service one").hexdigest()
SERVING_POLICY = {
    "allowed_engine_hashes": [ENGINE_HASH],
    "allowed_customers": "any",
    "allow_serving": True,
}


@pytest.fixture
def service(world: World) -> ServiceView:
    view = ServiceView(
        service_id=SERVICE_ID,
        status=ServiceStatus.LIVE,
        provider=PROVIDER.address,
        tee_type=TeeType.TDX,
        model_id=MODEL,
        model_hash=MODEL_HASH,
        ends_at=NOW + 86_400,
        enclave=world.enclave.enclave_address,
    )
    world.chain.set_service(view)
    return view


def _set(world: World, service: ServiceView, **changes) -> None:
    world.chain.set_service(replace(service, **changes))


def _release(world: World, resources=None):
    return world.broker.release(world.enclave, SERVICE_ID, resources, request_nonce=fresh_nonce())


def _last(world: World):
    return [e for e in world.broker.audit.entries() if e.event == "key_release"][-1]


def test_the_bound_enclave_gets_the_model_key_wrapped_to_it(world, service):
    world.deposit(MODEL, SERVING_POLICY)
    (key,) = _release(world)
    assert (key.resource_id, key.content_hash) == (MODEL, MODEL_HASH)
    assert pyrage.decrypt(key.ciphertext, [world.enclave_identity]) == KEYS[MODEL]
    entry = _last(world)
    assert (entry.decision, entry.order_id, entry.details["kind"]) == (
        "granted",
        SERVICE_ID,
        "service_model",
    )
    assert KEYS[MODEL].decode() not in repr(entry)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"status": ServiceStatus.STOPPED}, ServiceNotLive),
        ({"provider": OTHER.address}, ServiceProviderMismatch),
        ({"tee_type": TeeType.SEV_SNP}, ServiceTeeMismatch),
        ({"ends_at": NOW}, ServiceEnded),
        ({"ends_at": NOW + 100, "observed_at": NOW + 100}, ServiceEnded),
        ({"enclave": None}, ServiceEnclaveMismatch),
        ({"enclave": account("another enclave").address}, ServiceEnclaveMismatch),
        ({"gpu_class": "H100"}, ServiceGpuMismatch),
    ],
)
def test_a_service_guard_refuses_and_is_audited(world, service, change, error):
    world.deposit(MODEL, SERVING_POLICY)
    _set(world, service, **change)
    with pytest.raises(error):
        _release(world)
    entry = _last(world)
    assert (entry.decision, entry.reason, entry.guard) == ("denied", error.code, error.guard)


def test_a_gpu_offer_is_served_by_an_enclave_certified_with_its_class(world, service):
    world.deposit(MODEL, SERVING_POLICY)
    _set(world, service, gpu_class="H100")
    world.enclave = replace(world.enclave, gpu_class="H100", gpu_count=1)
    assert [key.resource_id for key in _release(world)] == [MODEL]
    assert not issubclass(ServiceGpuMismatch, OrderGpuMismatch)  # its own refusal


def test_only_the_services_model_is_released(world, service):
    world.deposit(MODEL, SERVING_POLICY)
    world.deposit(ENGINE, SERVING_POLICY)
    with pytest.raises(ResourceNotServed):
        _release(world, [MODEL, ENGINE])
    assert [e.reason for e in world.broker.audit.entries() if e.decision == "denied"] == [
        "withheld",
        "resource_not_served",
    ]


@pytest.mark.parametrize(
    "policy",
    [
        {"allowed_engine_hashes": "any", "allowed_customers": "any"},  # no opt-in
        {**SERVING_POLICY, "allowed_customers": [OTHER.address]},  # the service picks customers
    ],
)
def test_a_policy_that_does_not_allow_serving_refuses(world, service, policy):
    world.deposit(MODEL, policy)
    with pytest.raises(PolicyServingRefused):
        _release(world)


def test_the_enclave_guards_run_before_the_service_is_read(world, service):
    world.deposit(MODEL, SERVING_POLICY)
    world.enclave = replace(world.enclave, measurement="cd" * 48)
    with pytest.raises(MeasurementNotAllowed):
        _release(world)


def test_the_service_guards_are_documented_in_their_order():
    names = [
        "guard_certificate_valid",
        "guard_measurement_allowed",
        "guard_service_live",
        "guard_service_enclave",
        "guard_service_gpu",
        "guard_resource_served",
        "guard_policy_allows",
    ]
    positions = [GUARDS_DOC.index(name) for name in names]
    assert positions == sorted(positions)


def test_allow_serving_stays_out_of_the_signed_bytes_of_older_policies():
    older = KeyPolicy.model_validate({"allowed_engine_hashes": "any", "allowed_customers": "any"})
    assert "allow_serving" not in older.model_dump()
    assert KeyPolicy.model_validate(SERVING_POLICY).model_dump()["allow_serving"] is True
