"""GPUs at the key broker: an order on a TEE offer that promises a GPU class gets keys only in an
enclave certified with that class (``guard_order_gpu``, after the order guard, audited); key
policies can require a GPU (``require_gpu``) or name GPU classes (``gpu_classes``), in releases
and in the customer's pre-check."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from broker_support import CA_ID, CUSTOMER, ENGINE, ENGINE_HASH, NOW, ORDER_ID, World, fresh_nonce
from pydantic import ValidationError

from certification_authority.broker import (
    ENCLAVE_GUARDS,
    BrokerRequestInvalid,
    OrderGpuMismatch,
    PolicyGpuRefused,
    guard_order_gpu,
)
from enclava.protocol.broker import KeyPolicy, deposit_message
from enclava.protocol.broker.requests import build_policy_check_request, policy_check_message
from enclava.protocol.tee import TeeType

H100 = {"gpu_class": "H100", "gpu_count": 1}


def _gpu_enclave(world: World, **gpu) -> None:
    world.enclave = replace(world.enclave, **(gpu or H100))


def _release(world: World):
    return world.broker.release(world.enclave, ORDER_ID, request_nonce=fresh_nonce())


def _denials(world: World) -> list[tuple[str | None, str | None]]:
    return [
        (entry.reason, entry.guard)
        for entry in world.broker.audit.entries()
        if entry.event == "key_release" and entry.decision == "denied"
    ]


def test_the_gpu_guard_runs_after_the_order_guard():
    assert [g.__name__ for g in ENCLAVE_GUARDS] == [
        "guard_certificate_valid",
        "guard_measurement_allowed",
        "guard_order_accepted",
        "guard_order_gpu",
    ]
    assert guard_order_gpu is ENCLAVE_GUARDS[-1]


def test_a_gpu_offer_is_served_by_an_enclave_certified_with_that_gpu(world):
    world.deposit_all()
    world.set_order(gpu_class="H100")
    _gpu_enclave(world)
    assert {key.resource_id for key in _release(world)} == {1, 2, 3}
    granted = [e for e in world.broker.audit.entries() if e.decision == "granted"]
    assert granted and all(e.details["gpu_class"] == "H100" for e in granted)


@pytest.mark.parametrize(
    "gpu",
    [{}, {"gpu_class": "H200", "gpu_count": 1}, {"gpu_class": "A100", "gpu_count": 8}],
    ids=["no-gpu", "other-class", "other-class-many"],
)
def test_a_gpu_offer_is_refused_to_an_enclave_without_that_gpu(world, gpu):
    world.deposit_all()
    world.set_order(gpu_class="H100")
    if gpu:
        _gpu_enclave(world, **gpu)
    with pytest.raises(OrderGpuMismatch) as info:
        _release(world)
    assert info.value.code == "order_gpu_mismatch" and info.value.http_status == 403
    assert info.value.guard == "guard_order_gpu" and "H100" in info.value.message
    assert set(_denials(world)) == {("order_gpu_mismatch", "guard_order_gpu")}
    assert world.broker.deposit_status(ENGINE).uses == 0


@pytest.mark.parametrize("label", ["", "cpu", None])
def test_an_offer_without_a_gpu_is_served_by_any_enclave(world, label):
    world.deposit_all()
    world.set_order(gpu_class=label)
    assert len(_release(world)) == 3
    world.set_order(gpu_class=label)
    _gpu_enclave(world)  # a GPU enclave may run CPU orders too
    assert len(_release(world)) == 3


@pytest.mark.parametrize(
    "gpu",
    [
        {"gpu_class": "H100", "gpu_count": 0},
        {"gpu_class": "", "gpu_count": 1},
        {"gpu_class": "H 100", "gpu_count": 1},
        {"gpu_class": "H100", "gpu_count": 256},
        {"gpu_class": "H100", "gpu_count": True},
        {"gpu_class": b"H100", "gpu_count": 1},
    ],
)
def test_malformed_gpu_fields_of_the_enclave_are_refused(world, gpu):
    world.deposit_all()
    _gpu_enclave(world, **gpu)
    with pytest.raises(BrokerRequestInvalid):
        _release(world)


def test_a_chain_view_answer_with_a_malformed_gpu_label_refuses(world):
    world.deposit_all()
    world.set_order(gpu_class=b"H100")
    with pytest.raises(Exception) as info:
        _release(world)
    assert info.value.code == "broker_chain_unavailable"


# -- key policy: require_gpu, gpu_classes ---------------------------------------------------------


def _policy(**fields) -> dict:
    return {"allowed_engine_hashes": [ENGINE_HASH], "allowed_customers": "any", **fields}


def test_require_gpu_refuses_an_enclave_without_one_and_admits_one_with(world):
    world.deposit_all(_policy(require_gpu=True))
    with pytest.raises(PolicyGpuRefused) as info:
        _release(world)
    assert info.value.guard == "guard_policy_allows"
    assert "policy_gpu_refused" in {reason for reason, _ in _denials(world)}
    _gpu_enclave(world)
    assert len(_release(world)) == 3


def test_gpu_classes_admit_only_the_listed_classes(world):
    world.deposit_all(_policy(gpu_classes=["H200", "H100"]))
    with pytest.raises(PolicyGpuRefused):
        _release(world)  # no GPU at all: a class list implies a GPU
    _gpu_enclave(world, gpu_class="A100", gpu_count=1)
    with pytest.raises(PolicyGpuRefused, match="A100"):
        _release(world)
    _gpu_enclave(world, gpu_class="H200", gpu_count=4)
    assert len(_release(world)) == 3


def test_the_gpu_line_comes_after_the_tee_type_and_before_the_measurement(world):
    world.deposit_all(_policy(require_gpu=True, allowed_tee_types=[2], allowed_measurements=["00"]))
    with pytest.raises(Exception) as info:
        _release(world)
    assert info.value.code == "policy_tee_type_refused"
    world.clock.now += 1
    world.deposit_all(_policy(require_gpu=True, allowed_measurements=["00"]))
    with pytest.raises(PolicyGpuRefused):
        _release(world)


def test_policy_gpu_fields_are_validated_and_normalized():
    policy = KeyPolicy.model_validate(_policy(gpu_classes=["H200", "H100", "H100"]))
    assert policy.gpu_classes == ["H100", "H200"]
    for wrong in (
        _policy(gpu_classes="H100"),
        _policy(gpu_classes=[""]),
        _policy(gpu_classes=["H 100"]),
        _policy(gpu_classes=["x" * 33]),
        _policy(gpu_classes=[f"G{n}" for n in range(17)]),
        _policy(require_gpu="maybe"),
        _policy(gpu_class=["H100"]),  # a misspelt field is refused, never ignored
    ):
        with pytest.raises(ValidationError):
            KeyPolicy.model_validate(wrong)


def test_a_policy_at_the_gpu_defaults_signs_the_bytes_it_always_did():
    """Old deposits stay verifiable: the new fields are left out while they hold their default."""
    plain = KeyPolicy.model_validate(_policy())
    message = json.loads(
        deposit_message(
            ca_id=CA_ID, resource_id=1, ciphertext_sha256="00", policy=plain, issued_at=1
        )
    )
    assert "require_gpu" not in message["policy"] and "gpu_classes" not in message["policy"]
    gpu = KeyPolicy.model_validate(_policy(require_gpu=True, gpu_classes=["H100"]))
    assert gpu.model_dump(mode="json")["gpu_classes"] == ["H100"]
    assert KeyPolicy.model_validate(gpu.model_dump(mode="json")) == gpu


# -- the customer's pre-check ---------------------------------------------------------------------


def _check(world, **overrides):
    values = dict(engine_hash=ENGINE_HASH, tee_type=TeeType.TDX, simulated=False, issued_at=NOW)
    values.update(overrides)
    request = build_policy_check_request(CUSTOMER, CA_ID, [ENGINE], **values)
    return world.broker.check_policy(request)


def test_the_pre_check_reads_the_gpu_class_the_offer_promises(world):
    world.deposit_all(_policy(gpu_classes=["H100"]))
    refused = _check(world)
    assert not refused.allowed and refused.resources[0].reason == "policy_gpu_refused"
    assert not _check(world, gpu_class="A100").allowed
    assert _check(world, gpu_class="H100").allowed


def test_the_pre_check_message_names_the_gpu_class_only_when_set():
    base = dict(
        ca_id=CA_ID,
        customer=CUSTOMER.address,
        resource_ids=[1],
        engine_hash=ENGINE_HASH,
        tee_type=1,
        simulated=False,
        issued_at=NOW,
    )
    assert "gpu_class" not in json.loads(policy_check_message(**base))
    assert json.loads(policy_check_message(**base, gpu_class="H100"))["gpu_class"] == "H100"


def test_a_pre_check_signed_for_another_gpu_class_is_refused(world):
    world.deposit_all(_policy(gpu_classes=["H100"]))
    request = build_policy_check_request(
        CUSTOMER,
        CA_ID,
        [ENGINE],
        engine_hash=ENGINE_HASH,
        tee_type=1,
        simulated=False,
        issued_at=NOW,
        gpu_class="A100",
    )
    forged = request.model_copy(update={"gpu_class": "H100"})
    with pytest.raises(Exception) as info:
        world.broker.check_policy(forged)
    assert info.value.code == "signature_invalid"
