"""The provider's bill of a completed order: billed seconds = finishedAt - startedAt capped by the
order's max duration, times the price per second; the line says it, and a chain that credited
something else shows."""

from __future__ import annotations

from dataclasses import replace

from enclava.protocol.ids import ResourceId, TeeOfferId
from enclava.protocol.order import IntegrityReport, OrderTerms, Payment
from provider_node.earnings import billing

PROVIDER = "0x" + "22" * 20
OWNER = "0x" + "33" * 20
ORDER = "0x" + "ab" * 32

TERMS = OrderTerms(
    nonce=1,
    customer="0x" + "44" * 20,
    provider=PROVIDER,
    tee_offer_id=TeeOfferId(1),
    tee_type=3,
    price_per_second=1_000,
    max_duration=10,
    engine_hash=b"\x01" * 32,
    inputs_hash=b"\x02" * 32,
    recipient_key_hash=b"\x03" * 32,
    payments=(Payment(ResourceId(7), OWNER, 5_000),),
)


def report(started_at: int, finished_at: int) -> IntegrityReport:
    return IntegrityReport(
        order_id=bytes.fromhex(ORDER[2:]),
        engine_hash=b"\x01" * 32,
        inputs_hash=b"\x02" * 32,
        output_hash=b"\x04" * 32,
        output_cid="bafy",
        tee_type=3,
        measurement=b"\x05" * 32,
        enclave="0x" + "55" * 20,
        started_at=started_at,
        finished_at=finished_at,
    )


def test_billed_seconds_are_the_reports_run_time_times_the_price():
    bill = billing(ORDER, TERMS, report(100, 104))
    assert (bill.ran_s, bill.billed_s, bill.earned_wei) == (4, 4, 4_000)
    line = bill.line()
    assert line.startswith(
        f"order {ORDER} completed: billed 4 s x 1,000 wei/s = 4,000 wei to provider "
    )
    assert f"owners {OWNER} 5,000 wei (resource 7)" in line
    assert "BUT" not in line and bill.credited_to_provider is None


def test_billed_seconds_are_capped_by_the_max_duration():
    bill = billing(ORDER, TERMS, report(100, 160))
    assert (bill.ran_s, bill.billed_s, bill.earned_wei) == (60, 10, 10_000)


def test_a_run_shorter_than_a_second_bills_zero_and_says_so():
    bill = billing(ORDER, TERMS, report(100, 100))
    assert bill.earned_wei == 0 and "billed 0 s" in bill.line()


def test_a_chain_credit_other_than_the_bill_is_shown():
    bill = billing(ORDER, TERMS, report(100, 104))
    checked = replace(bill, paid={bill.provider: 4_000, OWNER: 5_000})
    assert checked.credited_to_provider == 4_000 and "BUT" not in checked.line()
    odd = replace(bill, paid={OWNER: 5_000})
    assert odd.credited_to_provider == 0
    assert "BUT the chain credited the provider 0 wei" in odd.line()
    assert odd.fields()["payouts"] == {OWNER: "5000"}
