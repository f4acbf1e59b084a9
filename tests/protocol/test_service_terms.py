"""Service terms and vouchers: the id is keccak256 of the ABI words the contract hashes, the
price is the spec's formula (floored per-second part), JSON and ABI round-trip, and a voucher is
signed and recovered through the one EIP-712 builder. (The contract tests check ServiceMarket's
serviceIdOf, priceOf and voucherDigest against these functions.)"""

from __future__ import annotations

import dataclasses

import pytest
from eth_account import Account
from eth_utils.crypto import keccak

from enclava.protocol.service_terms import (
    ServiceTerms,
    ServiceTermsInvalid,
    Voucher,
    VoucherInvalid,
    price_of,
    recover_voucher_signer,
    service_id_of,
    sign_voucher,
    voucher_for,
    voucher_typed_data,
)

MARKET = "0x" + "34" * 20
CHAIN_ID = 31337


def _terms(**changes: object) -> ServiceTerms:
    fields = {
        "nonce": 17,
        "provider": "0x" + "aa" * 20,
        "tee_offer_id": 3,
        "tee_type": 3,
        "model_id": 2,
        "model_owner": "0x" + "bb" * 20,
        "model_hash": "0x" + "CD" * 32,
        "input_token_price": 5,
        "output_token_price": 11,
        "provider_per_token": False,
        "provider_price": 1_234,
        "ends_at": 2_000_000_000,
    }
    fields.update(changes)
    return ServiceTerms(**fields)  # type: ignore[arg-type]


def _word(value: int | bytes | str) -> bytes:
    if isinstance(value, str):
        return bytes(12) + bytes.fromhex(value[2:])
    if isinstance(value, bytes):
        return value
    return value.to_bytes(32, "big")


def test_service_id_is_keccak_of_the_twelve_abi_words():
    terms = _terms()
    words = [
        17,
        terms.provider,
        3,
        3,
        2,
        terms.model_owner,
        bytes.fromhex("cd" * 32),
        5,
        11,
        0,
        1_234,
        2_000_000_000,
    ]
    expected = "0x" + bytes(keccak(b"".join(_word(w) for w in words))).hex()
    assert service_id_of(terms) == expected == terms.service_id


def test_every_field_changes_the_service_id():
    base = _terms()
    changed = {
        "nonce": 18,
        "provider": "0x" + "ab" * 20,
        "tee_offer_id": 4,
        "tee_type": 1,
        "model_id": 9,
        "model_owner": "0x" + "bc" * 20,
        "model_hash": "0x" + "ce" * 32,
        "input_token_price": 6,
        "output_token_price": 12,
        "provider_per_token": True,
        "provider_price": 1_235,
        "ends_at": 2_000_000_001,
    }
    assert set(changed) == {f.name for f in dataclasses.fields(ServiceTerms)}
    ids = {service_id_of(_terms(**{name: value})) for name, value in changed.items()}
    assert len(ids) == len(changed) and service_id_of(base) not in ids


def test_terms_are_normalized_checksummed_and_lowercase():
    terms = _terms()
    assert terms.provider == "0xaAaAaAaaAaAaAaaAaAAAAAAAAaaaAaAaAaaAaaAa"
    assert terms.model_hash == "0x" + "cd" * 32
    assert _terms(model_hash=bytes.fromhex("cd" * 32)) == terms


def test_price_per_second_is_floored_and_summed():
    terms = _terms()
    model, provider, amount = price_of(terms, 100, 40, 2_500)
    assert model == 100 * 5 + 40 * 11
    assert provider == 2_500 * 1_234 // 1000 == 3_085
    assert amount == model + provider
    assert price_of(terms, 0, 0, 999) == (0, 1_232, 1_232)  # 1232.766 floored


def test_price_per_token_counts_input_and_output():
    terms = _terms(provider_per_token=True, provider_price=7)
    assert price_of(terms, 100, 40, 99_999) == (940, 140 * 7, 940 + 980)
    assert terms.price(0, 0, 0) == (0, 0, 0)


def test_price_refuses_counts_beyond_uint64():
    with pytest.raises(VoucherInvalid):
        price_of(_terms(), 2**64, 0, 0)
    with pytest.raises(VoucherInvalid):
        price_of(_terms(), -1, 0, 0)


@pytest.mark.parametrize(
    "changes",
    [
        {"provider": "0x1234"},
        {"model_hash": "0x" + "cd" * 31},
        {"model_hash": "0xzz"},
        {"input_token_price": 2**96},
        {"ends_at": 2**64},
        {"nonce": -1},
        {"tee_offer_id": "3"},
        {"provider_per_token": 1},
    ],
)
def test_terms_out_of_their_solidity_types_are_refused(changes):
    with pytest.raises(ServiceTermsInvalid):
        _terms(**changes)


def test_terms_round_trip_through_json_and_abi():
    terms = _terms(provider_per_token=True)
    assert ServiceTerms.from_json(terms.to_json()) == terms
    assert ServiceTerms.from_abi(terms.to_abi()) == terms
    event_struct = dict(
        zip(
            (
                "nonce",
                "provider",
                "teeOfferId",
                "teeType",
                "modelId",
                "modelOwner",
                "modelHash",
                "inputTokenPrice",
                "outputTokenPrice",
                "providerPerToken",
                "providerPrice",
                "endsAt",
            ),
            terms.to_abi(),
            strict=True,
        )
    )
    assert ServiceTerms.from_abi(event_struct) == terms


def test_terms_json_with_missing_or_unknown_keys_is_refused():
    data = _terms().to_json()
    with pytest.raises(ServiceTermsInvalid):
        ServiceTerms.from_json({**data, "extra": 1})
    data.pop("ends_at")
    with pytest.raises(ServiceTermsInvalid, match="ends_at"):
        ServiceTerms.from_json(data)
    with pytest.raises(ServiceTermsInvalid):
        ServiceTerms.from_abi(_terms().to_abi()[:11])


def test_voucher_is_priced_by_the_terms_and_round_trips():
    terms = _terms()
    customer = Account.create()
    voucher = voucher_for(terms, customer.address, 100, 40, 2_500)
    assert voucher.service_id == terms.service_id
    assert voucher.amount == price_of(terms, 100, 40, 2_500)[2]
    assert Voucher.from_json(voucher.to_json()) == voucher
    assert voucher.to_abi() == (
        bytes.fromhex(terms.service_id[2:]),
        customer.address,
        100,
        40,
        2_500,
        voucher.amount,
    )


def test_voucher_signature_recovers_the_customer_under_the_service_market_domain():
    customer = Account.create()
    voucher = voucher_for(_terms(), customer.address, 1, 2, 3)
    typed = voucher_typed_data(voucher, chain_id=CHAIN_ID, contract=MARKET)
    assert typed["domain"]["name"] == "Enclava ServiceMarket"
    assert typed["primaryType"] == "Voucher"
    signature = sign_voucher(customer, voucher, chain_id=CHAIN_ID, contract=MARKET)
    assert recover_voucher_signer(voucher, signature, chain_id=CHAIN_ID, contract=MARKET) == (
        customer.address
    )
    other_chain = recover_voucher_signer(voucher, signature, chain_id=1, contract=MARKET)
    assert other_chain != customer.address
    bigger = dataclasses.replace(voucher, amount=voucher.amount + 1)
    assert recover_voucher_signer(bigger, signature, chain_id=CHAIN_ID, contract=MARKET) != (
        customer.address
    )


def test_voucher_is_signed_only_by_its_customer_and_garbage_does_not_recover():
    customer, other = Account.create(), Account.create()
    voucher = voucher_for(_terms(), customer.address, 1, 2, 3)
    with pytest.raises(VoucherInvalid):
        sign_voucher(other, voucher, chain_id=CHAIN_ID, contract=MARKET)
    with pytest.raises(VoucherInvalid):
        recover_voucher_signer(voucher, "0x1234", chain_id=CHAIN_ID, contract=MARKET)
    with pytest.raises(VoucherInvalid):
        recover_voucher_signer(voucher, "0xnothex", chain_id=CHAIN_ID, contract=MARKET)
