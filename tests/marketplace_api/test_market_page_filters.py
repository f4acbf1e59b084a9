"""The pages' filters (ETH amounts, UTC dates, report verdicts) and an order's money as the pages
and the API show it, from rows written the way the indexer writes them (in-memory SQLite)."""

from __future__ import annotations

from jinja2 import Environment

from enclava.protocol.order import OrderStatus
from marketplace_api import db
from marketplace_api.page_filters import eth, eth_text, install, report_verdict, utc, utc_text
from marketplace_api.queries import failure_reason, order_command, order_view

CUSTOMER, PROVIDER, OWNER, WEIGHTS_OWNER = (f"0x{c * 40}" for c in "abcd")


def test_eth_text_is_exact_without_trailing_zeros():
    assert eth_text(10**15) == "0.001 ETH"
    assert eth_text("42") == "0.000000000000000042 ETH"
    assert eth_text(0) == "0 ETH"
    assert eth_text(3 * 10**18) == "3 ETH"
    assert eth_text(123456789012345678901) == "123.456789012345678901 ETH"


def test_eth_puts_the_full_wei_in_the_title():
    assert str(eth("1000000000000000")) == (
        '<span class="eth" title="1000000000000000 wei">0.001 ETH</span>'
    )


def test_eth_of_what_is_not_an_amount_is_a_dash():
    assert str(eth(None)) == "—" and eth_text("lots") == "—" and eth_text(True) == "—"


def test_utc_is_an_iso_date_with_the_unix_seconds_on_hover():
    assert utc_text(1764590400) == "2025-12-01T12:00:00Z"
    assert utc_text(1764590400.9) == "2025-12-01T12:00:00Z"
    assert str(utc(1764590400)) == (
        '<time datetime="2025-12-01T12:00:00Z" title="1764590400 (Unix seconds)">'
        "2025-12-01T12:00:00Z</time>"
    )
    assert str(utc(None)) == "—" and utc_text("soon") == "—"


def test_filters_escape_and_render_in_a_template():
    env = Environment(autoescape=True)
    install(env)
    page = env.from_string("{{ p|eth }} {{ t|utc }}").render(p=5, t=0)
    assert 'title="5 wei"' in page and 'datetime="1970-01-01T00:00:00Z"' in page


def _checklist(statuses, tee="TDX", valid=True):
    items = [
        {"name": f"c{i}", "title": f"Check {i}", "status": s, "reason": f"why {i}"}
        for i, s in enumerate(statuses)
    ]
    return {"valid": valid, "items": items, "report": {"teeType": tee}}


def test_verdict_is_green_only_when_every_check_passed_on_a_real_tee():
    verdict = report_verdict(_checklist(["ok", "ok"]))
    assert verdict["text"] == "verified" and verdict["css"] == "verified"


def test_verdict_warns_about_a_simulated_tee():
    verdict = report_verdict(_checklist(["ok"], tee="SIMULATED"))
    assert verdict["text"] == "verified (simulated TEE)" and verdict["css"] == "verified-warning"


def test_verdict_warns_and_lists_skipped_checks():
    verdict = report_verdict(_checklist(["ok", "skipped", "skipped"]))
    assert verdict["text"] == "verified, 2 checks skipped" and verdict["css"] == "verified-warning"
    assert [item["reason"] for item in verdict["skipped"]] == ["why 1", "why 2"]
    both = report_verdict(_checklist(["skipped"], tee="SIMULATED"))
    assert both["text"] == "verified (simulated TEE), 1 check skipped"


def test_verdict_of_a_failed_check_is_not_verified():
    verdict = report_verdict(_checklist(["ok", "fail"], valid=False))
    assert verdict["text"] == "not verified" and verdict["css"] == "not-verified"


def test_failure_reason_is_in_words():
    reason = failure_reason(3)
    assert reason is not None and reason["name"] == "engine_failed" and reason["code"] == 3
    assert reason["title"] == "the engine exited with an error" and "stderr" not in reason["name"]
    assert failure_reason(None) is None


def test_order_command_names_placeholders_for_what_is_unknown():
    assert order_command(4, [5, 6], 2) == (
        "enclava order create --engine 4 --resource 5 --resource 6 --tee-offer 2 --input FILE"
    )
    assert order_command(None, [5], None) == (
        "enclava order create --engine ENGINE_ID --resource 5 --tee-offer TEE_OFFER_ID --input FILE"
    )


def _order(session, status, money, *, payments=((1, OWNER, 100), (2, WEIGHTS_OWNER, 0))):
    order_id = "0x" + "11" * 32
    row = db.Order(
        order_id=order_id,
        nonce=1,
        customer=CUSTOMER,
        provider=PROVIDER,
        tee_offer_id=1,
        tee_type=99,
        engine_id=1,
        engine_hash="0x",
        inputs_hash="0x",
        escrow_wei="1000",
        terms={"payments": [{"resourceId": r, "payee": p, "amount": a} for r, p, a in payments]},
        inputs=[],
        resource_hashes=[],
        status=int(status),
        created_block=1,
        created_tx="0x",
        failure_code=6 if status == OrderStatus.FAILED else None,
        failure_detail_cid="bafydetail" if status == OrderStatus.FAILED else None,
        pos=1,
    )
    session.add(row)
    for pos, (event, account, amount) in enumerate(money, start=10):
        session.add(
            db.OrderMoney(
                pos=pos,
                order_id=order_id,
                event=event,
                account=account,
                amount_wei=str(amount),
                tx="0x",
            )
        )
    session.commit()
    return session.get(db.Order, order_id)


def _session():
    return db.make_sessionmaker(db.make_engine("sqlite://"))()


def test_completed_order_names_each_payout_and_the_refund():
    with _session() as s:
        money = [("credited", OWNER, 100), ("credited", PROVIDER, 300), ("refunded", CUSTOMER, 600)]
        view = order_view(_order(s, OrderStatus.COMPLETED, money))
    assert [(p["role"], p["resource_id"], p["amount_wei"]) for p in view["payouts"]] == [
        ("owner", 1, "100"),
        ("provider", None, "300"),
    ]
    assert view["refund_wei"] == "600" and view["cost_wei"] == "400"
    assert view["resource_ids"] == [2] and view["failure_reason"] is None


def test_failed_order_has_no_payouts_a_full_refund_and_its_reason():
    with _session() as s:
        view = order_view(_order(s, OrderStatus.FAILED, [("credited", CUSTOMER, 1000)]))
    assert view["payouts"] == [] and view["refund_wei"] == "1000" and view["cost_wei"] == "0"
    assert view["refunds"][0]["how"] == "credited (withdraw it)"
    assert view["failure_reason"]["name"] == "memory_exceeded"
    assert view["failure_detail_cid"] == "bafydetail"


def test_open_order_is_not_settled():
    with _session() as s:
        view = order_view(_order(s, OrderStatus.OPEN, []))
    assert view["cost_wei"] is None and view["refund_wei"] == "0" and view["payouts"] == []
