"""A customer's policy pre-check: the release's policy guard, run before paying, without releasing,
counting or auditing anything. (The route, `POST /v1/keys/check`, is exercised on the devnet by
tests/cli/test_cli_preflight.py.)"""

from __future__ import annotations

import pytest
from broker_support import (
    CA_ID,
    CUSTOMER,
    DATASET,
    ENGINE,
    ENGINE_HASH,
    MODEL,
    NOW,
    ORDER_ID,
    OTHER,
    UNLISTED,
    fresh_nonce,
)

from certification_authority.broker import SignatureInvalid, SignatureStale, WrongCa
from enclava.protocol.broker.requests import build_policy_check_request
from enclava.protocol.tee import TeeType


def _check(world, resources=(ENGINE, MODEL, DATASET), *, who=CUSTOMER, **overrides):
    values = dict(engine_hash=ENGINE_HASH, tee_type=TeeType.TDX, simulated=False, issued_at=NOW)
    values.update(overrides)
    return world.broker.check_policy(build_policy_check_request(who, CA_ID, resources, **values))


def _reasons(answer) -> dict[int, str | None]:
    return {v.resource_id: v.reason for v in answer.resources}


def test_an_open_policy_allows_the_order_and_spends_nothing(world):
    world.deposit_all({**_policy(), "max_uses": 1})
    entries = len(world.broker.audit.entries())
    answer = _check(world)
    assert answer.allowed and all(v.allowed for v in answer.resources)
    assert [v.resource_id for v in answer.resources] == [ENGINE, MODEL, DATASET]
    assert len(world.broker.audit.entries()) == entries  # a check is not a release: no entry
    assert world.broker.deposit_status(MODEL).uses_left == 1  # nothing counted
    world.broker.release(world.enclave, ORDER_ID, request_nonce=fresh_nonce())  # the use is there


def test_a_policy_without_the_simulated_opt_in_refuses_a_simulated_tee(world):
    world.deposit_all(_policy())
    answer = _check(world, tee_type=TeeType.SIMULATED, simulated=True)
    assert not answer.allowed
    assert set(_reasons(answer).values()) == {"policy_simulated_tee_refused"}
    refused = answer.resources[0]
    assert (
        refused.guard == "guard_policy_allows" and refused.hint and "simulated" in refused.message
    )
    world.clock.now += 1  # a newer deposit replaces the policy
    world.deposit_all({**_policy(), "insecure_allow_simulated_tee": True})
    assert _check(world, tee_type=TeeType.SIMULATED, simulated=True).allowed


def test_a_customer_outside_the_policy_is_refused_for_that_resource_only(world):
    world.deposit_all(_policy())
    world.clock.now += 1
    world.deposit(MODEL, _policy(allowed_customers=[OTHER.address]))
    answer = _check(world)
    assert not answer.allowed
    assert _reasons(answer) == {ENGINE: None, MODEL: "policy_customer_refused", DATASET: None}


def test_each_policy_guard_answers_with_its_reason(world):
    world.deposit(ENGINE, _policy(allowed_engine_hashes=["0x" + "77" * 32]))
    world.deposit(MODEL, _policy(allowed_tee_types=[int(TeeType.SEV_SNP)]))
    world.deposit(DATASET, _policy(expires_at=NOW - 1))
    assert _reasons(_check(world, (ENGINE, MODEL, DATASET, UNLISTED))) == {
        ENGINE: "policy_engine_refused",
        MODEL: "policy_tee_type_refused",
        DATASET: "policy_expired",
        UNLISTED: "key_not_deposited",
    }


def test_a_policy_whose_uses_are_spent_is_refused(world):
    world.deposit_all({**_policy(), "max_uses": 1})
    world.broker.release(world.enclave, ORDER_ID, request_nonce=fresh_nonce())
    assert _reasons(_check(world, (MODEL,))) == {MODEL: "policy_uses_exhausted"}


def test_a_check_for_someone_else_or_stale_or_for_another_ca_is_refused(world):
    world.deposit_all(_policy())
    forged = build_policy_check_request(
        OTHER,
        CA_ID,
        [MODEL],
        engine_hash=ENGINE_HASH,
        tee_type=TeeType.TDX,
        simulated=False,
        issued_at=NOW,
    ).model_copy(update={"customer": CUSTOMER.address.lower()})
    with pytest.raises(SignatureInvalid):
        world.broker.check_policy(forged)
    with pytest.raises(SignatureStale):
        _check(world, issued_at=NOW - 3600)
    with pytest.raises(WrongCa):
        world.broker.check_policy(
            build_policy_check_request(
                CUSTOMER,
                "another-ca",
                [MODEL],
                engine_hash=ENGINE_HASH,
                tee_type=TeeType.TDX,
                simulated=False,
                issued_at=NOW,
            )
        )


def _policy(**changes):
    return {"allowed_engine_hashes": [ENGINE_HASH], "allowed_customers": "any", **changes}
