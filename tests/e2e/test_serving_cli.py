"""The serving CLI on the devnet (issue 17), against a real service of the shipped model
(`provider-node serve`, tests/e2e/serving_support.py): `enclava service list/show/price/deposit/
account/close/reclaim`, a one-shot `enclava chat --save-dir` (verified before anything is sent,
streamed, receipted), a second session that continues from the kept voucher, `enclava service
verify` of the saved exchange (with the devnet CA's certificate), and a tampered copy refused.

An integration test: one service for the module (about a minute with the devnet up)."""

from __future__ import annotations

import base64
import json
import re

import pytest
from eth_account import Account

from enclava.ca_link.chain_ca import connect_devnet_ca
from enclava.cli.chat import voucher_file
from enclava.devnet import dev_account
from tests.cli.conftest import PASSWORD, Cli, fund
from tests.e2e.serving_support import INPUT_PRICE, OUTPUT_PRICE, running_service

pytestmark = [pytest.mark.devnet, pytest.mark.timeout(900)]

DEPOSIT = 5 * 10**17


@pytest.fixture(scope="module")
def service(devnet_manifest, tmp_path_factory):
    folder = tmp_path_factory.mktemp("provider-serving-cli")
    with running_service(devnet_manifest, folder, name="serving-cli") as running:
        yield running


@pytest.fixture(scope="module")
def cli(devnet_manifest, tmp_path_factory, service) -> Cli:
    home = tmp_path_factory.mktemp("enclava-home-serving")
    run = Cli(
        {
            "ENCLAVA_HOME": str(home),
            "ENCLAVA_WALLET_PASSWORD": PASSWORD,
            "COLUMNS": "250",
            "ENCLAVA_MANIFEST": f"{devnet_manifest.state_dir}/manifest.json",
        }
    )
    customer = Account.create()
    fund(devnet_manifest, customer.address, 5)
    run("wallet", "import", "--wallet", "customer", env={"ENCLAVA_PRIVATE_KEY": customer.key.hex()})
    owner_key = dev_account("model_owner").key.hex()
    run("wallet", "import", "--wallet", "owner", env={"ENCLAVA_PRIVATE_KEY": owner_key})
    run.home = home  # type: ignore[attr-defined]
    run.customer = customer  # type: ignore[attr-defined]
    return run


def _value(output: str, name: str) -> str:
    match = re.search(rf"^{name}=(.*)$", output, re.MULTILINE)
    assert match, output
    return match.group(1)


def test_the_serving_cli_lists_deposits_chats_and_verifies(cli, service, tmp_path):
    sid, endpoint = service["service_id"], service["endpoint"]
    model_id = service["model"].resource_id

    listed = cli("service", "list").stdout
    assert re.search(rf"^service={sid} model={model_id} live {re.escape(endpoint)}$", listed, re.M)
    shown = cli("service", "show", sid).stdout
    assert _value(shown, "live") == "true" and _value(shown, "endpoint") == endpoint
    assert f"{INPUT_PRICE} wei" in shown and f"{OUTPUT_PRICE} wei" in shown

    # the model owner (re)prices its tokens; another wallet may not
    priced = cli(
        "service", "price", model_id, "--input", INPUT_PRICE, "--output", "5gwei", "-w", "owner"
    )
    assert _value(priced.stdout, "output_price_wei") == str(OUTPUT_PRICE)
    refused = cli(
        "service", "price", model_id, "--input", 1, "--output", 1, "-w", "customer", expect=1
    )
    assert "not_your_model" in refused.output

    deposited = cli("service", "deposit", sid, "--amount", "0.5eth", "-w", "customer")
    assert _value(deposited.stdout, "balance_wei") == str(DEPOSIT)

    # without --insecure-allow-simulated-tee the devnet's simulated TEE is refused, before
    # anything is sent (no receipt, no voucher kept)
    untrusted = cli("chat", sid, "-m", "hello", "-w", "customer", expect=1)
    assert "error" in untrusted.output and "hint" in untrusted.output
    assert "service verified" not in untrusted.output
    assert "ca_evidence_refused" in untrusted.output  # the attested CA comes first
    kept = cli.home / "serving" / "vouchers" / voucher_file(31337, sid, cli.customer.address).name
    assert not kept.exists()

    saved = tmp_path / "saved"
    chat = cli(
        "chat",
        sid,
        "--message",
        "What is a list?",
        "--max-tokens",
        "24",
        "--save-dir",
        saved,
        "--insecure-allow-simulated-tee",
        "-w",
        "customer",
    )
    assert "service verified" in chat.output and "receipt #1 verified" in chat.output
    vouched = int(_value(chat.stdout, "vouched_wei"))
    assert vouched > 0
    answer = chat.stdout.split("vouched_wei=")[0].strip()
    assert answer  # the streamed text
    (response,) = sorted(saved.glob("response-*.json"))
    assert kept.is_file()  # the latest voucher, for the next session

    # a second, interactive session continues from the voucher the first kept (the enclave
    # accepts it) and keeps its history
    again = cli(
        "chat",
        sid,
        "--max-tokens",
        "16",
        "--no-stream",
        "--insecure-allow-simulated-tee",
        "-w",
        "customer",
        input="Explain the for statement.\nAnd the while statement?\n/quit\nnever sent\n",
    )
    assert "receipt #3 verified" in again.output and "receipt #4 verified" in again.output
    assert "receipt #5 verified" not in again.output  # /quit: nothing more is asked
    assert int(_value(again.stdout, "vouched_wei")) > vouched
    assert "you>" not in again.stdout  # the prompt is on stderr: stdout holds the answers

    # offline: the saved exchange verifies, with the devnet CA's certificate too
    ca = connect_devnet_ca(service["manifest"])
    try:
        pem = tmp_path / "ca.pem"
        pem.write_text(ca.identity.ca_certificate_pem)
    finally:
        ca.close()
    checked = cli("service", "verify", response, "--ca-certificate", pem).stdout
    assert _value(checked, "verified") == "true" and _value(checked, "sequence") == "1"
    assert sid in checked and service["model"].content_hash.hex() in checked
    document = json.loads(response.read_text())
    raw = bytearray(base64.b64decode(document["response_b64"]))
    raw[len(raw) // 2] ^= 0x20
    document["response_b64"] = base64.b64encode(bytes(raw)).decode()
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(document))
    refused = cli("service", "verify", tampered, expect=1)
    assert _value(refused.stdout, "verified") == "false"
    assert "receipt_response_mismatch" in refused.output

    # the account: nothing settled yet (the provider settles hourly here); close, then reclaim
    # is refused until the notice ends
    account = cli("service", "account", sid, "-w", "customer").stdout
    assert _value(account, "balance_wei") == str(DEPOSIT)
    closed = cli("service", "close", sid, "-w", "customer").stdout
    closable_at = int(_value(closed, "closable_at"))
    assert int(_value(cli("service", "account", sid, "-w", "customer").stdout, "closable_at")) == (
        closable_at
    )
    pending = cli("service", "reclaim", sid, "-w", "customer", expect=1)
    assert "close_notice_pending" in pending.output
