"""verify_order_report against real orders on the devnet (no mocks: anvil, Kubo and the CA)."""

from __future__ import annotations

import os

import chain_story
import pytest
from web3 import Web3

from enclava.devnet import dev_account
from enclava.report import (
    OrderNotCompleted,
    OrderNotFound,
    inputs_hash,
    report_digest,
    verify_order_report,
)

pytestmark = pytest.mark.devnet

EXPECTED = [
    "report_digest",
    "signature",
    "enclave_certified",
    "enclave_provider",
    "enclave_tee_measurement",
    "measurement_allowed",
    "order_id",
    "engine_hash",
    "inputs_hash",
    "tee_type",
    "output_hash",
    "contract_verify_report",
]


def test_verify_completed_order_is_valid_with_every_check_named(story, completed):
    checklist = verify_order_report(story.contracts, completed.order_id)
    assert [item.name for item in checklist.items] == EXPECTED
    failed = [(i.name, i.reason) for i in checklist.items if i.status == "fail"]
    assert failed == [] and checklist.valid
    assert checklist.item("output_hash").status == "skipped"


def test_verify_with_the_downloaded_result_checks_its_hash(story, completed):
    checklist = verify_order_report(
        story.contracts, completed.order_id, result_ciphertext=completed.output_ciphertext
    )
    assert checklist.item("output_hash").status == "ok" and checklist.valid


def test_verify_with_a_tampered_result_fails_the_output_hash(story, completed):
    tampered = bytearray(completed.output_ciphertext)
    tampered[0] ^= 1
    checklist = verify_order_report(
        story.contracts, completed.order_id, result_ciphertext=bytes(tampered)
    )
    assert checklist.item("output_hash").status == "fail"
    assert "!=" in checklist.item("output_hash").reason
    assert not checklist.valid
    assert [i.name for i in checklist.items if i.status == "fail"] == ["output_hash"]


def test_python_digest_equals_the_contract_report_digest(story, completed):
    from enclava.report import report_tuple

    local = report_digest(
        completed.report,
        chain_id=story.chain.chain_id(),
        marketplace=story.contracts.marketplace.address,
    )
    assert local == bytes(
        story.contracts.marketplace.functions.reportDigest(report_tuple(completed.report)).call()
    )


def test_inputs_hash_is_the_packed_keccak_of_resource_then_input_hashes():
    a, b = os.urandom(32), os.urandom(32)
    assert inputs_hash([a], [b]) == Web3.keccak(a + b)
    assert inputs_hash([], ["0x" + b.hex()]) == Web3.keccak(b)


def test_verify_unknown_order_raises_order_not_found(story):
    with pytest.raises(OrderNotFound) as caught:
        verify_order_report(story.contracts, "0x" + "ab" * 32)
    assert caught.value.code == "order_not_found"


def test_verify_malformed_order_id_raises_order_not_found(story):
    with pytest.raises(OrderNotFound):
        verify_order_report(story.contracts, "0x1234")


def test_verify_open_order_raises_order_not_completed(story, completed):
    customer = chain_story.fresh_account(story)
    order_id, _ = chain_story.create_order(
        story, customer, completed.engine_id, completed.tee_offer_id, [b"x"]
    )
    with pytest.raises(OrderNotCompleted) as caught:
        verify_order_report(story.contracts, order_id)
    assert caught.value.code == "order_not_completed"


def test_verify_after_enclave_revocation_fails_certification_and_contract(devnet_manifest, story):
    order = chain_story.completed_order(devnet_manifest)
    registry = story.contracts.attestation_registry
    story.send(dev_account("deployer"), registry.functions.revokeEnclave(order.enclave.address))
    checklist = verify_order_report(
        story.contracts, order.order_id, result_ciphertext=order.output_ciphertext
    )
    failed = {i.name: i.reason for i in checklist.items if i.status == "fail"}
    assert set(failed) == {"enclave_certified", "contract_verify_report"}
    assert (
        "revoked" in failed["enclave_certified"] and "revoked" in failed["contract_verify_report"]
    )
    assert not checklist.valid
