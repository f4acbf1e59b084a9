"""The owner's audit page in a real headless Chromium, served by the devnet's marketplace process:
a wallet (an EIP-1193 provider injected into the page, backed by a test key) signs in and signs the
audit read, the marketplace relays it to the devnet's attested CA, and the page shows the verified
entries (a deposit, a refused deposit, a denied release with its order, enclave and customer);
another wallet is told it is not the owner."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import httpx
import pyrage
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from playwright.sync_api import sync_playwright

from enclava.chain import ChainClient, MarketClient
from enclava.chain.types import ResourceKind
from enclava.client import BrokerHttpClient
from enclava.client.errors import BrokerRefused
from enclava.devnet import dev_account
from enclava.storage import IpfsContentStore
from tests.integration.broker_story import BrokerStory

pytestmark = pytest.mark.devnet
CHROMIUM = "/usr/bin/chromium"
FUNDER_INDEX = 18  # helper E's devnet funder
POLICY = {"allowed_engine_hashes": "any", "allowed_customers": "any"}

#: an EIP-1193 provider: accounts and personal_sign go to the test's key (exposed below)
WALLET_JS = """
window.ethereum = {
  isTestWallet: true,
  request: async ({ method, params }) => {
    if (method === "eth_requestAccounts" || method === "eth_accounts") {
      return [await window.testWalletAddress()];
    }
    if (method === "personal_sign") return await window.testWalletSign(params[0], params[1]);
    throw Object.assign(new Error("unsupported method " + method), { code: 4200 });
  },
};
"""


@pytest.fixture(scope="module")
def owned(devnet_manifest):
    """A dataset listed by a fresh owner, its key deposited; a refused deposit by ``eve``; and a
    certified enclave refused the keys of an order not accepted."""
    owner, eve, customer = Account.create(), Account.create(), Account.create()
    chain = ChainClient(devnet_manifest.rpc_url)
    for account in (owner, eve, customer):
        chain.transfer(dev_account(FUNDER_INDEX), account.address, 10**18)
    market, ipfs = (
        MarketClient.from_manifest(devnet_manifest),
        IpfsContentStore.from_manifest(devnet_manifest),
    )
    listed = {}
    for kind in (ResourceKind.ENGINE, ResourceKind.DATASET):
        stored = ipfs.add(os.urandom(256))
        listed[kind] = market.list_resource(
            owner, kind=kind, cid=stored.cid, content_hash=bytes.fromhex(stored.sha256), price=1000
        )
    resource_id = listed[ResourceKind.DATASET]
    broker = BrokerHttpClient.from_manifest(devnet_manifest)
    try:
        broker.deposit(owner, resource_id, os.urandom(32), POLICY)
        with pytest.raises(BrokerRefused):  # logged as a refused deposit, in the owner's log too
            broker.deposit(eve, resource_id, os.urandom(32), POLICY)
    finally:
        broker.close()
    story = BrokerStory(devnet_manifest)
    order_id, _ = market.create_order(
        customer,
        engine_id=listed[ResourceKind.ENGINE],
        resource_ids=[resource_id],
        tee_offer_id=story.tee_offer("provider"),
        inputs=[],
        recipient_key=str(pyrage.x25519.Identity.generate().to_public()).encode(),
        max_duration=600,
    )
    enclave = story.certify("provider")
    assert story.release(enclave, order_id).json()["type"] == "order_not_accepted"
    base = devnet_manifest.services["marketplace"].url
    return base, resource_id, owner, eve, (order_id.lower(), enclave.address, customer.address)


def _page_with_wallet(browser, account):
    context = browser.new_context()
    page = context.new_page()
    signed = []

    def sign(data: str, address: str) -> str:
        assert address.lower() == account.address.lower()
        signed.append(data)
        signature = account.sign_message(encode_defunct(hexstr=data)).signature.hex()
        return signature if signature.startswith("0x") else "0x" + signature

    page.expose_function("testWalletAddress", lambda: account.address)
    page.expose_function("testWalletSign", sign)
    page.add_init_script(WALLET_JS)
    return page, signed


def test_the_owner_signs_and_sees_the_verified_audit_table(owned, tmp_path):
    base, resource_id, owner, eve, (order_id, enclave, customer) = owned
    shot = tmp_path / "audit-page.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page, signed = _page_with_wallet(browser, owner)
            page.goto(f"{base}/resources/{resource_id}/audit")
            assert page.locator("h1").inner_text() == f"Audit log of resource {resource_id}"
            page.click("#audit-read")
            page.wait_for_selector("#audit-result:not([hidden])", timeout=60_000)
            rows = page.locator("#audit-table tbody tr")
            decisions = [rows.nth(i).get_attribute("data-decision") for i in range(rows.count())]
            assert decisions == ["accepted", "refused", "denied"]
            outcome = page.locator("#audit-table tbody tr td:nth-child(4)")
            assert outcome.nth(0).inner_text() == "accepted"
            assert outcome.nth(1).inner_text().startswith("refused: not_resource_owner")
            assert eve.address.lower() in outcome.nth(1).locator(".why").inner_text()
            assert (
                outcome.nth(2)
                .inner_text()
                .startswith("denied: order_not_accepted (guard_order_accepted)")
            )
            denied = page.locator("#audit-table tbody tr[data-decision=denied] td")
            assert denied.nth(2).inner_text() == "key_release"
            assert denied.nth(4).get_attribute("title") == order_id
            assert denied.nth(4).locator("a").get_attribute("href") == f"/orders/{order_id}"
            assert [denied.nth(5).get_attribute("title"), denied.nth(6).get_attribute("title")] == [
                enclave,
                customer,
            ]
            assert denied.nth(6).inner_text() == customer[:8] + "…" + customer[-4:]
            dates = page.locator("#audit-table tbody tr td:nth-child(2)").all_inner_texts()
            assert all(date.endswith(" UTC") and date[:2] == "20" for date in dates)
            status = page.locator("#audit-status").inner_text()
            assert status.startswith("chain verified:") and "3 about this resource" in status
            assert page.locator("#audit-error").is_hidden()
            # two signatures: the sign-in (EIP-4361) and the audit read the CA checks itself
            messages = [bytes.fromhex(data[2:]).decode() for data in signed]
            assert len(messages) == 2 and "wants you to sign in" in messages[0]
            assert '"domain":"enclava-audit-read-v1"' in messages[1]
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert shot.exists() and shot.stat().st_size > 0


def test_another_wallet_is_told_it_is_not_the_owner(owned):
    base, resource_id, owner, eve, _ = owned
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page, signed = _page_with_wallet(browser, eve)
            page.goto(f"{base}/resources/{resource_id}/audit")
            page.click("#audit-read")
            page.wait_for_selector("#audit-error:not([hidden])", timeout=60_000)
            error = page.locator("#audit-error").inner_text()
            assert error.startswith("not_owner:") and owner.address in error
            assert page.locator("#audit-result").is_hidden()
            assert len(signed) == 1  # signed in, but never asked to sign an audit read
        finally:
            browser.close()


def _bearer(base: str, account) -> dict[str, str]:
    nonce = httpx.get(f"{base}/v1/auth/nonce", params={"address": account.address}, timeout=10)
    message = nonce.json()["message"]
    signature = account.sign_message(encode_defunct(text=message)).signature.hex()
    token = httpx.post(
        f"{base}/v1/auth/verify",
        json={"message": message, "signature": "0x" + signature.removeprefix("0x")},
        timeout=10,
    ).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def _signed(base: str, headers: dict[str, str], resource_id: int, signer) -> dict:
    prepared = httpx.get(
        f"{base}/v1/resources/{resource_id}/audit/request", headers=headers, timeout=30
    ).json()
    signature = signer.sign_message(encode_defunct(text=prepared["message"])).signature.hex()
    fields = ("ca_id", "resource_id", "owner", "issued_at")
    return {
        **{k: prepared[k] for k in fields},
        "signature": "0x" + signature.removeprefix("0x"),
    }


def test_the_relay_refuses_what_the_ca_would_and_a_log_that_does_not_verify(owned, devnet_manifest):
    base, resource_id, owner, eve, (order_id, _, _) = owned
    url = f"{base}/v1/resources/{resource_id}/audit"
    assert httpx.get(f"{url}/request", timeout=10).json()["type"] == "not_signed_in"
    headers = _bearer(base, owner)
    good = _signed(base, headers, resource_id, owner)
    for body, status, kind in (
        ({**good, "resource_id": str(resource_id + 1)}, 422, "audit_request_invalid"),
        ({**good, "owner": eve.address}, 403, "not_owner"),
        (_signed(base, headers, resource_id, eve), 502, "audit_refused"),  # the CA's own check
    ):
        reply = httpx.post(url, json=body, headers=headers, timeout=30)
        assert (reply.status_code, reply.json()["type"]) == (status, kind), reply.text
    assert httpx.post(url, json=good, headers=_bearer(base, eve), timeout=30).status_code == 403

    db_path = Path(devnet_manifest.state_dir) / "ca" / "ca.sqlite"
    with sqlite3.connect(db_path, timeout=30) as db:  # edit the owner's denial in the CA's DB
        seq = db.execute(
            "SELECT e.seq FROM audit_entries e JOIN audit_resources r ON r.seq = e.seq "
            "WHERE r.resource_id = ? AND e.order_id = ?",
            (str(resource_id), order_id),
        ).fetchone()[0]
        db.execute("UPDATE audit_entries SET reason = 'ok' WHERE seq = ?", (seq,))
    try:
        edited = httpx.post(url, json=good, headers=headers, timeout=30)
    finally:
        with sqlite3.connect(db_path, timeout=30) as db:
            restore = "UPDATE audit_entries SET reason = 'order_not_accepted' WHERE seq = ?"
            db.execute(restore, (seq,))
    assert edited.status_code == 502 and edited.json()["type"] == "audit_log_invalid", edited.text
    assert f"entry {seq}" in edited.json()["detail"]
    verified = httpx.post(url, json=_signed(base, headers, resource_id, owner), headers=headers)
    assert verified.status_code == 200 and verified.json()["head"]["seq"] >= seq
