"""A restart of the CA loses nothing: ``create_ca_app`` built twice over the same state folder and
database, on the devnet's real chain, keeps deposits and policies, revocations, nonces (issued,
used, expired), used admin requests, seen key-release nonces and every audit entry; the second app
releases the deposited keys in an answer signed by the same sealed signer."""

from __future__ import annotations

import time
from pathlib import Path

import pyrage
import pytest
from broker_story import BrokerStory, certify_body, policy_for
from fastapi.testclient import TestClient

from certification_authority import compose
from certification_authority.compose import create_ca_app
from certification_authority.settings import CaSettings
from enclava.chain.types import ResourceKind
from enclava.devnet import dev_account
from enclava.devnet.measurements import devnet_measurement
from enclava.protocol.broker import check_audit_view

NONCE_TTL_S = 2


@pytest.fixture
def settings(devnet_manifest, tmp_path, monkeypatch) -> CaSettings:
    # the app runs inside the test process, which has loaded far more than the CA's image, so it
    # cannot measure itself (ForeignModuleLoaded); it reports the checkout's CA measurement instead
    monkeypatch.setattr(compose, "running_measurement", devnet_measurement)
    return CaSettings(
        state_dir=tmp_path / "ca",
        ca_id="enclava-ca-restart",
        manifest=Path(devnet_manifest.state_dir) / "manifest.json",
        insecure_allow_simulated_tee=True,
        signer_key=dev_account("ca").key.hex(),
        admin_addresses=dev_account("deployer").address,
        nonce_ttl_s=NONCE_TTL_S,
    )


def test_a_restarted_ca_keeps_deposits_policies_revocations_nonces_and_its_log(
    devnet_manifest, settings
):
    first = BrokerStory(devnet_manifest, http=TestClient(create_ca_app(settings)))
    engine = first.list_resource("model_owner", ResourceKind.ENGINE)
    dataset = first.list_resource("hospital_a", ResourceKind.DATASET)
    assert first.deposit(engine, policy_for(engine)).status_code == 200
    assert (
        first.deposit(
            dataset, policy_for(engine, max_uses=5), issued_at=int(time.time()) - 5
        ).status_code
        == 200
    )
    replaced = first.deposit(
        dataset, policy_for(engine, max_uses=1)
    )  # policy version 2: one use only
    assert replaced.status_code == 200 and replaced.json()["version"] == 2
    enclave = first.certify("provider")
    order_id = first.place_order(engine, [dataset])
    first.accept(order_id)
    revoked = first.certify("provider")
    revocation = first.revoke("enclave", revoked.address)
    assert revocation.status_code == 200 and revocation.json()["onchain"] == "revoked"
    refused = first.release(
        revoked, order_id
    )  # refused, but its request nonce is spent all the same
    assert refused.json()["type"] == "enclave_revoked"
    unused, used, late = (first.http.post("/v1/challenge").json()["nonce"] for _ in range(3))
    assert (
        first.http.post("/v1/certify", json=certify_body(first.http, nonce=used)[1]).status_code
        == 200
    )
    identity = {k: v for k, v in first.http.get("/v1/ca").json().items() if k != "evidence"}
    views = {resource.resource_id: first.audit(resource) for resource in (engine, dataset)}
    admin_request = first.revoke("certificate", "0xc0ffee")
    assert admin_request.status_code == 200

    second = BrokerStory(devnet_manifest, http=TestClient(create_ca_app(settings)))  # the restart
    assert (
        second.http.get("/v1/ca").json().items() >= identity.items()
    )  # same sealed keys, certificate, age key
    assert {(r["kind"], r["subject"]) for r in second.http.get("/v1/revocations").json()} == {
        ("enclave", revoked.address.lower()),
        ("certificate", "c0ffee"),
    }
    for resource in (
        engine,
        dataset,
    ):  # every entry kept, the chain continues from the remembered head
        before, after = views[resource.resource_id], second.audit(resource)
        assert after["entries"][: len(before["entries"])] == before["entries"]
        check_audit_view(after, anchor=check_audit_view(before))
    # nonces: issued before the restart, accepted once after it; used and expired ones refused by
    # name
    assert (
        second.http.post("/v1/certify", json=certify_body(second.http, nonce=unused)[1]).status_code
        == 200
    )
    reused = second.http.post("/v1/certify", json=certify_body(second.http, nonce=used)[1])
    assert reused.json()["type"] == "nonce_reused"
    time.sleep(NONCE_TTL_S + 0.5)
    expired = second.http.post("/v1/certify", json=certify_body(second.http, nonce=late)[1])
    assert expired.json()["type"] == "nonce_expired"
    # the used admin request stays used
    replayed = second.http.post(
        "/v1/revocations",
        content=admin_request.request.content,
        headers={"content-type": "application/json"},
    )
    assert replayed.status_code == 401 and replayed.json()["type"] == "admin_request_replayed"
    # deposits and policies: the stored keys are released under policy version 2, whose one use is
    # spent
    released = second.release(enclave, order_id)
    assert released.status_code == 200, released.text
    answer = second.answer(
        enclave, released
    )  # signed by the same sealed signer as before the restart
    versions = {key.resource_id: key.policy_version for key in answer.keys}
    assert versions == {engine.resource_id: 1, dataset.resource_id: 2}
    wrapped = answer.resource_keys[dataset.resource_id].ciphertext
    assert pyrage.decrypt(wrapped, [enclave.identity]) == dataset.key
    exhausted = second.release(enclave, order_id)
    assert exhausted.json()["type"] == "policy_uses_exhausted"
    assert second.release(revoked, order_id).json()["type"] == "enclave_revoked"
    replayed_release = second.http.post(
        "/v1/keys/release",
        content=refused.request.content,
        headers={"content-type": "application/json"},
    )
    assert (
        replayed_release.status_code == 409
        and replayed_release.json()["type"] == "release_replayed"
    )
    stale = second.deposit(dataset, policy_for(engine), issued_at=int(time.time()) - 5)
    assert stale.status_code == 409 and stale.json()["type"] == "deposit_replayed"
