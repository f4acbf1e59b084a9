"""ServiceMarket: prices, service start (each field checked against the registries), accounts,
settlement of cumulative customer-signed vouchers, close and reclaim, pull payouts.

Terms, ids, prices and vouchers are built with enclava.protocol.service_terms, so every test here
also pins that the Python side hashes, prices and signs exactly as the contract does. The standard
market (conftest `listed`) has a bonded provider with one SIMULATED TEE offer at PRICE_PER_SECOND
and a model listed by `model_owner`; this module prices that model for serving.
"""

import collections
import dataclasses

import pytest
from brownie import chain
from hypothesis import HealthCheck, Verbosity, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from support import (
    CHAIN_ID,
    MODEL,
    PRICE_PER_SECOND,
    SIMULATED,
    TDX,
    digest,
    new_key,
    reverts,
    wallet,
)

from enclava.protocol.service_terms import (
    ServiceTerms,
    price_of,
    sign_voucher,
    voucher_for,
)

CLOSE_NOTICE = 3600
LIFETIME = 30 * 24 * 3600
INPUT_PRICE = 3 * 10**9
OUTPUT_PRICE = 7 * 10**9
PER_TOKEN_PRICE = 5 * 10**8
DEPOSIT = 10**17
NONE, LIVE, STOPPED = 0, 1, 2


@pytest.fixture(scope="module")
def service_market(deployed, gov):
    """ServiceMarket deployed over the module's registries, as scripts/deploy.py deploys it."""
    from scripts.deploy import deploy_service_market

    providers, resources, attestation, _ = deployed
    return deploy_service_market(gov, providers, resources, attestation, close_notice=CLOSE_NOTICE)


class Serving:
    """The standard market plus ServiceMarket, and the calls most tests make, each in one line."""

    def __init__(self, market, sm, provider, model_owner):
        self.m = market
        self.sm = sm
        self.provider = provider
        self.model_owner = model_owner

    def terms(self, **changes) -> ServiceTerms:
        """Terms that match the registries and prices now (nonce 0: the contract sets it)."""
        m = self.m
        owner, _, _, _, content_hash = m.resources.resourceTerms(m.model)
        inp, out = self.sm.tokenPrices(m.model)
        per_token, price = self.sm.servingPrice(m.tee_offer)
        fields = {
            "nonce": 0,
            "provider": self.provider.address,
            "tee_offer_id": m.tee_offer,
            "tee_type": SIMULATED,
            "model_id": m.model,
            "model_owner": str(owner),
            "model_hash": bytes(content_hash),
            "input_token_price": inp,
            "output_token_price": out,
            "provider_per_token": per_token,
            "provider_price": price,
            "ends_at": _now() + LIFETIME,
        }
        fields.update(changes)
        return ServiceTerms(**fields)

    def start(self, terms=None, sender=None) -> ServiceTerms:
        """Starts a service; returns the terms as stored (with the contract's nonce)."""
        terms = terms or self.terms()
        tx = self.sm.startService(terms.to_abi(), {"from": sender or self.provider})
        stored = ServiceTerms.from_abi(tuple(tx.events["ServiceStarted"]["terms"]))
        assert stored.service_id == _hex(tx.events["ServiceStarted"]["serviceId"])
        assert stored.service_id == _hex(tx.return_value)
        return stored

    def deposit(self, terms, customer, value=DEPOSIT):
        return self.sm.deposit(terms.service_id, {"from": customer, "value": value})

    def voucher(self, terms, customer, counts, signer=None, **changes):
        """A voucher for `customer`'s cumulative `counts` (input, output, ms) and its signature
        (by `signer`'s wallet, default the customer's)."""
        voucher = dataclasses.replace(voucher_for(terms, customer.address, *counts), **changes)
        signer = wallet(signer or customer)
        signer_voucher = dataclasses.replace(voucher, customer=signer.address)
        signature = sign_voucher(
            signer, signer_voucher, chain_id=CHAIN_ID, contract=self.sm.address
        )
        return voucher, signature

    def settle(self, terms, customer, counts, sender=None, **changes):
        voucher, signature = self.voucher(terms, customer, counts, **changes)
        return self.sm.settle(
            terms.to_abi(), voucher.to_abi(), signature, {"from": sender or customer}
        )

    def account(self, terms, customer):
        return self.sm.account(terms.service_id, customer)

    def elapse(self, seconds):
        chain.sleep(seconds)
        chain.mine()


def _hex(value) -> str:
    return "0x" + bytes(value).hex()


def _ints(values) -> tuple:
    """A struct or tuple brownie returned, as plain ints (its Wei values refuse to equal tuples;
    addresses become their number, the zero address 0)."""
    return tuple(int(v, 16) if isinstance(v, str) else int(v) for v in values)


def _now() -> int:
    """The latest block's time: the chain's own clock (the next block is no earlier)."""
    return chain[-1].timestamp


@pytest.fixture(scope="module")
def serving(listed, service_market, provider, model_owner):
    service_market.setTokenPrices(listed.model, INPUT_PRICE, OUTPUT_PRICE, {"from": model_owner})
    return Serving(listed, service_market, provider, model_owner)


@pytest.fixture
def service(serving):
    return serving.start()


@pytest.fixture
def funded(serving, service, customer):
    serving.deposit(service, customer)
    return service


# ------------------------------------------------------------------------------------ prices


def test_token_prices_are_set_by_the_model_owner(serving, service_market, model_owner):
    tx = service_market.setTokenPrices(serving.m.model, 11, 13, {"from": model_owner})
    assert _ints(service_market.tokenPrices(serving.m.model)) == (11, 13)
    assert tx.events["TokenPricesSet"]["modelId"] == serving.m.model


def test_token_prices_are_refused_to_anyone_but_the_model_owner(serving, service_market, stranger):
    with reverts("ServiceNotModelOwner"):
        service_market.setTokenPrices(serving.m.model, 1, 1, {"from": stranger})


def test_token_prices_are_refused_for_an_engine_or_an_unknown_resource(
    serving, service_market, model_owner
):
    with reverts("ServiceNotModel"):
        service_market.setTokenPrices(serving.m.engine, 1, 1, {"from": model_owner})
    with reverts("ServiceNotModel"):
        service_market.setTokenPrices(999, 1, 1, {"from": model_owner})


def test_token_prices_are_refused_for_a_retired_model(serving, service_market, model_owner):
    serving.m.resources.retireResource(serving.m.model, {"from": model_owner})
    with reverts("ServiceModelRetired"):
        service_market.setTokenPrices(serving.m.model, 1, 1, {"from": model_owner})


def test_serving_price_defaults_to_the_offer_price_per_second(serving, service_market):
    assert _ints(service_market.servingPrice(serving.m.tee_offer)) == (0, PRICE_PER_SECOND)


def test_serving_price_is_set_by_the_offer_provider_only(
    serving, service_market, provider, stranger
):
    tx = service_market.setServingPrice(serving.m.tee_offer, True, 77, {"from": provider})
    assert _ints(service_market.servingPrice(serving.m.tee_offer)) == (1, 77)
    assert tx.events["ServingPriceSet"]["perToken"] is True
    with reverts("ServiceNotOfferProvider"):
        service_market.setServingPrice(serving.m.tee_offer, False, 1, {"from": stranger})
    with reverts("ServiceNotOfferProvider"):
        service_market.setServingPrice(999, False, 1, {"from": stranger})


# ---------------------------------------------------------------------------------- services


def test_start_service_stores_the_terms_under_their_python_id(serving, service_market):
    terms = serving.start()
    assert terms.nonce == chain.height
    assert service_market.serviceIdOf(terms.to_abi()) == terms.service_id
    assert terms == dataclasses.replace(serving.terms(ends_at=terms.ends_at), nonce=terms.nonce)
    state = service_market.serviceState(terms.service_id)
    assert _ints(state) == (LIVE, terms.ends_at, 0, 0)


def test_identical_terms_started_twice_get_distinct_ids(serving):
    terms = serving.terms()
    assert serving.start(terms).service_id != serving.start(terms).service_id


def test_start_service_is_refused_to_anyone_but_the_offer_provider(
    serving, other_provider, stranger
):
    serving.m.register(other_provider)
    with reverts("ServiceNotOfferProvider"):
        serving.start(serving.terms(provider=other_provider.address), sender=other_provider)
    with reverts("ServiceNotProvider"):
        serving.start(serving.terms(), sender=stranger)


def test_start_service_is_refused_on_an_unavailable_offer(serving, provider):
    serving.m.providers.updateTeeOffer(
        serving.m.tee_offer, PRICE_PER_SECOND, 2, False, {"from": provider}
    )
    with reverts("ServiceTeeOfferUnavailable"):
        serving.start()


def test_start_service_is_refused_for_another_tee_type(serving):
    with reverts("ServiceTeeTypeMismatch"):
        serving.start(serving.terms(tee_type=TDX))


@pytest.mark.parametrize(
    "error, changes",
    [
        ("ServiceModelOwnerMismatch", {"model_owner": "0x" + "12" * 20}),
        ("ServiceModelHashMismatch", {"model_hash": "0x" + "34" * 32}),
        ("ServiceTokenPricesChanged", {"input_token_price": INPUT_PRICE + 1}),
        ("ServiceTokenPricesChanged", {"output_token_price": OUTPUT_PRICE - 1}),
        ("ServiceServingPriceChanged", {"provider_per_token": True}),
        ("ServiceServingPriceChanged", {"provider_price": PRICE_PER_SECOND + 1}),
    ],
)
def test_start_service_is_refused_when_a_term_differs_from_the_registries(serving, error, changes):
    with reverts(error):
        serving.start(serving.terms(**changes))


def test_start_service_is_refused_when_prices_changed_after_the_terms_were_read(
    serving, service_market, model_owner, provider
):
    terms = serving.terms()
    service_market.setTokenPrices(
        serving.m.model, INPUT_PRICE, OUTPUT_PRICE * 2, {"from": model_owner}
    )
    with reverts("ServiceTokenPricesChanged"):
        serving.start(terms)
    terms = serving.terms()
    service_market.setServingPrice(serving.m.tee_offer, False, PRICE_PER_SECOND, {"from": provider})
    serving.start(terms)  # set to what the default was: the same price, so the same terms
    service_market.setServingPrice(serving.m.tee_offer, True, PRICE_PER_SECOND, {"from": provider})
    with reverts("ServiceServingPriceChanged"):
        serving.start(terms)


def test_start_service_is_refused_for_a_resource_that_is_not_a_model(serving):
    with reverts("ServiceNotModel"):
        serving.start(serving.terms(model_id=serving.m.engine))


def test_start_service_is_refused_for_a_retired_model(serving, model_owner):
    terms = serving.terms()
    serving.m.resources.retireResource(serving.m.model, {"from": model_owner})
    with reverts("ServiceModelInactive"):
        serving.start(terms)


def test_start_service_is_refused_for_a_model_without_token_prices(serving, model_owner):
    unpriced = serving.m.list(model_owner, MODEL, b"other-model")
    with reverts("ServiceNoTokenPrices"):
        serving.start(
            serving.terms(
                model_id=unpriced, model_hash=serving.m.resources.resourceTerms(unpriced)[4]
            )
        )


def test_start_service_is_refused_once_its_end_has_passed(serving):
    with reverts("ServiceEndsInPast"):
        serving.start(serving.terms(ends_at=_now()))


def test_endpoint_is_published_by_the_provider_while_live(serving, service, provider, stranger):
    tx = serving.sm.setEndpoint(service.to_abi(), "https://svc.example:8443", {"from": provider})
    assert tx.events["ServiceEndpointSet"]["url"] == "https://svc.example:8443"
    assert _hex(tx.events["ServiceEndpointSet"]["serviceId"]) == service.service_id
    with reverts("ServiceNotProvider"):
        serving.sm.setEndpoint(service.to_abi(), "https://evil", {"from": stranger})


def test_stop_service_ends_it_for_good(serving, service, provider, stranger, customer):
    with reverts("ServiceNotProvider"):
        serving.sm.stopService(service.to_abi(), {"from": stranger})
    tx = serving.sm.stopService(service.to_abi(), {"from": provider})
    assert _ints(serving.sm.serviceState(service.service_id)) == (
        STOPPED,
        service.ends_at,
        tx.timestamp,
        0,
    )
    with reverts("ServiceNotLive"):
        serving.sm.stopService(service.to_abi(), {"from": provider})
    with reverts("ServiceNotLive"):
        serving.sm.setEndpoint(service.to_abi(), "https://x", {"from": provider})
    with reverts("ServiceNotLive"):
        serving.deposit(service, customer)


def test_bind_enclave_records_the_provider_enclave_and_rebinding_replaces_it(
    serving, service, provider
):
    first, second = new_key("service-enclave-1"), new_key("service-enclave-2")
    serving.m.certify(first, provider)
    serving.m.certify(second, provider)
    tx = serving.sm.bindEnclave(service.to_abi(), first.address, {"from": provider})
    assert tx.events["ServiceEnclaveBound"]["enclave"] == first.address
    assert serving.sm.serviceState(service.service_id)["enclave"] == first.address
    serving.sm.bindEnclave(service.to_abi(), second.address, {"from": provider})
    state = serving.sm.serviceState(service.service_id)
    assert (state["status"], state["enclave"]) == (LIVE, second.address)


def test_bind_enclave_refuses_an_unknown_revoked_or_foreign_enclave(
    serving, service, provider, other_provider, stranger, gov
):
    unknown, revoked, foreign = (new_key(f"service-enclave-{n}") for n in ("u", "r", "f"))
    with reverts("ServiceEnclaveInvalid"):
        serving.sm.bindEnclave(service.to_abi(), unknown.address, {"from": provider})
    serving.m.certify(revoked, provider)
    serving.m.attestation.revokeEnclave(revoked.address, {"from": gov})
    with reverts("ServiceEnclaveInvalid"):
        serving.sm.bindEnclave(service.to_abi(), revoked.address, {"from": provider})
    serving.m.register(other_provider)
    serving.m.certify(foreign, other_provider)
    with reverts("ServiceEnclaveProviderMismatch"):
        serving.sm.bindEnclave(service.to_abi(), foreign.address, {"from": provider})
    good = new_key("service-enclave-g")
    serving.m.certify(good, provider)
    with reverts("ServiceNotProvider"):
        serving.sm.bindEnclave(service.to_abi(), good.address, {"from": stranger})
    serving.sm.stopService(service.to_abi(), {"from": provider})
    with reverts("ServiceNotLive"):
        serving.sm.bindEnclave(service.to_abi(), good.address, {"from": provider})


def test_unknown_terms_are_not_a_service(serving, customer):
    terms = serving.terms(nonce=12345)
    assert _ints(serving.sm.serviceState(terms.service_id)) == (NONE, 0, 0, 0)
    with reverts("ServiceNotLive"):
        serving.deposit(terms, customer)
    with reverts("ServiceUnknown"):
        serving.settle(terms, customer, (1, 1, 1))
    with reverts("ServiceUnknown"):
        serving.sm.requestClose(terms.service_id, {"from": customer})


# ---------------------------------------------------------------------------------- deposits


def test_deposits_add_up_in_the_customer_account(serving, service, customer):
    serving.deposit(service, customer, 100)
    tx = serving.deposit(service, customer, 23)
    assert tx.events["Deposited"]["balance"] == 123
    account = serving.account(service, customer)
    assert account["balance"] == 123 and account["settledAmount"] == 0
    assert account["closableAt"] == service.ends_at + CLOSE_NOTICE
    assert serving.sm.balance() == 123


def test_deposit_of_nothing_or_after_the_end_is_refused(serving, service, customer):
    with reverts("ServiceZeroDeposit"):
        serving.deposit(service, customer, 0)
    serving.elapse(LIFETIME + 1)
    with reverts("ServiceNotLive"):
        serving.deposit(service, customer)


# -------------------------------------------------------------------------------- settlement


def test_settle_pays_counts_times_prices_exactly_per_second(
    serving, funded, customer, provider, model_owner, stranger
):
    tx = serving.settle(funded, customer, (1_000, 250, 3_333), sender=stranger)
    model_part = 1_000 * INPUT_PRICE + 250 * OUTPUT_PRICE
    provider_part = 3_333 * PRICE_PER_SECOND // 1000
    event = tx.events["VoucherSettled"]
    assert (event["modelCredit"], event["providerCredit"]) == (model_part, provider_part)
    assert serving.sm.creditOf(model_owner) == model_part
    assert serving.sm.creditOf(provider) == provider_part
    account = serving.account(funded, customer)
    assert account["balance"] == DEPOSIT - model_part - provider_part
    assert account["settledAmount"] == model_part + provider_part
    assert (account["inputTokens"], account["outputTokens"], account["computeMs"]) == (
        1_000,
        250,
        3_333,
    )


def test_settle_credits_only_the_growth_of_a_later_voucher(
    serving, funded, customer, provider, model_owner
):
    serving.settle(funded, customer, (10, 20, 999))
    serving.settle(funded, customer, (15, 40, 2_001))
    # the per-second part is floored on the cumulative figure, never per voucher
    assert serving.sm.creditOf(provider) == 2_001 * PRICE_PER_SECOND // 1000
    assert serving.sm.creditOf(model_owner) == 15 * INPUT_PRICE + 40 * OUTPUT_PRICE
    total = price_of(funded, 15, 40, 2_001)[2]
    assert serving.account(funded, customer)["balance"] == DEPOSIT - total


def test_settle_pays_the_provider_per_token_when_its_offer_says_so(
    serving, service_market, provider, customer, model_owner
):
    service_market.setServingPrice(serving.m.tee_offer, True, PER_TOKEN_PRICE, {"from": provider})
    terms = serving.start()
    assert terms.provider_per_token and terms.provider_price == PER_TOKEN_PRICE
    serving.deposit(terms, customer)
    serving.settle(terms, customer, (120, 30, 10**9))
    assert serving.sm.creditOf(provider) == 150 * PER_TOKEN_PRICE
    assert serving.sm.creditOf(model_owner) == 120 * INPUT_PRICE + 30 * OUTPUT_PRICE


def test_withdraw_pays_the_credits_once(serving, funded, customer, provider, model_owner):
    serving.settle(funded, customer, (100, 100, 1_000))
    for payee in (model_owner, provider):
        owed = serving.sm.creditOf(payee)
        before = payee.balance()
        serving.sm.withdraw({"from": payee})
        assert payee.balance() == before + owed and serving.sm.creditOf(payee) == 0
        with reverts("ServiceNothingToWithdraw"):
            serving.sm.withdraw({"from": payee})
    assert serving.sm.balance() == serving.account(funded, customer)["balance"]


def test_price_of_and_voucher_digest_match_python(serving, funded, customer):
    for counts in [(0, 0, 0), (1, 2, 3), (2**64 - 1, 2**64 - 1, 2**64 - 1), (7, 0, 1_999)]:
        assert _ints(serving.sm.priceOf(funded.to_abi(), *counts)) == price_of(funded, *counts)
    voucher = voucher_for(funded, customer.address, 5, 6, 7)
    assert _hex(serving.sm.voucherDigest(voucher.to_abi())) == _hex(
        digest("Voucher", serving.sm, voucher.to_message())
    )


def test_settle_refuses_a_voucher_signed_by_someone_else(serving, funded, customer, stranger):
    with reverts("ServiceInvalidSignature"):
        serving.settle(funded, customer, (1, 1, 1), signer=stranger)


def test_settle_refuses_an_amount_that_is_not_the_price_of_the_counts(serving, funded, customer):
    price = price_of(funded, 10, 10, 10)[2]
    with reverts("ServiceAmountMismatch"):
        serving.settle(funded, customer, (10, 10, 10), amount=price + 1)
    with reverts("ServiceAmountMismatch"):
        serving.settle(funded, customer, (10, 10, 10), amount=price - 1)


def test_settle_refuses_a_voucher_for_another_service(serving, funded, customer):
    other = serving.start()
    voucher, signature = serving.voucher(other, customer, (1, 1, 1))
    with reverts("ServiceVoucherServiceMismatch"):
        serving.sm.settle(funded.to_abi(), voucher.to_abi(), signature, {"from": customer})


def test_settle_refuses_a_stale_or_non_cumulative_voucher(serving, funded, customer):
    old, old_signature = serving.voucher(funded, customer, (10, 10, 10))
    serving.settle(funded, customer, (20, 20, 20))
    with reverts("ServiceVoucherStale"):
        serving.sm.settle(funded.to_abi(), old.to_abi(), old_signature, {"from": customer})
    with reverts("ServiceVoucherStale"):
        serving.settle(funded, customer, (20, 20, 20))
    with reverts("ServiceVoucherStale"):  # more in total, but fewer input tokens than settled
        serving.settle(funded, customer, (19, 1_000, 20))


def test_settle_refuses_more_than_the_balance(serving, service, customer):
    price = price_of(service, 1, 0, 0)[2]
    serving.deposit(service, customer, price * 10)
    with reverts("ServiceBalanceTooLow"):
        serving.settle(service, customer, (11, 0, 0))
    serving.settle(service, customer, (10, 0, 0))
    assert serving.account(service, customer)["balance"] == 0


def test_settlement_stays_open_during_the_close_notice_only(serving, funded, customer):
    tx = serving.sm.requestClose(funded.service_id, {"from": customer})
    closable = tx.timestamp + CLOSE_NOTICE
    assert tx.events["CloseRequested"]["closableAt"] == closable
    assert serving.account(funded, customer)["closableAt"] == closable
    with reverts("ServiceAccountClosing"):
        serving.deposit(funded, customer)
    with reverts("ServiceAccountClosing"):
        serving.sm.requestClose(funded.service_id, {"from": customer})
    serving.settle(funded, customer, (1, 1, 1))
    serving.elapse(CLOSE_NOTICE)
    with reverts("ServiceAccountClosed"):
        serving.settle(funded, customer, (2, 2, 2))


def test_settlement_after_a_stop_is_open_for_the_close_notice(serving, funded, customer, provider):
    serving.sm.stopService(funded.to_abi(), {"from": provider})
    serving.settle(funded, customer, (3, 3, 3))
    serving.elapse(CLOSE_NOTICE)
    with reverts("ServiceAccountClosed"):
        serving.settle(funded, customer, (4, 4, 4))


# ---------------------------------------------------------------------------- close, reclaim


def test_reclaim_pays_what_is_left_after_the_notice(serving, funded, customer):
    serving.settle(funded, customer, (100, 50, 5_000))
    left = DEPOSIT - price_of(funded, 100, 50, 5_000)[2]
    serving.sm.requestClose(funded.service_id, {"from": customer})
    with reverts("ServiceCloseNoticePending"):
        serving.sm.reclaim(funded.service_id, {"from": customer})
    serving.elapse(CLOSE_NOTICE)
    before = customer.balance()
    tx = serving.sm.reclaim(funded.service_id, {"from": customer})
    assert tx.events["Reclaimed"]["amount"] == left
    assert customer.balance() == before + left
    assert serving.account(funded, customer)["balance"] == 0
    with reverts("ServiceNothingToReclaim"):
        serving.sm.reclaim(funded.service_id, {"from": customer})
    with reverts("ServiceAccountClosing"):
        serving.deposit(funded, customer)
    with reverts("ServiceAccountClosed"):
        serving.settle(funded, customer, (101, 50, 5_000))


def test_reclaim_without_a_request_waits_for_the_end_plus_the_notice(serving, funded, customer):
    with reverts("ServiceCloseNoticePending"):
        serving.sm.reclaim(funded.service_id, {"from": customer})
    chain.sleep(funded.ends_at + CLOSE_NOTICE - _now() - 10)
    chain.mine()
    with reverts("ServiceCloseNoticePending"):
        serving.sm.reclaim(funded.service_id, {"from": customer})
    serving.elapse(20)
    before = customer.balance()
    serving.sm.reclaim(funded.service_id, {"from": customer})
    assert customer.balance() == before + DEPOSIT


def test_reclaim_after_a_stop_waits_for_the_stop_plus_the_notice(
    serving, funded, customer, provider
):
    tx = serving.sm.stopService(funded.to_abi(), {"from": provider})
    assert serving.account(funded, customer)["closableAt"] == tx.timestamp + CLOSE_NOTICE
    serving.elapse(CLOSE_NOTICE)
    serving.sm.reclaim(funded.service_id, {"from": customer})
    assert serving.sm.balance() == 0


# ---------------------------------------------------------------------------------------- gas


def _execution_gas(tx) -> int:
    """Gas used minus the intrinsic 21,000 and the calldata bytes (16 per non-zero, 4 per zero):
    what the contract's code spent, which bigger numbers in the calldata do not change."""
    data = bytes.fromhex(tx.input.removeprefix("0x"))
    calldata = sum(16 if b else 4 for b in data)
    return tx.gas_used - 21_000 - calldata


def test_settle_gas_does_not_depend_on_the_number_of_requests(serving, service, accounts):
    """One request's worth of counts and a thousand requests' cost the same gas to settle: the
    first voucher of an account, and a later one."""
    per_request = (180, 60, 450)
    warm, one, thousand = accounts[10], accounts[11], accounts[12]
    for who in (warm, one, thousand):
        serving.deposit(service, who, 10**19)
    serving.settle(service, warm, per_request)  # the payees' credit slots exist from here on
    first_one = serving.settle(service, one, per_request)
    first_thousand = serving.settle(service, thousand, tuple(1_000 * c for c in per_request))
    later_one = serving.settle(service, one, tuple(2 * c for c in per_request))
    later_thousand = serving.settle(service, thousand, tuple(2_000 * c for c in per_request))
    assert _execution_gas(first_one) == _execution_gas(first_thousand)
    assert _execution_gas(later_one) == _execution_gas(later_thousand)
    assert later_one.gas_used < first_one.gas_used < 120_000
    print(
        f"\nsettle gas: first {first_one.gas_used} / {first_thousand.gas_used}, "
        f"later {later_one.gas_used} / {later_thousand.gas_used}"
    )


# ------------------------------------------------------------------- money, stateful property

COUNT = st.integers(min_value=0, max_value=5_000)
PICK = st.integers(min_value=0, max_value=255)


class ServiceMoney(RuleBasedStateMachine):
    """Random deposits, settlements (honest, over-budget, stale, too late), close requests, time,
    reclaims, stops and withdrawals, each refusal predicted by name. After every step the contract
    holds exactly the sum of the account balances plus the credits, each balance and credit is what
    the rules say, and every payee's credit is the priced growth of what the customers signed.

    Time moves in steps that never land within a few seconds of a close or an end; an action
    whose outcome would hinge on the exact second of its block is skipped."""

    tally: collections.Counter = collections.Counter()  # what succeeded, over every example

    @classmethod
    def configure(cls, serving, customers, payees):
        cls.s = serving
        cls.customers = customers
        cls.payees = payees
        cls.tally.clear()

    def __init__(self):
        super().__init__()
        chain.revert()
        self.services = []  # [terms, stopped]
        self.accounts = {}  # (service_id, customer address) -> [balance, counts, closing]
        self.parties = []  # (terms, customer) of every funded account, in the order they began
        self.credits = {p.address: 0 for p in self.payees}

    @initialize()
    def start_two_services(self):
        """One priced per second of compute, one per token (the provider's two serving prices)."""
        sm, provider = self.s.sm, self.s.provider
        self.services.append([self.s.start(), False])
        sm.setServingPrice(self.s.m.tee_offer, True, PER_TOKEN_PRICE, {"from": provider})
        self.services.append([self.s.start(), False])

    @rule(i=PICK, c=PICK, value=st.integers(min_value=10**15, max_value=10**16))
    def deposit(self, i, c, value):
        terms, stopped = self._service(i)
        customer = self._customer(c)
        acct = self._account(terms, customer)
        when = self._when(terms.ends_at)
        if when is None:
            return
        if stopped or when == "after":
            with reverts("ServiceNotLive"):
                self.s.deposit(terms, customer, value)
        elif acct[2]:
            with reverts("ServiceAccountClosing"):
                self.s.deposit(terms, customer, value)
        else:
            self.s.deposit(terms, customer, value)
            acct[0] += value
            if (terms, customer) not in self.parties:
                self.parties.append((terms, customer))

    @precondition(lambda self: self.parties)
    @rule(k=PICK, more=st.tuples(COUNT, COUNT, COUNT))
    def settle(self, k, more):
        terms, customer, acct = self._party(k)
        counts = tuple(a + b for a, b in zip(acct[1], more, strict=True))
        owed = price_of(terms, *counts)[2] - price_of(terms, *acct[1])[2]
        when = self._when(self.s.account(terms, customer)["closableAt"])
        if when is None:
            return
        if when == "after":
            with reverts("ServiceAccountClosed"):
                self.s.settle(terms, customer, counts)
        elif owed == 0:
            with reverts("ServiceVoucherStale"):
                self.s.settle(terms, customer, counts)
        elif owed > acct[0]:
            with reverts("ServiceBalanceTooLow"):
                self.s.settle(terms, customer, counts)
        else:
            self.s.settle(terms, customer, counts)
            model_growth = price_of(terms, *counts)[0] - price_of(terms, *acct[1])[0]
            self.credits[terms.model_owner] += model_growth
            self.credits[terms.provider] += owed - model_growth
            acct[0] -= owed
            acct[1] = counts
            self.tally["settle"] += 1

    @precondition(lambda self: self.parties)
    @rule(k=PICK)
    def request_close(self, k):
        terms, customer, acct = self._party(k)
        if acct[2]:
            with reverts("ServiceAccountClosing"):
                self.s.sm.requestClose(terms.service_id, {"from": customer})
            return
        self.s.sm.requestClose(terms.service_id, {"from": customer})
        acct[2] = True

    @rule(seconds=st.sampled_from([60, CLOSE_NOTICE + 7, CLOSE_NOTICE + 7, LIFETIME // 2 + 11]))
    def time_passes(self, seconds):
        self.s.elapse(seconds)

    @precondition(lambda self: self.parties)
    @rule(k=PICK)
    def reclaim(self, k):
        terms, customer, acct = self._party(k)
        when = self._when(self.s.account(terms, customer)["closableAt"])
        if when is None:
            return
        if when == "before":
            with reverts("ServiceCloseNoticePending"):
                self.s.sm.reclaim(terms.service_id, {"from": customer})
        elif acct[0] == 0:
            with reverts("ServiceNothingToReclaim"):
                self.s.sm.reclaim(terms.service_id, {"from": customer})
        else:
            before = customer.balance()
            self.s.sm.reclaim(terms.service_id, {"from": customer})
            assert customer.balance() == before + acct[0]
            acct[0] = 0
            acct[2] = True
            self.tally["reclaim"] += 1

    @precondition(lambda self: any(not s[1] for s in self.services))
    @rule(i=PICK)
    def stop(self, i):
        live = [s for s in self.services if not s[1]]
        entry = live[i % len(live)]
        when = self._when(entry[0].ends_at)
        if when is None:
            return
        if when == "after":
            with reverts("ServiceNotLive"):
                self.s.sm.stopService(entry[0].to_abi(), {"from": self.s.provider})
            return
        self.s.sm.stopService(entry[0].to_abi(), {"from": self.s.provider})
        entry[1] = True

    @rule(p=PICK)
    def withdraw(self, p):
        payee = self.payees[p % len(self.payees)]
        owed = self.credits[payee.address]
        if owed == 0:
            with reverts("ServiceNothingToWithdraw"):
                self.s.sm.withdraw({"from": payee})
            return
        before = payee.balance()
        self.s.sm.withdraw({"from": payee})
        assert payee.balance() == before + owed
        self.credits[payee.address] = 0
        self.tally["withdraw"] += 1

    @invariant()
    def contract_holds_balances_plus_credits(self):
        sm = self.s.sm
        balances = 0
        for (service_id, address), (balance, counts, _) in self.accounts.items():
            account = sm.account(service_id, address)
            assert account["balance"] == balance
            assert (account["inputTokens"], account["outputTokens"], account["computeMs"]) == counts
            balances += balance
        credits = sum(sm.creditOf(p) for p in self.payees)
        assert [sm.creditOf(p) for p in self.payees] == [
            self.credits[p.address] for p in self.payees
        ]
        assert sm.balance() == balances + credits

    def _service(self, i):
        return self.services[i % len(self.services)]

    def _customer(self, c):
        return self.customers[c % len(self.customers)]

    @staticmethod
    def _when(moment):
        """ "before" or "after" `moment` for the next block, or None within 5 s of it."""
        now = _now()
        if now + 5 < moment:
            return "before"
        if now > moment + 5:
            return "after"
        return None

    def _account(self, terms, customer):
        return self.accounts.setdefault((terms.service_id, customer.address), [0, (0, 0, 0), False])

    def _party(self, k):
        terms, customer = self.parties[k % len(self.parties)]
        return terms, customer, self._account(terms, customer)


def test_money_is_conserved_across_random_service_histories(
    serving, accounts, provider, model_owner
):
    ServiceMoney.configure(
        serving, [accounts[4], accounts[8], accounts[9]], [model_owner, provider]
    )
    chain.snapshot()
    run_state_machine_as_test(
        ServiceMoney,
        settings=settings(
            max_examples=20,
            stateful_step_count=25,
            verbosity=Verbosity.quiet,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        ),
    )
    print(f"\nservice money histories: {dict(ServiceMoney.tally)}")
    # the histories did exercise the paths that move money, not only refusals
    assert min(ServiceMoney.tally[k] for k in ("settle", "reclaim", "withdraw")) > 0, (
        ServiceMoney.tally
    )
