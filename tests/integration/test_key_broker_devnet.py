"""The key broker on the devnet: real HTTP to the CA service, the real chain behind its
Web3ChainView.

Orders are placed and accepted with MarketClient by the dev accounts; enclaves are certified with
real-format simulated evidence; keys are deposited, released and audited over HTTP. Every denial
must be visible to the owner in their audit log, and the log's hash chain must verify.
"""

from __future__ import annotations

import copy

import pyrage
import pytest
from broker_story import BrokerStory, Resource, denials_in, policy_for, random_hash

from enclava.chain.types import ResourceKind
from enclava.devnet import dev_account
from enclava.protocol.broker import check_audit_view
from enclava.protocol.errors import AuditChainBroken


@pytest.fixture(scope="module")
def story(devnet_manifest) -> BrokerStory:
    return BrokerStory(devnet_manifest)


@pytest.fixture(scope="module")
def engine(story) -> Resource:
    return story.list_resource(
        "model_owner", ResourceKind.ENGINE, b"def run(data): return sum(data)"
    )


@pytest.fixture(scope="module")
def dataset(story, engine) -> Resource:
    resource = story.list_resource("hospital_a", ResourceKind.DATASET, b"patient,age\n1,42\n2,57\n")
    for owned in (engine, resource):
        reply = story.deposit(owned, policy_for(engine))
        assert reply.status_code == 200, reply.text
    return resource


@pytest.fixture(scope="module")
def enclave(story):
    return story.certify("provider")


def _accepted_order(story, engine, resources, **kwargs) -> str:
    order_id = story.place_order(engine, resources, **kwargs)
    story.accept(order_id)
    return order_id


def _assert_denied(story, reply, code: str, order_id: str, owners: list[Resource]) -> None:
    assert reply.status_code in (401, 403, 404, 409), reply.text
    body = reply.json()
    assert body["type"] == code and set(body) == {"type", "detail", "hint"}
    for resource in owners:
        view = story.audit(resource)
        assert code in [reason for reason, _ in denials_in(view, order_id)], (
            resource.owner_role,
            view["entries"],
        )
        check_audit_view(view)


def test_keys_are_released_to_the_certified_enclave_of_an_accepted_order(
    story, engine, dataset, enclave
):
    order_id = _accepted_order(story, engine, [dataset])
    reply = story.release(enclave, order_id)
    assert reply.status_code == 200, reply.text
    wrapped = story.wrapped(enclave, reply)
    assert set(wrapped) == {engine.resource_id, dataset.resource_id}
    for resource in (engine, dataset):
        key = pyrage.decrypt(wrapped[resource.resource_id], [enclave.identity])
        assert key == resource.key
        assert story.open_resource(resource, key) == resource.plaintext  # the IPFS ciphertext opens
        with pytest.raises(pyrage.DecryptError):  # wrapped to the enclave only
            pyrage.decrypt(wrapped[resource.resource_id], [pyrage.x25519.Identity.generate()])
    view = story.audit(dataset)
    granted = [
        e
        for e in view["entries"]
        if e["order_id"] == order_id.lower() and e["decision"] == "granted"
    ]
    assert [(e["enclave_address"], e["details"]["customer"]) for e in granted] == [
        (enclave.address.lower(), dev_account("customer").address.lower())
    ]
    assert check_audit_view(view).seq == view["links"][-1]["seq"]


def test_a_revoked_enclave_is_refused_by_the_broker_and_by_the_marketplace(story, engine, dataset):
    revoked = story.certify("provider")
    order_id = _accepted_order(story, engine, [dataset])
    reply = story.revoke("enclave", revoked.address, "key extracted in a lab")
    assert reply.status_code == 200, reply.text
    assert (
        reply.json()["onchain"] == "revoked"
        and reply.json()["by"] == dev_account("deployer").address.lower()
    )
    assert any(
        r["subject"] == revoked.address.lower() for r in story.http.get("/v1/revocations").json()
    )
    _assert_denied(
        story, story.release(revoked, order_id), "enclave_revoked", order_id, [engine, dataset]
    )

    registry = story.market.contracts.attestation_registry
    assert registry.functions.checkEnclave(revoked.address).call() == [False, "enclave revoked"]
    assert story.complete_refused(revoked, order_id, "provider") == "MarketplaceEnclaveRevoked"


def test_an_order_not_yet_accepted_is_refused(story, engine, dataset, enclave):
    order_id = story.place_order(engine, [dataset])
    _assert_denied(
        story, story.release(enclave, order_id), "order_not_accepted", order_id, [engine, dataset]
    )


def test_an_order_past_its_deadline_is_refused(story, engine, dataset, enclave):
    order_id = _accepted_order(story, engine, [dataset], max_duration=30)
    story.warp(
        45
    )  # the chain's clock passes acceptedAt + maxDuration; the CA's wall clock does not
    _assert_denied(
        story, story.release(enclave, order_id), "order_expired", order_id, [engine, dataset]
    )


def test_another_providers_enclave_is_refused(story, engine, dataset):
    story.tee_offer("provider_b")  # provider_b is a registered provider too, with its own enclave
    foreign = story.certify("provider_b")
    order_id = _accepted_order(story, engine, [dataset])
    _assert_denied(
        story,
        story.release(foreign, order_id),
        "order_provider_mismatch",
        order_id,
        [engine, dataset],
    )


def test_a_resource_not_in_the_order_is_refused(story, engine, dataset, enclave):
    other = story.list_resource("hospital_a", ResourceKind.DATASET)
    assert story.deposit(other, policy_for(engine)).status_code == 200
    order_id = _accepted_order(story, engine, [dataset])
    reply = story.release(enclave, order_id, resource_ids=[dataset.resource_id, other.resource_id])
    _assert_denied(story, reply, "resource_not_in_order", order_id, [other])
    assert ("withheld", None) in denials_in(
        story.audit(dataset), order_id
    )  # nothing left with the rest


@pytest.mark.parametrize(
    ("restriction", "code"),
    [
        ({"allowed_engine_hashes": [random_hash()]}, "policy_engine_refused"),
        ({"allowed_customers": [dev_account("hospital_b").address]}, "policy_customer_refused"),
    ],
)
def test_a_policy_that_excludes_the_engine_or_the_customer_is_refused(
    story, engine, enclave, restriction, code
):
    strict = story.list_resource("hospital_a", ResourceKind.DATASET)
    assert story.deposit(strict, policy_for(engine, **restriction)).status_code == 200
    order_id = _accepted_order(story, engine, [strict])
    _assert_denied(story, story.release(enclave, order_id), code, order_id, [strict])


def test_the_owners_audit_view_verifies_and_a_tampered_entry_is_detected(
    story, engine, dataset, enclave
):
    order_id = story.place_order(engine, [dataset])
    story.release(enclave, order_id)  # one more denial (not accepted) in the log
    view = story.audit(dataset)
    head = check_audit_view(view)
    assert head is not None and head.seq == view["links"][-1]["seq"] and view["entries"]

    tampered = copy.deepcopy(view)
    denied = next(e for e in tampered["entries"] if e["decision"] == "denied")
    denied["decision"] = "granted"
    with pytest.raises(AuditChainBroken):
        check_audit_view(tampered)
    dropped = copy.deepcopy(view)
    dropped["links"].pop(len(dropped["links"]) // 2)
    with pytest.raises(AuditChainBroken):
        check_audit_view(dropped)
    with pytest.raises(AuditChainBroken):  # a log rewound below what the owner saw before
        check_audit_view(
            {
                **view,
                "links": view["links"][:-1],
                "entries": [e for e in view["entries"] if e["seq"] < head.seq],
            },
            anchor=head,
        )
