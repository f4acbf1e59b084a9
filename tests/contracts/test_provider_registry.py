"""ProviderRegistry: stakes, unbonding, TEE offers, and the marketplace-only hooks."""

import pytest
from support import (
    MIN_STAKE,
    NONE,
    PRICE_PER_SECOND,
    SIMULATED,
    SLASH_BPS,
    TDX,
    UNBONDING_DELAY,
    reverts,
)


@pytest.fixture
def registered(trusted, provider):
    trusted.register(provider)
    return trusted


def test_constructor_rejects_zero_min_stake(ProviderRegistry, gov):
    with reverts("ProviderZeroValue"):
        ProviderRegistry.deploy(0, UNBONDING_DELAY, SLASH_BPS, gov, {"from": gov})


def test_constructor_rejects_slash_above_100_percent(ProviderRegistry, gov):
    with reverts("ProviderInvalidSlashBps"):
        ProviderRegistry.deploy(MIN_STAKE, UNBONDING_DELAY, 10_001, gov, {"from": gov})


def test_register_records_stake_and_holds_it(trusted, providers, provider):
    tx = trusted.register(provider, MIN_STAKE * 2)
    assert tx.events["ProviderRegistered"]["stake"] == MIN_STAKE * 2
    record = providers.getProvider(provider)
    assert record["stake"] == MIN_STAKE * 2 and record["registered"] and record["unbondingAt"] == 0
    assert providers.balance() == MIN_STAKE * 2


def test_register_below_minimum_stake_reverts(trusted, provider):
    with reverts("ProviderStakeTooLow"):
        trusted.register(provider, MIN_STAKE - 1)


def test_register_twice_reverts(registered, provider):
    with reverts("ProviderAlreadyRegistered"):
        registered.register(provider)


def test_add_stake_increases_stake(registered, providers, provider):
    tx = providers.addStake({"from": provider, "value": 5})
    assert tx.events["StakeAdded"]["stake"] == MIN_STAKE + 5
    assert providers.getProvider(provider)["stake"] == MIN_STAKE + 5


def test_add_stake_of_unregistered_account_reverts(trusted, providers, stranger):
    with reverts("ProviderNotRegistered"):
        providers.addStake({"from": stranger, "value": 5})


def test_add_zero_stake_reverts(registered, providers, provider):
    with reverts("ProviderZeroValue"):
        providers.addStake({"from": provider, "value": 0})


def test_request_unbonding_sets_the_withdrawal_time(registered, providers, provider, chain):
    tx = providers.requestUnbonding({"from": provider})
    available_at = tx.events["UnbondingRequested"]["availableAt"]
    assert available_at == tx.timestamp + UNBONDING_DELAY
    assert providers.getProvider(provider)["unbondingAt"] == available_at


def test_request_unbonding_twice_reverts(registered, providers, provider):
    providers.requestUnbonding({"from": provider})
    with reverts("ProviderIsUnbonding"):
        providers.requestUnbonding({"from": provider})


def test_withdraw_stake_after_the_delay_returns_the_stake(registered, providers, provider, chain):
    providers.requestUnbonding({"from": provider})
    chain.sleep(UNBONDING_DELAY + 1)
    before = provider.balance()
    tx = providers.withdrawStake({"from": provider})
    assert tx.events["StakeWithdrawn"]["amount"] == MIN_STAKE
    assert provider.balance() == before + MIN_STAKE
    assert not providers.getProvider(provider)["registered"]
    assert providers.balance() == 0


def test_withdraw_stake_before_the_delay_reverts(registered, providers, provider):
    providers.requestUnbonding({"from": provider})
    with reverts("ProviderUnbondingPending"):
        providers.withdrawStake({"from": provider})


def test_withdraw_stake_without_unbonding_reverts(registered, providers, provider):
    with reverts("ProviderNotUnbonding"):
        providers.withdrawStake({"from": provider})


def test_publish_tee_offer_records_the_tee_offer(registered, providers, provider):
    tx = providers.publishTeeOffer(
        TDX, b"H100".ljust(32, b"\0"), PRICE_PER_SECOND, 3, {"from": provider}
    )
    tee_offer_id = tx.return_value
    assert tee_offer_id == 1 and providers.teeOfferCount() == 1
    event = tx.events["TeeOfferPublished"]
    assert event["provider"] == provider and event["teeType"] == TDX and event["slots"] == 3
    tee_offer = providers.getTeeOffer(tee_offer_id)
    assert tee_offer["active"] and not tee_offer["retired"] and tee_offer["used"] == 0
    assert tee_offer["pricePerSecond"] == PRICE_PER_SECOND


def test_publish_tee_offer_of_unregistered_account_reverts(trusted, stranger):
    with reverts("ProviderNotRegistered"):
        trusted.publish(stranger)


def test_publish_tee_offer_while_unbonding_reverts(registered, providers, provider):
    providers.requestUnbonding({"from": provider})
    with reverts("ProviderIsUnbonding"):
        registered.publish(provider)


def test_publish_tee_offer_without_tee_type_reverts(registered, provider):
    with reverts("ProviderInvalidTeeType"):
        registered.publish(provider, tee=NONE)


def test_publish_tee_offer_without_slots_reverts(registered, provider):
    with reverts("ProviderZeroSlots"):
        registered.publish(provider, slots=0)


def test_update_tee_offer_changes_price_slots_and_flag(registered, providers, provider):
    tee_offer_id = registered.publish(provider)
    tx = providers.updateTeeOffer(tee_offer_id, 7, 5, False, {"from": provider})
    assert tx.events["TeeOfferUpdated"]["active"] is False
    tee_offer = providers.getTeeOffer(tee_offer_id)
    assert (tee_offer["pricePerSecond"], tee_offer["slots"], tee_offer["active"]) == (7, 5, False)


def test_update_tee_offer_of_another_provider_reverts(registered, providers, provider, stranger):
    tee_offer_id = registered.publish(provider)
    with reverts("ProviderNotTeeOfferOwner"):
        providers.updateTeeOffer(tee_offer_id, 7, 5, True, {"from": stranger})


def test_update_unknown_tee_offer_reverts(registered, providers, provider):
    with reverts("ProviderUnknownTeeOffer"):
        providers.updateTeeOffer(99, 7, 5, True, {"from": provider})


def test_update_tee_offer_to_zero_slots_reverts(registered, providers, provider):
    tee_offer_id = registered.publish(provider)
    with reverts("ProviderZeroSlots"):
        providers.updateTeeOffer(tee_offer_id, 7, 0, True, {"from": provider})


def test_retire_tee_offer_makes_it_final(registered, providers, provider):
    tee_offer_id = registered.publish(provider)
    tx = providers.retireTeeOffer(tee_offer_id, {"from": provider})
    assert tx.events["TeeOfferRetired"]["teeOfferId"] == tee_offer_id
    tee_offer = providers.getTeeOffer(tee_offer_id)
    assert tee_offer["retired"] and not tee_offer["active"]
    with reverts("ProviderTeeOfferRetired"):
        providers.updateTeeOffer(tee_offer_id, 7, 5, True, {"from": provider})


def test_get_unknown_tee_offer_reverts(providers):
    with reverts("ProviderUnknownTeeOffer"):
        providers.getTeeOffer(42)


def test_tee_offer_terms_report_availability(registered, providers, provider):
    tee_offer_id = registered.publish(provider, tee=SIMULATED)
    owner, tee, price, available = providers.teeOfferTerms(tee_offer_id)
    assert (owner, tee, int(price), available) == (provider, SIMULATED, PRICE_PER_SECOND, True)
    providers.requestUnbonding({"from": provider})
    assert providers.teeOfferTerms(tee_offer_id)[3] is False


def test_marketplace_is_fixed_at_construction(ProviderRegistry, gov, stranger):
    with reverts("ProviderZeroAddress"):
        ProviderRegistry.deploy(
            MIN_STAKE, UNBONDING_DELAY, SLASH_BPS, "0x" + "00" * 20, {"from": gov}
        )
    registry = ProviderRegistry.deploy(
        MIN_STAKE, UNBONDING_DELAY, SLASH_BPS, stranger, {"from": gov}
    )
    assert registry.marketplace() == stranger


def test_marketplace_hooks_reject_other_callers(registered, providers, provider, stranger):
    with reverts("ProviderUnauthorizedMarketplace"):
        providers.reserveSlot(1, provider, {"from": stranger})
    with reverts("ProviderUnauthorizedMarketplace"):
        providers.releaseSlot(1, {"from": stranger})
    with reverts("ProviderUnauthorizedMarketplace"):
        providers.slash(provider, b"\x01" * 32, stranger, {"from": stranger})


def test_configuration_getters(providers, marketplace):
    assert providers.minStake() == MIN_STAKE
    assert providers.unbondingDelay() == UNBONDING_DELAY
    assert providers.slashBps() == SLASH_BPS
    assert providers.marketplace() == marketplace
