"""The service enclave's ledger: vouchers it keeps or refuses, and the credit rule."""

from __future__ import annotations

import threading

import pytest
from eth_account import Account

from enclava.protocol.service_terms import ServiceTerms, Voucher, sign_voucher
from enclava.protocol.serving import Cumulative, SignedVoucher, sign_voucher_envelope
from trusted_loader.serving import Ledger, PaymentRequired, VoucherRefused

CHAIN_ID, MARKET = 31337, "0x" + "5a" * 20


def _terms(**overrides: object) -> ServiceTerms:
    fields: dict[str, object] = dict(
        nonce=7,
        provider="0x" + "11" * 20,
        tee_offer_id=1,
        tee_type=0,
        model_id=2,
        model_owner="0x" + "22" * 20,
        model_hash="0x" + "ab" * 32,
        input_token_price=3,
        output_token_price=5,
        provider_per_token=False,
        provider_price=1000,
        ends_at=4_000_000_000,
    )
    fields.update(overrides)
    return ServiceTerms(**fields)  # type: ignore[arg-type]


@pytest.fixture
def terms() -> ServiceTerms:
    return _terms()


@pytest.fixture
def ledger(terms: ServiceTerms) -> Ledger:
    return Ledger(terms, chain_id=CHAIN_ID, market=MARKET)


def _voucher(account, terms, counts: Cumulative) -> SignedVoucher:
    return sign_voucher_envelope(account, terms, counts, chain_id=CHAIN_ID, contract=MARKET)


def _serve(ledger: Ledger, customer: str, tokens=(10, 4, 50)):
    ticket = ledger.admit(customer)
    return ledger.complete(
        ticket, input_tokens=tokens[0], output_tokens=tokens[1], compute_ms=tokens[2]
    )


def test_first_response_is_served_on_credit_and_the_second_needs_a_voucher(ledger, terms):
    customer = Account.create()
    done = _serve(ledger, customer.address)
    assert (done.sequence, done.cumulative) == (1, Cumulative(10, 4, 50))
    with pytest.raises(PaymentRequired) as caught:
        ledger.admit(customer.address)
    assert caught.value.http_status == 402
    assert "input_tokens 10, output_tokens 4, compute_ms 50" in caught.value.hint
    ledger.accept_voucher(customer.address, _voucher(customer, terms, done.cumulative))
    assert _serve(ledger, customer.address).sequence == 2


def test_a_request_in_flight_counts_against_the_credit(ledger):
    customer = Account.create().address
    ticket = ledger.admit(customer)
    with pytest.raises(PaymentRequired):
        ledger.admit(customer)
    ledger.abort(ticket)  # no answer: nothing counted, the credit is back
    assert ledger.sequence(customer) == 0 and ledger.admit(customer)


def test_free_requests_pass_and_never_use_the_credit(ledger):
    customer = Account.create().address
    paid = ledger.admit(customer)
    free = ledger.admit(customer, free=True)
    assert ledger.complete(free, input_tokens=0, output_tokens=0, compute_ms=0).sequence == 1
    ledger.complete(paid, input_tokens=1, output_tokens=1, compute_ms=1)
    with pytest.raises(PaymentRequired):
        ledger.admit(customer)


def test_a_larger_credit_admits_that_many_unvouched_responses(terms):
    ledger = Ledger(terms, chain_id=CHAIN_ID, market=MARKET, credit_responses=3)
    customer = Account.create().address
    tickets = [ledger.admit(customer) for _ in range(3)]
    with pytest.raises(PaymentRequired):
        ledger.admit(customer)
    assert len(tickets) == 3


def test_a_voucher_for_more_than_the_receipts_showed_is_refused(ledger, terms):
    customer = Account.create()
    done = _serve(ledger, customer.address)
    more = Cumulative(done.cumulative.input_tokens + 1, 4, 50)
    with pytest.raises(VoucherRefused, match="more usage"):
        ledger.accept_voucher(customer.address, _voucher(customer, terms, more))
    assert ledger.latest_vouchers() == []


def test_a_voucher_signed_by_someone_else_is_refused(ledger, terms):
    customer, thief = Account.create(), Account.create()
    done = _serve(ledger, customer.address)
    voucher = _voucher(customer, terms, done.cumulative).voucher
    forged = SignedVoucher(
        voucher,
        _voucher(thief, terms, done.cumulative).signature,  # thief's signature over its own
    )
    with pytest.raises(VoucherRefused, match="not signed"):
        ledger.accept_voucher(customer.address, forged)


def test_a_voucher_of_another_customer_or_service_or_price_is_refused(ledger, terms):
    customer, other = Account.create(), Account.create()
    done = _serve(ledger, customer.address)
    with pytest.raises(VoucherRefused, match="another customer"):
        ledger.accept_voucher(customer.address, _voucher(other, terms, done.cumulative))
    elsewhere = _terms(nonce=8)
    with pytest.raises(VoucherRefused, match="another service"):
        ledger.accept_voucher(customer.address, _voucher(customer, elsewhere, done.cumulative))
    cheap = Voucher(terms.service_id, customer.address, 10, 4, 50, amount=1)
    signature = sign_voucher(customer, cheap, chain_id=CHAIN_ID, contract=MARKET)
    with pytest.raises(VoucherRefused, match="amount"):
        ledger.accept_voucher(customer.address, SignedVoucher(cheap, signature))


def test_the_newest_voucher_is_kept_and_an_older_one_changes_nothing(ledger, terms):
    customer = Account.create()
    first = _serve(ledger, customer.address)
    old = _voucher(customer, terms, first.cumulative)
    ledger.accept_voucher(customer.address, old)
    second = _serve(ledger, customer.address)
    new = _voucher(customer, terms, second.cumulative)
    ledger.accept_voucher(customer.address, new)
    ledger.accept_voucher(customer.address, old)
    assert ledger.latest_vouchers() == [new]
    assert new.voucher.amount == terms.price(20, 8, 100)[2]


def test_customers_accounts_are_independent(ledger, terms):
    alice, bob = Account.create(), Account.create()
    _serve(ledger, alice.address, (100, 100, 100))
    assert ledger.admit(bob.address)  # alice's debt is not bob's
    assert ledger.sequence(bob.address) == 0 and ledger.cumulative(bob.address) == Cumulative()
    with pytest.raises(VoucherRefused):  # alice's voucher is no use on bob's account
        ledger.accept_voucher(bob.address, _voucher(alice, terms, Cumulative(100, 100, 100)))
    assert ledger.cumulative(alice.address) == Cumulative(100, 100, 100)


def test_a_first_voucher_carries_the_accounts_earlier_usage_over(ledger, terms):
    customer = Account.create()
    earlier = Cumulative(40, 20, 900)  # counted by an earlier enclave of this service
    ledger.accept_voucher(customer.address, _voucher(customer, terms, earlier))
    done = _serve(ledger, customer.address, (1, 2, 3))
    assert (done.sequence, done.cumulative) == (1, Cumulative(41, 22, 903))
    with pytest.raises(VoucherRefused, match="more usage"):  # from now on, receipts bound it
        ledger.accept_voucher(customer.address, _voucher(customer, terms, Cumulative(99, 22, 903)))


def test_concurrent_admissions_give_out_exactly_the_credit(terms):
    ledger = Ledger(terms, chain_id=CHAIN_ID, market=MARKET, credit_responses=5)
    customer = Account.create().address
    admitted, refused = [], []
    barrier = threading.Barrier(20)

    def ask() -> None:
        barrier.wait()
        try:
            admitted.append(ledger.admit(customer))
        except PaymentRequired:
            refused.append(1)

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(admitted), len(refused)) == (5, 15)
    sequences = [
        ledger.complete(t, input_tokens=1, output_tokens=1, compute_ms=1).sequence for t in admitted
    ]
    assert sequences == [1, 2, 3, 4, 5] and ledger.cumulative(customer) == Cumulative(5, 5, 5)
