"""completeOrder rejects every forged or stale integrity report, each with its own error, and the
escrow stays untouched."""

from support import ACCEPTED, MEASUREMENT, OTHER_MEASUREMENT, SIMULATED, new_key, reverts, sha256


def assert_unpaid(marketplace, order, *accounts):
    """The forgery changed nothing: the order is still accepted and nobody was credited."""
    assert marketplace.orderState(order.id)["status"] == ACCEPTED
    assert all(marketplace.creditOf(a) == 0 for a in accounts)


def test_report_signed_by_a_key_other_than_the_enclave_is_rejected(
    listed, accepted, enclave_key, relayer
):
    with reverts("MarketplaceReportSignerMismatch"):
        listed.complete(accepted, enclave_key, relayer, signer=new_key("intruder"))
    assert_unpaid(listed.marketplace, accepted, accepted.provider, accepted.customer)


def test_report_with_a_wrong_input_hash_is_rejected(listed, accepted, enclave_key, relayer):
    with reverts("MarketplaceReportInputsMismatch"):
        listed.complete(accepted, enclave_key, relayer, inputsHash=sha256(b"other inputs"))
    assert_unpaid(listed.marketplace, accepted, accepted.provider, accepted.customer)


def test_report_under_a_measurement_taken_off_the_allow_list_is_rejected(
    listed, accepted, attestation, gov, enclave_key, relayer
):
    attestation.revokeMeasurement(SIMULATED, MEASUREMENT, {"from": gov})
    with reverts("MarketplaceMeasurementNotAllowed"):
        listed.complete(accepted, enclave_key, relayer)
    assert_unpaid(listed.marketplace, accepted, accepted.provider, accepted.customer)


def test_report_claiming_an_unlisted_measurement_is_rejected(
    listed, accepted, enclave_key, relayer
):
    with reverts("MarketplaceReportMeasurementMismatch"):
        listed.complete(accepted, enclave_key, relayer, measurement=OTHER_MEASUREMENT)
    assert_unpaid(listed.marketplace, accepted, accepted.provider, accepted.customer)


def test_report_of_an_expired_enclave_is_rejected(listed, accepted, enclave_key, relayer, chain):
    chain.sleep(31 * 24 * 3600)
    chain.mine()
    with reverts("MarketplaceEnclaveExpired"):
        listed.complete(accepted, enclave_key, relayer)
    assert_unpaid(listed.marketplace, accepted, accepted.provider, accepted.customer)


def test_report_of_a_revoked_enclave_is_rejected(
    listed, accepted, attestation, gov, enclave_key, relayer
):
    attestation.revokeEnclave(enclave_key.address, {"from": gov})
    with reverts("MarketplaceEnclaveRevoked"):
        listed.complete(accepted, enclave_key, relayer)
    assert_unpaid(listed.marketplace, accepted, accepted.provider, accepted.customer)


def test_report_of_an_enclave_certified_by_a_revoked_ca_is_rejected(
    listed, accepted, attestation, gov, ca_key, enclave_key, relayer
):
    attestation.revokeCaSigner(ca_key.address, {"from": gov})
    with reverts("MarketplaceEnclaveCaRevoked"):
        listed.complete(accepted, enclave_key, relayer)
    assert_unpaid(listed.marketplace, accepted, accepted.provider, accepted.customer)


def test_report_of_an_uncertified_enclave_is_rejected(listed, accepted, relayer):
    with reverts("MarketplaceEnclaveUnknown"):
        listed.complete(accepted, new_key("uncertified"), relayer)
    assert_unpaid(listed.marketplace, accepted, accepted.provider, accepted.customer)


def test_report_of_an_enclave_of_another_provider_is_rejected(
    listed, accepted, other_provider, relayer
):
    foreign = new_key("foreign-enclave")
    listed.certify(foreign, other_provider)
    with reverts("MarketplaceEnclaveProviderMismatch"):
        listed.complete(accepted, foreign, relayer)
    assert_unpaid(listed.marketplace, accepted, accepted.provider, accepted.customer)


def test_report_replayed_onto_another_order_is_rejected(
    listed, accepted, marketplace, customer, provider, enclave_key, relayer
):
    other = listed.create(
        customer, listed.engine, [listed.model, listed.dataset], listed.tee_offer, [b"a", b"b"]
    )
    listed.accept(other, provider)
    report, signature = listed.report(accepted, enclave_key)
    with reverts("MarketplaceReportOrderMismatch"):
        marketplace.completeOrder(other.terms, report, signature, {"from": relayer})
    assert marketplace.orderState(other.id)["status"] == ACCEPTED
    assert marketplace.balance() == accepted.escrow + other.escrow


def test_report_replayed_onto_the_completed_order_is_rejected(
    listed, marketplace, customer, provider, enclave_key, relayer
):
    order = listed.create(customer, listed.engine, [], listed.tee_offer)
    listed.accept(order, provider)
    report, signature = listed.report(order, enclave_key)
    marketplace.completeOrder(order.terms, report, signature, {"from": relayer})
    paid = marketplace.creditOf(provider)
    with reverts("MarketplaceOrderNotAccepted"):
        marketplace.completeOrder(order.terms, report, signature, {"from": relayer})
    assert marketplace.creditOf(provider) == paid


def test_report_for_altered_terms_is_rejected(
    listed, accepted, marketplace, customer, enclave_key, relayer
):
    terms = list(accepted.terms)
    terms[10] = [(p[0], customer.address, p[2]) for p in terms[10]]  # payments rerouted
    report, signature = listed.report(accepted, enclave_key)
    with reverts("MarketplaceOrderNotAccepted"):
        marketplace.completeOrder(tuple(terms), report, signature, {"from": relayer})
