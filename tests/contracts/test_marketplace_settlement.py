"""Marketplace: completion with an integrity report, failure, timeout with slashing, pull
payments, and the public report verification."""

import pytest
from support import (
    ACCEPTED,
    COMPLETED,
    DATASET_PRICE,
    ENGINE_PRICE,
    FAILED,
    GRACE,
    MEASUREMENT,
    MIN_STAKE,
    MODEL_PRICE,
    PRICE_PER_SECOND,
    SLASH_BPS,
    TIMED_OUT,
    digest,
    reverts,
)

from enclava.protocol.eip712 import field_names


def test_complete_credits_owners_and_provider_and_refunds_the_customer(
    listed,
    accepted,
    marketplace,
    providers,
    provider,
    customer,
    model_owner,
    data_owner,
    enclave_key,
    relayer,
):
    before = customer.balance()
    listed.elapse(300)
    start = listed.accepted_at(accepted)
    tx = listed.complete(
        accepted, enclave_key, relayer, startedAt=start + 50, finishedAt=start + 250
    )
    used = 200
    earned = ENGINE_PRICE + MODEL_PRICE + DATASET_PRICE + PRICE_PER_SECOND * used
    assert marketplace.creditOf(model_owner) == ENGINE_PRICE + MODEL_PRICE
    assert marketplace.creditOf(data_owner) == DATASET_PRICE
    assert marketplace.creditOf(provider) == PRICE_PER_SECOND * used
    assert marketplace.creditOf(customer) == 0
    assert customer.balance() == before + PRICE_PER_SECOND * (600 - used)
    assert tx.events["Refunded"]["customer"] == customer and tx.events["Refunded"][
        "amount"
    ] == PRICE_PER_SECOND * (600 - used)
    assert marketplace.balance() == earned == accepted.escrow - PRICE_PER_SECOND * (600 - used)
    state = marketplace.orderState(accepted.id)
    assert state["status"] == COMPLETED and state["enclave"] == enclave_key.address
    assert providers.getTeeOffer(listed.tee_offer)["used"] == 0
    assert providers.getProvider(provider)["openOrders"] == 0
    assert len(tx.events["Credited"]) == 4


def test_a_refund_the_customer_refuses_is_credited_instead(
    listed, accepted, marketplace, customer, enclave_key, relayer, web3
):
    """A customer whose account runs code that refuses the stipend-only transfer (a contract
    wallet) cannot block the settlement: the refund is credited and withdrawn later."""
    web3.provider.make_request("anvil_setCode", [customer.address, "0x60006000fd"])  # REVERT(0, 0)
    before = customer.balance()
    listed.elapse(300)
    start = listed.accepted_at(accepted)
    tx = listed.complete(
        accepted, enclave_key, relayer, startedAt=start + 50, finishedAt=start + 250
    )
    refund = PRICE_PER_SECOND * 400
    assert marketplace.orderState(accepted.id)["status"] == COMPLETED
    assert customer.balance() == before and "Refunded" not in tx.events
    assert marketplace.creditOf(customer) == refund
    assert [e["account"] for e in tx.events["Credited"]][-1] == customer
    web3.provider.make_request("anvil_setCode", [customer.address, "0x"])
    marketplace.withdraw({"from": customer})
    assert customer.balance() == before + refund and marketplace.creditOf(customer) == 0


def test_complete_stores_the_report_digest_and_emits_the_report(
    listed, accepted, marketplace, enclave_key, relayer
):
    report, signature = listed.report(accepted, enclave_key)
    tx = marketplace.completeOrder(accepted.terms, report, signature, {"from": relayer})
    digest = marketplace.reportDigest(report)
    assert marketplace.reportHash(accepted.id) == digest
    event = tx.events["OrderCompleted"]
    assert event["reportHash"] == digest and bytes(event["signature"]) == signature
    assert event["report"][4] == "bafy-result"


def test_contract_digests_match_eth_account_typed_data(listed, accepted, marketplace, enclave_key):
    report, _ = listed.report(accepted, enclave_key)
    message = dict(zip(field_names("IntegrityReport"), report))
    assert bytes(marketplace.reportDigest(report)) == digest(
        "IntegrityReport", marketplace, message
    )
    failure, _ = listed.failure(accepted, enclave_key, reason=9)
    message = dict(zip(field_names("OrderFailure"), failure))
    assert bytes(marketplace.failureDigest(failure)) == digest("OrderFailure", marketplace, message)


def test_complete_pays_at_most_the_maximum_duration(
    listed, accepted, marketplace, provider, customer, enclave_key, relayer
):
    listed.elapse(5000)
    start = listed.accepted_at(accepted)
    before = customer.balance()
    tx = listed.complete(accepted, enclave_key, relayer, startedAt=start, finishedAt=start + 5000)
    assert marketplace.creditOf(provider) == PRICE_PER_SECOND * 600
    assert marketplace.creditOf(customer) == 0 and customer.balance() == before
    assert "Refunded" not in tx.events


def test_complete_an_open_order_reverts(listed, order, enclave_key, relayer):
    with reverts("MarketplaceOrderNotAccepted"):
        listed.complete(order, enclave_key, relayer)


def test_complete_with_a_wrong_engine_hash_reverts(listed, accepted, enclave_key, relayer):
    with reverts("MarketplaceReportEngineMismatch"):
        listed.complete(accepted, enclave_key, relayer, engineHash=b"\x05" * 32)


def test_complete_with_another_tee_type_reverts(listed, accepted, enclave_key, relayer):
    with reverts("MarketplaceReportTeeTypeMismatch"):
        listed.complete(accepted, enclave_key, relayer, teeType=1)


# -- honest time: acceptedAt <= startedAt <= finishedAt <= block.timestamp -------------------------


def test_complete_refuses_started_before_accept(
    listed, accepted, marketplace, provider, customer, enclave_key, relayer
):
    listed.elapse(600)
    start = listed.accepted_at(accepted)
    with reverts("MarketplaceReportStartedBeforeAccepted"):
        listed.complete(accepted, enclave_key, relayer, startedAt=start - 1, finishedAt=start + 100)
    assert marketplace.orderState(accepted.id)["status"] == ACCEPTED
    assert marketplace.creditOf(provider) == 0 and marketplace.creditOf(customer) == 0


def test_complete_refuses_a_report_started_at_zero(
    listed, accepted, marketplace, provider, enclave_key, relayer
):
    """`startedAt = 0` once billed the whole maximum duration for a run that never happened."""
    with reverts("MarketplaceReportStartedBeforeAccepted"):
        listed.complete(accepted, enclave_key, relayer, startedAt=0, finishedAt=listed.block_time())
    assert marketplace.creditOf(provider) == 0


def test_complete_refuses_finished_before_started(listed, accepted, enclave_key, relayer):
    listed.elapse(60)
    start = listed.accepted_at(accepted)
    with reverts("MarketplaceReportTimesInvalid"):
        listed.complete(accepted, enclave_key, relayer, startedAt=start + 20, finishedAt=start + 10)


def test_complete_refuses_finished_in_future(
    listed, accepted, marketplace, provider, enclave_key, relayer
):
    start = listed.accepted_at(accepted)
    with reverts("MarketplaceReportFinishedInFuture"):
        listed.complete(
            accepted, enclave_key, relayer, startedAt=start, finishedAt=listed.block_time() + 3600
        )
    assert marketplace.creditOf(provider) == 0


def test_complete_bills_measured_seconds(
    listed, accepted, marketplace, provider, customer, enclave_key, relayer
):
    """The provider is paid for exactly the seconds between start and finish; the customer gets
    the rest of the compute escrow back."""
    listed.elapse(400)
    start = listed.accepted_at(accepted) + 30
    before = customer.balance()
    tx = listed.complete(accepted, enclave_key, relayer, startedAt=start, finishedAt=start + 123)
    assert marketplace.creditOf(provider) == PRICE_PER_SECOND * 123
    assert customer.balance() == before + PRICE_PER_SECOND * (600 - 123)
    assert tx.events["Refunded"]["amount"] == PRICE_PER_SECOND * (600 - 123)


def test_complete_accepts_a_run_from_acceptance_to_the_settling_block(
    listed, accepted, marketplace, provider, enclave_key, relayer, web3
):
    """The bounds are inclusive: started at the acceptance, finished at the settling block's
    time."""
    start = listed.accepted_at(accepted)
    finish = max(start, listed.block_time()) + 90
    report, signature = listed.report(accepted, enclave_key, startedAt=start, finishedAt=finish)
    web3.provider.make_request("evm_setNextBlockTimestamp", [finish])
    tx = marketplace.completeOrder(
        accepted.terms, report, signature, {"from": relayer, "gas_limit": 500_000}
    )
    assert listed.chain[tx.block_number].timestamp == finish
    assert marketplace.creditOf(provider) == PRICE_PER_SECOND * (finish - start)


def test_enclave_fails_an_order_and_the_customer_is_refunded(
    listed, accepted, marketplace, providers, customer, provider, enclave_key, relayer
):
    failure, signature = listed.failure(accepted, enclave_key, reason=3)
    before = customer.balance()
    tx = marketplace.failOrder(accepted.terms, failure, signature, {"from": relayer})
    assert tx.events["OrderFailed"]["reasonCode"] == 3
    assert tx.events["OrderFailed"]["detailCid"] == ""
    assert marketplace.orderState(accepted.id)["status"] == FAILED
    assert customer.balance() == before + accepted.escrow
    assert tx.events["Refunded"]["amount"] == accepted.escrow
    assert marketplace.creditOf(customer) == 0 and marketplace.creditOf(provider) == 0
    assert marketplace.balance() == 0
    assert providers.getTeeOffer(listed.tee_offer)["used"] == 0


def test_failure_event_carries_the_signed_detail_cid(
    listed, accepted, marketplace, enclave_key, relayer
):
    failure, signature = listed.failure(accepted, enclave_key, reason=5, detail="bafy-detail")
    tx = marketplace.failOrder(accepted.terms, failure, signature, {"from": relayer})
    event = tx.events["OrderFailed"]
    assert (event["reasonCode"], event["detailCid"]) == (5, "bafy-detail")
    assert event["enclave"] == enclave_key.address


def test_fail_with_a_swapped_detail_cid_reverts(
    listed, accepted, marketplace, enclave_key, relayer
):
    failure, signature = listed.failure(accepted, enclave_key, detail="bafy-detail")
    swapped = (*failure[:3], "bafy-someone-elses")
    with reverts("MarketplaceReportSignerMismatch"):
        marketplace.failOrder(accepted.terms, swapped, signature, {"from": relayer})


def test_fail_an_open_order_reverts(listed, order, marketplace, enclave_key, relayer):
    failure, signature = listed.failure(order, enclave_key)
    with reverts("MarketplaceOrderNotAccepted"):
        marketplace.failOrder(order.terms, failure, signature, {"from": relayer})


def test_fail_with_a_failure_of_another_order_reverts(
    listed, accepted, marketplace, enclave_key, relayer
):
    failure, signature = listed.failure(accepted, enclave_key, orderId=b"\x09" * 32)
    with reverts("MarketplaceReportOrderMismatch"):
        marketplace.failOrder(accepted.terms, failure, signature, {"from": relayer})


def test_fail_signed_by_another_key_reverts(listed, accepted, marketplace, enclave_key, relayer):
    from support import new_key

    failure, signature = listed.failure(accepted, enclave_key, signer=new_key("intruder"))
    with reverts("MarketplaceReportSignerMismatch"):
        marketplace.failOrder(accepted.terms, failure, signature, {"from": relayer})


def test_fail_by_an_enclave_of_another_provider_reverts(
    listed, accepted, marketplace, other_provider, relayer
):
    from support import new_key

    foreign = new_key("foreign-enclave")
    listed.certify(foreign, other_provider)
    failure, signature = listed.failure(accepted, foreign)
    with reverts("MarketplaceEnclaveProviderMismatch"):
        marketplace.failOrder(accepted.terms, failure, signature, {"from": relayer})


def test_timeout_before_the_deadline_reverts(listed, accepted, marketplace, stranger, chain):
    chain.sleep(600 + GRACE - 5)
    with reverts("MarketplaceDeadlineNotReached"):
        marketplace.timeoutOrder(accepted.terms, {"from": stranger})


def test_timeout_refunds_the_customer_and_slashes_the_provider(
    listed, accepted, marketplace, providers, provider, customer, stranger, chain
):
    chain.sleep(600 + GRACE + 1)
    before = customer.balance()
    tx = marketplace.timeoutOrder(accepted.terms, {"from": stranger})
    slashed = MIN_STAKE * SLASH_BPS // 10_000
    assert tx.events["OrderTimedOut"]["caller"] == stranger
    assert tx.events["StakeSlashed"]["amount"] == slashed
    assert marketplace.orderState(accepted.id)["status"] == TIMED_OUT
    assert customer.balance() == before + accepted.escrow + slashed
    assert sorted(e["amount"] for e in tx.events["Refunded"]) == sorted([slashed, accepted.escrow])
    assert marketplace.creditOf(customer) == 0
    assert providers.getProvider(provider)["stake"] == MIN_STAKE - slashed
    assert providers.balance() == MIN_STAKE - slashed
    assert marketplace.balance() == 0
    assert providers.getProvider(provider)["openOrders"] == 0


def test_timeout_of_an_open_order_reverts(listed, order, marketplace, stranger):
    with reverts("MarketplaceOrderNotAccepted"):
        marketplace.timeoutOrder(order.terms, {"from": stranger})


def test_withdraw_sends_the_whole_credit(
    listed, accepted, marketplace, model_owner, enclave_key, relayer
):
    listed.complete(accepted, enclave_key, relayer)
    before = model_owner.balance()
    tx = marketplace.withdraw({"from": model_owner})
    assert tx.events["Withdrawn"]["amount"] == ENGINE_PRICE + MODEL_PRICE
    assert model_owner.balance() == before + ENGINE_PRICE + MODEL_PRICE
    assert marketplace.creditOf(model_owner) == 0


def test_withdraw_without_credit_reverts(listed, marketplace, stranger):
    with reverts("MarketplaceNothingToWithdraw"):
        marketplace.withdraw({"from": stranger})


def test_pay_slash_only_from_the_provider_registry(listed, marketplace, stranger):
    with reverts("MarketplaceUnauthorizedRegistry"):
        marketplace.paySlash(b"\x01" * 32, stranger, {"from": stranger, "value": 1})


def test_verify_report_of_a_completed_order_is_valid(
    listed, accepted, marketplace, enclave_key, relayer, chain
):
    listed.complete(accepted, enclave_key, relayer)
    assert tuple(marketplace.verifyReport(accepted.id)) == (True, "")
    chain.sleep(40 * 24 * 3600)  # the short-lived certificate expires; the report stands
    chain.mine()
    assert tuple(marketplace.verifyReport(accepted.id)) == (True, "")


def test_verify_report_before_completion_is_invalid(listed, accepted, marketplace):
    assert tuple(marketplace.verifyReport(accepted.id)) == (False, "order not completed")
    assert tuple(marketplace.verifyReport(b"\x07" * 32)) == (False, "unknown order")


@pytest.mark.parametrize(
    "revoke, reason",
    [
        ("enclave", "enclave revoked"),
        ("ca", "CA revoked"),
        ("measurement", "measurement revoked"),
    ],
)
def test_verify_report_after_a_revocation_is_invalid(
    listed, accepted, marketplace, attestation, gov, ca_key, enclave_key, relayer, revoke, reason
):
    listed.complete(accepted, enclave_key, relayer)
    if revoke == "enclave":
        attestation.revokeEnclave(enclave_key.address, {"from": gov})
    elif revoke == "ca":
        attestation.revokeCaSigner(ca_key.address, {"from": gov})
    else:
        attestation.revokeMeasurement(3, MEASUREMENT, {"from": gov})
    assert tuple(marketplace.verifyReport(accepted.id)) == (False, reason)


def test_marketplace_refuses_missing_registries(Marketplace, providers, resources, gov):
    with reverts("MarketplaceZeroAddress"):
        Marketplace.deploy(providers, resources, "0x" + "00" * 20, GRACE, {"from": gov})


def test_marketplace_refuses_a_registry_bound_to_another_address(
    Marketplace, providers, resources, attestation, gov
):
    """The registry of the deployed set names the deployed marketplace, so a second one is
    refused."""
    with reverts("MarketplaceRegistryMismatch"):
        Marketplace.deploy(providers, resources, attestation, GRACE, {"from": gov})


def test_marketplace_exposes_its_configuration(marketplace, providers, resources, attestation):
    assert tuple(marketplace.registries()) == (
        providers.address,
        resources.address,
        attestation.address,
    )
    assert marketplace.reportGracePeriod() == GRACE
    assert len(bytes(marketplace.DOMAIN_SEPARATOR())) == 32
