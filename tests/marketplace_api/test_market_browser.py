"""The web pages in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright),
served by the marketplace process the devnet started: load the catalogue, search, open a report,
see it verified with the simulated-TEE warning (never a bare green "verified" on a simulated
enclave with a skipped check), and keep a screenshot."""

from __future__ import annotations

import time
import uuid

import chain_story
import httpx
import pytest
from eth_account.messages import encode_defunct
from market_helpers import metadata, signed_listing
from playwright.sync_api import sync_playwright

pytestmark = pytest.mark.devnet
CHROMIUM = "/usr/bin/chromium"


def _wait_for(url: str, *, timeout: float = 60.0, until=lambda body: True) -> httpx.Response:
    """Poll until the service's indexer has caught up (the assertions come after, not on time).

    ``until`` says what "caught up" means for a row that changes: an order is indexed at creation
    and again at acceptance and completion, which may land in different indexer rounds.
    """
    deadline = time.monotonic() + timeout
    while True:
        reply = httpx.get(url, timeout=10)
        if (reply.status_code == 200 and until(reply.json())) or time.monotonic() > deadline:
            return reply
        time.sleep(0.3)


@pytest.fixture(scope="module")
def seeded(devnet_manifest, story):
    base = devnet_manifest.services["marketplace"].url
    owner = chain_story.fresh_account(story, eth=1)
    nonce = httpx.get(f"{base}/v1/auth/nonce", params={"address": owner.address}, timeout=10).json()
    signature = owner.sign_message(encode_defunct(text=nonce["message"])).signature.hex()
    token = httpx.post(
        f"{base}/v1/auth/verify",
        json={"message": nonce["message"], "signature": "0x" + signature},
        timeout=10,
    ).json()["token"]
    name = f"Browser digits {uuid.uuid4().hex[:8]}"
    meta = metadata(name, price=42)
    meta.pop("input_schema", None)  # an input format belongs to an engine's listing, not a model's
    body = {**signed_listing(story, owner, price=42), "metadata": meta}
    made = httpx.post(
        f"{base}/v1/listings", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    assert made.status_code == 201, made.text
    order = chain_story.completed_order(devnet_manifest)
    assert _wait_for(f"{base}/v1/listings/{made.json()['resource_id']}").status_code == 200
    indexed = _wait_for(
        f"{base}/v1/orders/{order.order_id}", until=lambda body: body.get("status") == "COMPLETED"
    )
    assert indexed.json()["status"] == "COMPLETED"
    return base, name, order


def test_catalogue_search_and_report_page_show_verified_in_chromium(seeded, tmp_path):
    base, name, order = seeded
    shot = tmp_path / "report-verified.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{base}/")
            assert page.locator("h1").inner_text() == "Catalogue"
            page.fill("input[name=q]", name)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            listings = page.locator(".listing h2")
            assert listings.count() == 1 and listings.first.inner_text() == name
            card = page.locator(".listing").first
            assert card.locator(".price .eth").inner_text() == "0.000000000000000042 ETH"
            assert card.locator(".price .eth").get_attribute("title") == "42 wei"
            listings.first.locator("a").click()
            page.wait_for_load_state()
            assert page.locator("h1").inner_text() == name
            page.goto(f"{base}/orders/{order.order_id}")
            assert "COMPLETED" in page.content()
            page.click("text=Verify the integrity report")
            page.wait_for_load_state()
            verdict = page.locator("#verdict")
            assert verdict.inner_text() == "verified (simulated TEE), 1 check skipped"
            assert "verified-warning" in (verdict.get_attribute("class") or "")
            statuses = page.locator("#checklist tr[data-check] td:nth-child(2)").all_inner_texts()
            assert len(statuses) == 12 and set(statuses) <= {"ok", "skipped"} and "ok" in statuses
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.exists() and shot.stat().st_size > 0


def test_report_page_of_an_unknown_order_says_not_available(seeded):
    base, _, _ = seeded
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page()
            response = page.goto(f"{base}/reports/0x{'ef' * 32}")
            assert response.status == 404 and "no order" in page.content()
        finally:
            browser.close()
