"""Marketplace: a TEE offer that promises a GPU is settled only by an enclave certified with that
GPU class; an offer without one ("cpu" or no class) by any enclave of its provider."""

import pytest
from brownie.exceptions import VirtualMachineError
from support import (
    COMPLETED,
    CPU,
    FAILED,
    GPU,
    OTHER_GPU,
    PRICE_PER_SECOND,
    gpu_label,
    new_key,
    reverts,
)


@pytest.fixture(scope="module")
def cpu_enclave(listed, provider):
    """An enclave of the standard provider certified without a GPU."""
    key = new_key("cpu-only-enclave")
    listed.certify(key, provider, gpu=b"", gpu_count=0)
    return key


@pytest.fixture(scope="module")
def other_gpu_enclave(listed, provider):
    """An enclave of the standard provider certified with two GPUs of another class."""
    key = new_key("other-gpu-enclave")
    listed.certify(key, provider, gpu=OTHER_GPU, gpu_count=2)
    return key


def _accepted_on(market, customer, provider, tee_offer):
    order = market.create(customer, market.engine, [], tee_offer, [b"question"])
    market.accept(order, provider)
    return order


def test_a_gpu_offers_report_from_a_cpu_only_enclave_reverts(
    listed, accepted, marketplace, cpu_enclave, relayer
):
    with reverts("MarketplaceEnclaveGpuMismatch"):
        listed.complete(accepted, cpu_enclave, relayer)
    assert marketplace.orderState(accepted.id)["status"] != COMPLETED


def test_the_mismatch_names_the_offered_and_the_certified_class(
    listed, accepted, marketplace, other_gpu_enclave
):
    """The revert carries both labels, offered first, as brownie decodes the error's bytes32s."""
    report, signature = listed.report(accepted, other_gpu_enclave)
    with reverts("MarketplaceEnclaveGpuMismatch"):
        marketplace.completeOrder.call(accepted.terms, report, signature)
    with pytest.raises(VirtualMachineError) as caught:
        marketplace.completeOrder.call(accepted.terms, report, signature)
    offered, certified = caught.value.revert_msg.split(": ", 1)[1].split(", ")
    assert offered == repr(gpu_label(GPU)) and certified == repr(gpu_label(OTHER_GPU))


def test_a_gpu_offers_report_from_an_enclave_certified_with_its_class_pays_out(
    listed, accepted, marketplace, provider, enclave_key, relayer
):
    listed.elapse(100)
    tx = listed.complete(accepted, enclave_key, relayer)
    assert marketplace.orderState(accepted.id)["status"] == COMPLETED
    assert tx.events["OrderCompleted"]["orderId"] == "0x" + accepted.id.hex()
    assert marketplace.creditOf(provider) > 0


@pytest.mark.parametrize("label", [CPU, b""], ids=["cpu", "no-class"])
def test_an_offer_without_a_gpu_accepts_any_enclave_of_its_provider(
    listed, marketplace, customer, provider, enclave_key, cpu_enclave, relayer, label
):
    tee_offer = listed.publish(provider, gpu=label)
    for enclave in (cpu_enclave, enclave_key):
        order = _accepted_on(listed, customer, provider, tee_offer)
        listed.elapse(10)
        listed.complete(order, enclave, relayer)
        assert marketplace.orderState(order.id)["status"] == COMPLETED


def test_an_enclave_without_the_offers_gpu_may_still_fail_the_order(
    listed, accepted, marketplace, customer, cpu_enclave, relayer
):
    """Failing only refunds the customer, so it needs no GPU."""
    before = customer.balance()
    failure, signature = listed.failure(accepted, cpu_enclave)
    marketplace.failOrder(accepted.terms, failure, signature, {"from": relayer})
    assert marketplace.orderState(accepted.id)["status"] == FAILED
    assert customer.balance() == before + accepted.escrow


def test_a_renewal_without_the_gpu_loses_the_gpu_offers_orders(
    listed, accepted, attestation, provider, enclave_key, relayer
):
    current = attestation.getEnclave(enclave_key.address)["expiresAt"]
    listed.certify(enclave_key, provider, expires_at=current + 60, gpu=b"", gpu_count=0)
    with reverts("MarketplaceEnclaveGpuMismatch"):
        listed.complete(accepted, enclave_key, relayer)


def test_a_tee_offers_gpu_class_is_fixed_once_published(listed, providers, provider):
    """Settlement reads the class by TEE offer id, so an update must not change it."""
    assert bytes(providers.teeOfferGpuClass(listed.tee_offer)) == gpu_label(GPU)
    providers.updateTeeOffer(listed.tee_offer, PRICE_PER_SECOND * 2, 3, False, {"from": provider})
    assert bytes(providers.teeOfferGpuClass(listed.tee_offer)) == gpu_label(GPU)
    assert bytes(providers.getTeeOffer(listed.tee_offer)["gpuClass"]) == gpu_label(GPU)
    with reverts("ProviderUnknownTeeOffer"):
        providers.teeOfferGpuClass(10**6)
