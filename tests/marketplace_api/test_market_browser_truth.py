"""The pages tell the truth, checked in a real headless Chromium (Debian's /usr/bin/chromium,
driven by Playwright) against the marketplace process the devnet started.

One owner lists an engine with an input schema and weights that name it (through the API), a
provider publishes a simulated TEE offer, and two real orders run on the devnet's chain: one
completed with an enclave-signed report (payouts to both owners and the provider, the rest back to
the customer) and one failed by the enclave with ``ENGINE_FAILED`` and a failure-detail CID. The
pages must show ETH amounts with the wei on hover, the model's id, its engine/weights links, the
input schema and a copyable ``enclava order create`` line, the failure in words, and a report
verdict that warns about the simulated TEE and the skipped result check. Screenshots stay in each
test's tmp folder.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from dataclasses import dataclass

import chain_story
import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_account.signers.local import LocalAccount
from market_helpers import index, signed_listing
from playwright.sync_api import Page, sync_playwright
from sqlalchemy import select
from web3 import Web3

from enclava.devnet import dev_account
from enclava.protocol.engine.reasons import Reason, describe_reason
from enclava.protocol.order import OrderFailure, OrderTerms, failure_typed_data
from enclava.storage import IpfsContentStore
from marketplace_api import db
from marketplace_api.auth import COOKIE_NAME

pytestmark = pytest.mark.devnet
CHROMIUM = "/usr/bin/chromium"
FUNDER_INDEX = 17  # this module's own devnet account (see the plan of dev accounts)
ENGINE_PRICE = 10**15  # 0.001 ETH
WEIGHTS_PRICE = 42  # 0.000000000000000042 ETH
SCHEMA = {
    "type": "object",
    "properties": {"pixels": {"type": "array", "items": {"type": "number"}}},
    "required": ["pixels"],
}


@dataclass
class Truth:
    base: str
    story: chain_story.Story
    owner: LocalAccount
    token: str
    engine_id: int
    weights_id: int
    tee_offer_id: int
    completed_id: str
    completed_escrow: int
    failed_id: str
    failed_escrow: int
    detail_cid: str


def _fund(story: chain_story.Story, eth: int = 5) -> LocalAccount:
    account = Account.create()
    story.chain.transfer(dev_account(FUNDER_INDEX), account.address, eth * 10**18)
    return account


def _wait_for(url: str, *, timeout: float = 60.0, until=lambda body: True) -> dict:
    """Poll until the service's indexer has caught up; the assertions come after, not on time."""
    deadline = time.monotonic() + timeout
    while True:
        reply = httpx.get(url, timeout=10)
        if (reply.status_code == 200 and until(reply.json())) or time.monotonic() > deadline:
            assert reply.status_code == 200, reply.text
            return reply.json()
        time.sleep(0.3)


def _sign_in(base: str, account: LocalAccount) -> str:
    nonce = httpx.get(f"{base}/v1/auth/nonce", params={"address": account.address}, timeout=10)
    message = nonce.json()["message"]
    signature = account.sign_message(encode_defunct(text=message)).signature.hex()
    verified = httpx.post(
        f"{base}/v1/auth/verify",
        json={"message": message, "signature": "0x" + signature},
        timeout=10,
    )
    assert verified.status_code == 200, verified.text
    return verified.json()["token"]


def _list(base, story, owner, token, *, kind, price, name, **extra) -> int:
    meta = {
        "name": name,
        "description": f"{name} for the page tests",
        "task": "image-classification",
        "price_wei": price,
        "license": "Apache-2.0",
        "engine_hash": "0x" + "22" * 32,
        "tee_requirements": {"tee_types": ["SIMULATED"]},
        **extra,
    }
    body = {**signed_listing(story, owner, kind=kind, price=price), "metadata": meta}
    made = httpx.post(
        f"{base}/v1/listings", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    assert made.status_code == 201, made.text
    return int(made.json()["resource_id"])


def _order(story, customer, engine_id, weights_id, tee_offer_id) -> tuple[str, dict, int]:
    stored = IpfsContentStore(story.manifest.ipfs_api).add(b"pixels " + os.urandom(8))
    escrow = ENGINE_PRICE + WEIGHTS_PRICE + chain_story.PRICE_PER_SECOND * chain_story.MAX_DURATION
    marketplace = story.contracts.marketplace
    receipt = story.send(
        customer,
        marketplace.functions.createOrder(
            engine_id,
            [weights_id],
            tee_offer_id,
            [(stored.cid, bytes.fromhex(stored.sha256))],
            b"recipient-public-key",
            chain_story.MAX_DURATION,
        ),
        value=escrow,
    )
    args = marketplace.events.OrderCreated().process_receipt(receipt)[0]["args"]
    order_id = "0x" + bytes(args["orderId"]).hex()
    return order_id, args["terms"], escrow


def _accept(story, provider, order_id: str) -> None:
    marketplace = story.contracts.marketplace
    story.send(provider, marketplace.functions.acceptOrder(Web3.to_bytes(hexstr=order_id)))


def _fail(story, provider, enclave, order_id: str, terms, detail_cid: str) -> None:
    """The enclave gives up with ENGINE_FAILED, signing the failure with its certified key."""
    failure = OrderFailure(
        order_id=Web3.to_bytes(hexstr=order_id),
        enclave=enclave.address,
        reason_code=int(Reason.ENGINE_FAILED),
        detail_cid=detail_cid,
    )
    typed = failure_typed_data(
        failure,
        chain_id=story.chain.chain_id(),
        marketplace=story.contracts.marketplace.address,
    )
    signature = bytes(enclave.sign_message(encode_typed_data(full_message=typed)).signature)
    story.send(
        provider,
        story.contracts.marketplace.functions.failOrder(
            OrderTerms.from_event(terms).as_tuple(), failure.as_tuple(), signature
        ),
    )


@pytest.fixture(scope="module")
def truth(devnet_manifest, story) -> Truth:
    base = devnet_manifest.services["marketplace"].url
    owner, provider, customer = _fund(story), _fund(story), _fund(story)
    token = _sign_in(base, owner)
    tag = uuid.uuid4().hex[:6]
    engine_id = _list(
        base,
        story,
        owner,
        token,
        kind=1,
        price=ENGINE_PRICE,
        name=f"Engine {tag}",
        input_schema=SCHEMA,
    )
    weights_id = _list(
        base,
        story,
        owner,
        token,
        kind=2,
        price=WEIGHTS_PRICE,
        name=f"Weights {tag}",
        engine_resource_id=engine_id,
    )
    tee_offer_id = chain_story.register_provider(story, provider)
    enclave = chain_story.certify_enclave(story, provider)

    completed_id, terms, completed_escrow = _order(
        story, customer, engine_id, weights_id, tee_offer_id
    )
    _accept(story, provider, completed_id)
    # let the run take a few chain seconds, so the provider is paid for used time
    story.chain.w3.provider.make_request("evm_increaseTime", [5])
    story.chain.w3.provider.make_request("evm_mine", [])
    chain_story.complete_order(story, completed_id, terms, enclave, b"result " + os.urandom(16))

    failed_id, terms, failed_escrow = _order(story, customer, engine_id, weights_id, tee_offer_id)
    _accept(story, provider, failed_id)
    detail = IpfsContentStore(story.manifest.ipfs_api).add(b"age envelope " + os.urandom(16))
    _fail(story, provider, enclave, failed_id, terms, detail.cid)

    _wait_for(f"{base}/v1/listings/{weights_id}")
    for order_id, status in ((completed_id, "COMPLETED"), (failed_id, "FAILED")):
        _wait_for(
            f"{base}/v1/orders/{order_id}",
            until=lambda body, status=status: (
                body.get("status") == status and body.get("refund_wei") not in (None, "0")
            ),
        )
    return Truth(
        base,
        story,
        owner,
        token,
        engine_id,
        weights_id,
        tee_offer_id,
        completed_id,
        completed_escrow,
        failed_id,
        failed_escrow,
        detail.cid,
    )


def _eth_title(page: Page, selector: str) -> tuple[str, str]:
    amount = page.locator(f"{selector} .eth").first
    return amount.inner_text(), amount.get_attribute("title") or ""


def _browse(check):
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            context = browser.new_context()
            check(context)
        finally:
            browser.close()


def test_model_pages_show_ids_pairing_schema_and_a_copyable_order_line(truth, tmp_path):
    command = (
        f"enclava order create --engine {truth.engine_id} --resource {truth.weights_id} "
        r"--tee-offer (\d+) --input FILE"
    )
    offers = httpx.get(f"{truth.base}/v1/tee-offers", timeout=10).json()["items"]
    active = {o["tee_offer_id"] for o in offers if o["slots"] > 0}

    def check(context):
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=truth.base)
        page = context.new_page()
        page.goto(f"{truth.base}/models/{truth.engine_id}")
        assert page.locator("#resource-id").inner_text() == f"resource #{truth.engine_id}"
        assert page.locator("#weights a").get_attribute("href") == f"/models/{truth.weights_id}"
        assert '"pixels"' in page.locator("#input-schema pre").inner_text()
        assert _eth_title(page, ".price") == ("0.001 ETH", f"{ENGINE_PRICE} wei")
        shown = page.locator("#order-command").inner_text().strip()
        offer = re.fullmatch(command, shown)
        assert offer is not None, shown
        assert int(offer.group(1)) in active
        page.click("#copy-order-command")
        page.wait_for_function("document.getElementById('copy-order-command').textContent")
        assert page.locator("#copy-order-command").inner_text() == "Copied"
        assert page.evaluate("navigator.clipboard.readText()") == shown
        page.screenshot(path=str(tmp_path / "engine-page.png"), full_page=True)

        page.goto(f"{truth.base}/models/{truth.weights_id}")
        assert page.locator("#engine a").get_attribute("href") == f"/models/{truth.engine_id}"
        assert '"required"' in page.locator("#input-schema pre").inner_text()
        assert _eth_title(page, ".price") == ("0.000000000000000042 ETH", "42 wei")
        assert re.fullmatch(command, page.locator("#order-command").inner_text().strip())
        audit = page.locator("#audit-link")
        assert audit.get_attribute("href") == f"/resources/{truth.weights_id}/audit"
        assert "Sign in" in audit.inner_text()  # not signed in: a hint, not the owner's link
        page.screenshot(path=str(tmp_path / "weights-page.png"), full_page=True)

        host = httpx.URL(truth.base).host
        context.add_cookies(
            [{"name": COOKIE_NAME, "value": truth.token, "domain": host, "path": "/"}]
        )
        page.goto(f"{truth.base}/models/{truth.weights_id}")
        assert page.locator("#audit-link").inner_text().startswith("Key audit log")

    _browse(check)
    assert (tmp_path / "engine-page.png").stat().st_size > 0
    assert (tmp_path / "weights-page.png").stat().st_size > 0


def test_failed_order_page_says_why_in_words_and_shows_the_refund(truth, tmp_path):
    reason = describe_reason(Reason.ENGINE_FAILED)
    api = httpx.get(f"{truth.base}/v1/orders/{truth.failed_id}", timeout=10).json()
    assert api["failure_reason"] == {
        "code": reason.code,
        "name": reason.name,
        "title": reason.title,
        "hint": reason.hint,
    }
    assert api["failure_detail_cid"] == truth.detail_cid
    assert api["payouts"] == [] and api["refund_wei"] == str(truth.failed_escrow)
    assert api["cost_wei"] == "0" and api["resource_ids"] == [truth.weights_id]

    def check(context):
        page = context.new_page()
        page.goto(f"{truth.base}/orders/{truth.failed_id}")
        assert page.locator("#status").inner_text() == "FAILED"
        assert page.locator("#failure-title").inner_text() == reason.title
        assert page.locator("#failure-hint").inner_text() == reason.hint
        detail = page.locator("#failure-detail").inner_text()
        assert f"enclava order status {truth.failed_id} --wallet W" in detail
        assert page.locator("#resources a").get_attribute("href") == (f"/models/{truth.weights_id}")
        refund = _eth_title(page, "tr[data-money=refund]")
        assert refund[1] == f"{truth.failed_escrow} wei" and refund[0].endswith(" ETH")
        assert _eth_title(page, "tr[data-money=cost]") == ("0 ETH", "0 wei")
        assert "no payouts" in page.locator("#payouts").inner_text()
        page.screenshot(path=str(tmp_path / "failed-order.png"), full_page=True)

    _browse(check)
    assert (tmp_path / "failed-order.png").stat().st_size > 0


def test_completed_order_page_names_each_payout_in_eth(truth, tmp_path):
    api = httpx.get(f"{truth.base}/v1/orders/{truth.completed_id}", timeout=10).json()
    roles = [(p["role"], p["resource_id"], p["amount_wei"]) for p in api["payouts"]]
    assert roles[:2] == [
        ("owner", truth.engine_id, str(ENGINE_PRICE)),
        ("owner", truth.weights_id, str(WEIGHTS_PRICE)),
    ]
    provider_paid = int(roles[2][2])
    assert roles[2][0] == "provider" and provider_paid > 0 and len(roles) == 3
    refund = truth.completed_escrow - ENGINE_PRICE - WEIGHTS_PRICE - provider_paid
    assert api["refund_wei"] == str(refund)
    assert api["cost_wei"] == str(ENGINE_PRICE + WEIGHTS_PRICE + provider_paid)

    def check(context):
        page = context.new_page()
        page.goto(f"{truth.base}/orders/{truth.completed_id}")
        owners = page.locator("#payouts tr[data-role=owner] .eth")
        assert owners.all_inner_texts() == ["0.001 ETH", "0.000000000000000042 ETH"]
        assert [owners.nth(i).get_attribute("title") for i in range(2)] == [
            f"{ENGINE_PRICE} wei",
            f"{WEIGHTS_PRICE} wei",
        ]
        paid = page.locator("#payouts tr[data-role=provider] .eth")
        assert paid.get_attribute("title") == f"{provider_paid} wei"
        assert _eth_title(page, "tr[data-money=escrow]")[1] == f"{truth.completed_escrow} wei"
        assert _eth_title(page, "tr[data-money=refund]")[1] == f"{refund} wei"
        accepted = page.locator("time").first
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", accepted.inner_text())
        assert re.fullmatch(r"\d+ \(Unix seconds\)", accepted.get_attribute("title") or "")
        page.screenshot(path=str(tmp_path / "completed-order.png"), full_page=True)

    _browse(check)
    assert (tmp_path / "completed-order.png").stat().st_size > 0


def test_report_page_warns_about_the_simulated_tee_and_lists_the_skipped_check(truth, tmp_path):
    def check(context):
        page = context.new_page()
        page.goto(f"{truth.base}/reports/{truth.completed_id}")
        verdict = page.locator("#verdict")
        assert verdict.inner_text() == "verified (simulated TEE), 1 check skipped"
        assert "verified-warning" in (verdict.get_attribute("class") or "")
        colour = verdict.evaluate("e => getComputedStyle(e).backgroundColor")
        assert colour == "rgb(253, 240, 200)"  # the warning amber, not the green of "verified"
        assert page.locator("#simulated-warning").is_visible()
        skipped = page.locator("#skipped li[data-check=output_hash]")
        assert "no result ciphertext given" in skipped.inner_text()
        status = page.locator("#checklist tr[data-check=output_hash] td:nth-child(2)")
        assert status.inner_text() == "skipped"
        started = page.locator("time").first
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", started.inner_text())
        page.screenshot(path=str(tmp_path / "report-simulated.png"), full_page=True)

    _browse(check)
    assert (tmp_path / "report-simulated.png").stat().st_size > 0


def test_money_events_indexed_twice_are_stored_once(truth, market):
    """The in-process indexer over the same blocks again: each Credited/Refunded event is one row
    (keyed by its chain position), so payouts and refunds never double."""
    index(market)
    first = market.get(f"/v1/orders/{truth.completed_id}").json()
    sessions = market.app.state.services.sessions
    indexer = market.app.state.services.indexer
    with sessions() as s:
        rows = sorted((m.pos, m.event, m.amount_wei) for m in s.scalars(select(db.OrderMoney)))
    indexer.index_range(truth.story.manifest.deploy_block, indexer.cursor())
    with sessions() as s:
        again = sorted((m.pos, m.event, m.amount_wei) for m in s.scalars(select(db.OrderMoney)))
    assert rows and again == rows
    assert market.get(f"/v1/orders/{truth.completed_id}").json() == first
    assert first["refund_wei"] == str(
        truth.completed_escrow - sum(int(p["amount_wei"]) for p in first["payouts"])
    )
