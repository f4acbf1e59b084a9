"""Marketplace: creating, accepting and cancelling orders, and the escrow they hold."""

from eth_utils import keccak
from support import (
    ACCEPTED,
    CANCELLED,
    DATASET_PRICE,
    ENGINE_PRICE,
    MODEL_PRICE,
    OPEN,
    PRICE_PER_SECOND,
    UNBONDING_DELAY,
    inputs_hash,
    reverts,
    sha256,
)

KEY = b"\x02" * 33


def test_create_order_escrows_the_exact_price(
    listed, order, marketplace, customer, provider, model_owner, data_owner
):
    assert order.escrow == ENGINE_PRICE + MODEL_PRICE + DATASET_PRICE + PRICE_PER_SECOND * 600
    assert marketplace.balance() == order.escrow
    assert order.customer == customer and order.provider == provider
    assert [(p[1], p[2]) for p in order.payments] == [
        (model_owner, ENGINE_PRICE),
        (model_owner, MODEL_PRICE),
        (data_owner, DATASET_PRICE),
    ]
    assert marketplace.escrowOf(order.terms) == order.escrow
    assert marketplace.orderState(order.id)["status"] == OPEN
    assert order.terms[0] == order.tx.block_number  # the nonce starts at the block number


def test_identical_orders_in_one_block_get_distinct_ids(listed, marketplace, customer, chain, web3):
    quote = listed.quote(listed.engine, [], listed.tee_offer, 600)
    data = marketplace.createOrder.encode_input(
        listed.engine, [], listed.tee_offer, [("bafy-in-0", sha256(b"same"))], KEY, 600
    )
    tx = {
        "from": customer.address,
        "to": marketplace.address,
        "value": quote,
        "data": data,
        "gas": 1_000_000,
    }
    web3.provider.make_request("evm_setAutomine", [False])
    try:
        hashes = [web3.eth.send_transaction(tx).hex() for _ in range(2)]
        chain.mine()
    finally:
        web3.provider.make_request("evm_setAutomine", [True])
    first, second = (chain.get_transaction(h if h.startswith("0x") else "0x" + h) for h in hashes)
    assert first.status == second.status == 1
    assert first.block_number == second.block_number
    created = [tx.events["OrderCreated"] for tx in (first, second)]
    assert [c["terms"][0] for c in created] == [first.block_number, first.block_number + 1]
    ids = {bytes(c["orderId"]) for c in created}
    assert len(ids) == 2
    assert all(marketplace.orderState(i)["status"] == OPEN for i in ids)


def test_order_id_is_the_hash_of_its_terms(listed, order, marketplace):
    assert bytes(marketplace.orderIdOf(order.terms)) == order.id


def test_order_commits_to_engine_and_all_input_hashes(listed, order):
    assert order.engine_hash == sha256(b"engine")
    expected = inputs_hash([sha256(b"model"), sha256(b"dataset"), sha256(b"a"), sha256(b"b")])
    assert order.inputs_hash == expected
    assert bytes(order.terms[9]) == keccak(KEY)


def test_order_created_event_carries_what_the_loader_needs(listed, order):
    event = order.tx.events["OrderCreated"]
    assert [bytes(h) for h in event["resourceHashes"]] == [sha256(b"model"), sha256(b"dataset")]
    assert [i[0] for i in event["inputs"]] == ["bafy-in-0", "bafy-in-1"]
    assert bytes(event["recipientKey"]) == KEY


def test_create_order_with_a_wrong_payment_reverts(listed, customer):
    quote = listed.quote(listed.engine, [], listed.tee_offer, 60)
    for value in (quote - 1, quote + 1):
        with reverts("MarketplaceWrongPayment"):
            listed.create(customer, listed.engine, [], listed.tee_offer, duration=60, value=value)


def test_create_order_of_zero_duration_reverts(listed, customer):
    with reverts("MarketplaceZeroDuration"):
        listed.create(customer, listed.engine, [], listed.tee_offer, duration=0, value=ENGINE_PRICE)


def test_create_order_with_an_inactive_resource_reverts(listed, resources, model_owner, customer):
    resources.updateResource(
        listed.model, ("bafy-m", sha256(b"model"), MODEL_PRICE, "", False), {"from": model_owner}
    )
    with reverts("MarketplaceResourceInactive"):
        listed.create(customer, listed.engine, [listed.model], listed.tee_offer)
    resources.retireResource(listed.engine, {"from": model_owner})
    with reverts("MarketplaceResourceInactive"):
        listed.create(customer, listed.engine, [], listed.tee_offer)


def test_create_order_with_resources_of_the_wrong_kind_reverts(listed, customer):
    with reverts("MarketplaceResourceKindMismatch"):
        listed.create(customer, listed.model, [], listed.tee_offer, value=0)
    with reverts("MarketplaceResourceKindMismatch"):
        listed.create(customer, listed.engine, [listed.engine], listed.tee_offer, value=0)
    with reverts("MarketplaceResourceKindMismatch"):
        listed.create(customer, listed.engine, [999], listed.tee_offer, value=0)


def test_create_order_on_an_inactive_tee_offer_reverts(listed, providers, provider, customer):
    providers.updateTeeOffer(listed.tee_offer, PRICE_PER_SECOND, 2, False, {"from": provider})
    with reverts("MarketplaceTeeOfferUnavailable"):
        listed.create(customer, listed.engine, [], listed.tee_offer, value=0)
    with reverts("MarketplaceTeeOfferUnavailable"):
        listed.create(customer, listed.engine, [], 999, value=0)


def test_create_order_with_an_unbonding_provider_reverts(listed, providers, provider, customer):
    providers.requestUnbonding({"from": provider})
    with reverts("MarketplaceTeeOfferUnavailable"):
        listed.create(customer, listed.engine, [], listed.tee_offer, value=0)


def test_create_order_with_too_many_resources_or_inputs_reverts(listed, marketplace, customer):
    with reverts("MarketplaceTooManyResources"):
        marketplace.createOrder(
            listed.engine, [listed.model] * 17, listed.tee_offer, [], KEY, 60, {"from": customer}
        )
    inputs = [("bafy", sha256(bytes([i]))) for i in range(33)]
    with reverts("MarketplaceTooManyInputs"):
        marketplace.createOrder(
            listed.engine, [], listed.tee_offer, inputs, KEY, 60, {"from": customer}
        )


def test_create_order_with_an_empty_input_reverts(listed, marketplace, customer):
    value = listed.quote(listed.engine, [], listed.tee_offer, 60)
    for bad in (("", sha256(b"x")), ("bafy", b"\0" * 32)):
        with reverts("MarketplaceEmptyInput"):
            marketplace.createOrder(
                listed.engine,
                [],
                listed.tee_offer,
                [bad],
                KEY,
                60,
                {"from": customer, "value": value},
            )


def test_create_order_without_recipient_key_reverts(listed, customer):
    with reverts("MarketplaceEmptyRecipientKey"):
        listed.create(customer, listed.engine, [], listed.tee_offer, key=b"")


def test_provider_accepts_an_open_order(listed, order, marketplace, providers, provider):
    tx = listed.accept(order, provider)
    assert tx.events["OrderAccepted"]["provider"] == provider
    state = marketplace.orderState(order.id)
    assert state["status"] == ACCEPTED and state["acceptedAt"] == tx.timestamp
    assert providers.getTeeOffer(listed.tee_offer)["used"] == 1
    assert providers.getProvider(provider)["openOrders"] == 1
    assert marketplace.deadlineOf(order.terms) == tx.timestamp + 600 + 3600


def test_accept_by_another_account_reverts(listed, order, stranger):
    with reverts("ProviderNotTeeOfferOwner"):
        listed.accept(order, stranger)


def test_accept_twice_reverts(listed, accepted, provider):
    with reverts("MarketplaceOrderNotOpen"):
        listed.accept(accepted, provider)


def test_accept_beyond_the_tee_offers_slots_reverts(listed, customer, provider):
    orders = [listed.create(customer, listed.engine, [], listed.tee_offer) for _ in range(3)]
    listed.accept(orders[0], provider)
    listed.accept(orders[1], provider)
    with reverts("ProviderTeeOfferFull"):
        listed.accept(orders[2], provider)


def test_accept_on_a_deactivated_tee_offer_reverts(listed, order, providers, provider):
    providers.updateTeeOffer(listed.tee_offer, PRICE_PER_SECOND, 2, False, {"from": provider})
    with reverts("ProviderTeeOfferUnavailable"):
        listed.accept(order, provider)


def test_accept_while_unbonding_reverts(listed, order, providers, provider):
    providers.requestUnbonding({"from": provider})
    with reverts("ProviderIsUnbonding"):
        listed.accept(order, provider)


def test_accept_with_a_stake_below_the_minimum_reverts(listed, order, customer, provider, chain):
    # A timed-out order slashes 20 % of the stake, leaving the provider under the minimum.
    first = listed.create(customer, listed.engine, [], listed.tee_offer, duration=10)
    listed.accept(first, provider)
    chain.sleep(10 + 3600 + 1)
    listed.marketplace.timeoutOrder(first.terms, {"from": customer})
    with reverts("ProviderStakeTooLow"):
        listed.accept(order, provider)


def test_unknown_order_cannot_be_accepted(listed, provider):
    with reverts("MarketplaceOrderNotOpen"):
        listed.marketplace.acceptOrder(b"\x01" * 32, {"from": provider})


def test_customer_cancels_an_unaccepted_order_and_is_refunded(listed, order, marketplace, customer):
    before = customer.balance()
    tx = marketplace.cancelOrder(order.terms, {"from": customer})
    assert tx.events["OrderCancelled"]["orderId"] == "0x" + order.id.hex()
    assert tx.events["Refunded"]["amount"] == order.escrow
    assert marketplace.orderState(order.id)["status"] == CANCELLED
    assert marketplace.creditOf(customer) == 0
    assert customer.balance() == before + order.escrow - tx.gas_used * tx.gas_price
    assert marketplace.balance() == 0


def test_cancel_by_another_account_reverts(listed, order, marketplace, stranger):
    with reverts("MarketplaceNotCustomer"):
        marketplace.cancelOrder(order.terms, {"from": stranger})


def test_cancel_an_accepted_order_reverts(listed, accepted, marketplace, customer):
    with reverts("MarketplaceOrderNotOpen"):
        marketplace.cancelOrder(accepted.terms, {"from": customer})


def test_cancel_with_altered_terms_reverts(listed, order, marketplace, customer):
    terms = list(order.terms)
    terms[10] = [(p[0], customer.address, p[2]) for p in terms[10]]
    with reverts("MarketplaceOrderNotOpen"):
        marketplace.cancelOrder(tuple(terms), {"from": customer})


def test_withdraw_stake_with_an_open_order_reverts(listed, accepted, providers, provider, chain):
    providers.requestUnbonding({"from": provider})
    chain.sleep(UNBONDING_DELAY + 1)
    with reverts("ProviderHasOpenOrders"):
        providers.withdrawStake({"from": provider})
