"""`enclava audit RESOURCE` on the devnet's real CA: an owner publishes with the CLI, a certified
(simulated) enclave is granted the keys of an accepted order and refused those of one not
accepted; the owner sees both with enclave, order and customer; and an edited or rewound log -
written straight into the CA's own database - exits 2 with a loud message, keeping the head seen
before."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from pathlib import Path

import pyrage
import pytest
from eth_account import Account

from enclava.chain import ChainClient
from enclava.devnet import dev_account
from tests.cli.test_cli_publish import ENGINE, published
from tests.integration.broker_story import BrokerStory

pytestmark = pytest.mark.devnet
FUNDER_INDEX = 18  # helper E's devnet funder (see the other test folders' FUNDER_INDEX)


def _wallet(cli, manifest, name: str, eth: int = 5):
    account = Account.create()
    ChainClient(manifest.rpc_url).transfer(dev_account(FUNDER_INDEX), account.address, eth * 10**18)
    cli("wallet", "import", "--wallet", name, env={"ENCLAVA_PRIVATE_KEY": account.key.hex()})
    return account


def _order(story: BrokerStory, customer, engine_id: int, weights_id: int) -> str:
    order_id, _ = story.market.create_order(
        customer,
        engine_id=engine_id,
        resource_ids=[weights_id],
        tee_offer_id=story.tee_offer("provider"),
        inputs=[],
        recipient_key=str(pyrage.x25519.Identity.generate().to_public()).encode(),
        max_duration=600,
    )
    return order_id


@pytest.fixture(scope="module")
def story(devnet_manifest) -> BrokerStory:
    return BrokerStory(devnet_manifest)


@pytest.fixture(scope="module")
def released(cli, devnet_manifest, story, tmp_path_factory):
    """The owner's weights, one granted and one denied release: (weights id, facts by name)."""
    _wallet(cli, devnet_manifest, "audit-owner")
    customer = _wallet(cli, devnet_manifest, "audit-customer")
    weights = tmp_path_factory.mktemp("audit") / "weights.bin"
    weights.write_bytes(b"audited weights " * 500)
    out = cli(
        "model",
        "publish",
        ENGINE,
        "--weights",
        weights,
        "--price",
        "1000",
        "--weights-price",
        "1000",
        "--allow-any-customer",
        "--insecure-allow-simulated-tee",
        "--wallet",
        "audit-owner",
    ).stdout
    items = published(out)
    engine_id, weights_id = (
        int(items["engine"]["resource_id"]),
        int(items["weights"]["resource_id"]),
    )
    enclave = story.certify("provider")
    granted = _order(story, customer, engine_id, weights_id)
    story.accept(granted)
    reply = story.release(enclave, granted)
    assert reply.status_code == 200, reply.text
    denied = _order(story, customer, engine_id, weights_id)  # never accepted
    refused = story.release(enclave, denied)
    assert refused.status_code >= 400 and refused.json()["type"] == "order_not_accepted"
    facts = {
        "granted": granted.lower(),
        "denied": denied.lower(),
        "enclave": enclave.address,
        "customer": customer.address,
        "story": story,
    }
    return weights_id, facts


def _heads_file(cli) -> Path:
    return Path(cli.env["ENCLAVA_HOME"]) / "audit-heads.json"


def _entry_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if re.match(r"^#\d+ ", line)]


def _ca_db(manifest) -> sqlite3.Connection:
    return sqlite3.connect(Path(manifest.state_dir) / "ca" / "ca.sqlite", timeout=30)


def test_audit_shows_the_deposit_the_grant_and_the_denial(cli, released):
    weights_id, facts = released
    out = cli("audit", weights_id, "--wallet", "audit-owner").stdout
    assert f"resource {weights_id}: the CA's audit log verified" in out
    lines = _entry_lines(out)
    assert re.search(r"key_deposit accepted", lines[0]) and " UTC " in lines[0]
    grant = next(line for line in lines if f"order={facts['granted']}" in line)
    assert re.match(r"^#\d+ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC key_release granted ", grant)
    assert f"enclave={facts['enclave']}" in grant and f"customer={facts['customer']}" in grant
    denial = next(line for line in lines if f"order={facts['denied']}" in line)
    assert "key_release denied reason=order_not_accepted guard=" in denial
    assert f"customer={facts['customer']}" in denial  # looked up on chain: the CA does not log it
    head = json.loads(_heads_file(cli).read_text())["heads"][f"enclava-ca/{weights_id}"]
    assert head["seq"] >= int(lines[-1].split()[0][1:])


def test_audit_of_someone_elses_resource_is_refused(cli, released):
    weights_id, _ = released
    refused = cli("audit", weights_id, "--wallet", "audit-customer", expect=1)
    assert "broker_refused" in refused.stderr and "hint" in refused.stderr


def test_watch_prints_each_new_entry_once(cli, released, devnet_manifest):
    weights_id, facts = released
    story: BrokerStory = facts["story"]
    heads = _heads_file(cli)
    before = heads.stat().st_mtime_ns
    result = {}
    watcher = threading.Thread(
        target=lambda: result.update(
            run=cli(
                "audit",
                weights_id,
                "--watch",
                "--interval",
                "0.3",
                "--max-rounds",
                "60",
                "--wallet",
                "audit-owner",
            )
        )
    )
    watcher.start()
    deadline = time.monotonic() + 60
    while heads.stat().st_mtime_ns == before and time.monotonic() < deadline:
        time.sleep(0.1)  # the first round has verified and saved the head
    late = story.release(story.certify("provider"), facts["denied"])
    assert late.status_code >= 400
    watcher.join(timeout=120)
    out = result["run"].stdout
    lines = _entry_lines(out)
    seqs = [int(line.split()[0][1:]) for line in lines]
    assert len(seqs) == len(set(seqs)) and seqs == sorted(seqs)  # each entry printed once
    denials = [line for line in lines if f"order={facts['denied']}" in line]
    assert len(denials) == 2, out  # the fixture's denial, then the one made while watching
    assert out.index(denials[1]) > out.index(f"order={facts['granted']}")


def test_an_edited_entry_in_the_cas_database_exits_2_loudly(cli, released, devnet_manifest):
    weights_id, facts = released
    cli("audit", weights_id, "--wallet", "audit-owner")  # the head as it is now is remembered
    heads_before = _heads_file(cli).read_text()
    with _ca_db(devnet_manifest) as db:
        seq = db.execute(  # the owner's own entry: another's edit is that owner's to see
            "SELECT e.seq FROM audit_entries e JOIN audit_resources r ON r.seq = e.seq "
            "WHERE r.resource_id = ? AND e.order_id = ? AND e.decision = 'denied' "
            "ORDER BY e.seq LIMIT 1",
            (str(weights_id), facts["denied"]),
        ).fetchone()[0]
        db.execute("UPDATE audit_entries SET decision = 'granted' WHERE seq = ?", (seq,))
    try:
        loud = cli("audit", weights_id, "--wallet", "audit-owner", expect=2)
    finally:
        with _ca_db(devnet_manifest) as db:
            db.execute("UPDATE audit_entries SET decision = 'denied' WHERE seq = ?", (seq,))
    assert "!!! THE CA'S AUDIT LOG WAS EDITED !!!" in loud.stderr
    assert "audit_log_edited" in loud.stderr and f"entry {seq}" in loud.stderr
    assert "hint" in loud.stderr and "Do not trust this CA" in loud.stderr
    assert _heads_file(cli).read_text() == heads_before  # the evidence is kept


def test_a_rewound_log_exits_2_and_the_restored_log_verifies_again(cli, released, devnet_manifest):
    weights_id, _ = released
    cli("audit", weights_id, "--wallet", "audit-owner")
    head = json.loads(_heads_file(cli).read_text())["heads"][f"enclava-ca/{weights_id}"]
    with _ca_db(devnet_manifest) as db:  # the operator restores yesterday's backup...
        entries = db.execute(
            "SELECT * FROM audit_entries WHERE seq >= ?", (head["seq"],)
        ).fetchall()
        links = db.execute(
            "SELECT * FROM audit_resources WHERE seq >= ?", (head["seq"],)
        ).fetchall()
        db.execute("DELETE FROM audit_resources WHERE seq >= ?", (head["seq"],))
        db.execute("DELETE FROM audit_entries WHERE seq >= ?", (head["seq"],))
    try:
        loud = cli("audit", weights_id, "--wallet", "audit-owner", expect=2)
    finally:
        with _ca_db(devnet_manifest) as db:
            db.executemany(
                f"INSERT INTO audit_entries VALUES ({','.join('?' * len(entries[0]))})", entries
            )
            db.executemany(
                f"INSERT INTO audit_resources VALUES ({','.join('?' * len(links[0]))})", links
            )
    assert "!!! THE CA'S AUDIT LOG WAS REWOUND !!!" in loud.stderr
    assert "audit_log_rewound" in loud.stderr and f"reach entry {head['seq']}" in loud.stderr
    assert cli("audit", weights_id, "--wallet", "audit-owner").exit_code == 0

    tampered = json.loads(_heads_file(cli).read_text())  # a head the log never held
    tampered["heads"][f"enclava-ca/{weights_id}"]["entry_hash"] = "ee" * 32
    _heads_file(cli).write_text(json.dumps(tampered))
    rewritten = cli("audit", weights_id, "--wallet", "audit-owner", expect=2)
    assert "no longer the one you saw" in rewritten.stderr
    forgot = cli("audit", weights_id, "--forget", "--wallet", "audit-owner")
    assert "forgot the head" in forgot.stdout
