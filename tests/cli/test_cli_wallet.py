"""`enclava wallet new | import | show`, including the mistakes people make."""

from __future__ import annotations

import json

import pytest
from eth_account import Account

from enclava.crypto import wallet_recipient
from tests.cli.conftest import PASSWORD, fund

pytestmark = pytest.mark.devnet


def test_new_creates_an_encrypted_keystore_that_show_reads(cli, devnet_manifest):
    made = cli("wallet", "new", "--wallet", "alice")
    address = next(w for w in made.stdout.split() if w.startswith("0x"))
    path = f"{cli.env['ENCLAVA_HOME']}/wallets/alice.json"
    keystore = json.loads(open(path).read())
    assert keystore["crypto"]["kdf"] == "scrypt" and PASSWORD not in open(path).read()
    fund(devnet_manifest, address, eth=3)
    shown = cli("wallet", "show", "--wallet", "alice").stdout
    account = Account.from_key(Account.decrypt(keystore, PASSWORD))
    assert account.address == address
    assert address in shown and "3.000000 ETH" in shown and "0.000000 ETH (0 wei)" in shown
    assert wallet_recipient(account) in shown.replace("\n", "").replace("│", "").replace(" ", "")


def test_import_of_a_private_key_from_a_hidden_prompt_keeps_its_address(cli):
    account = Account.create()
    cli("wallet", "import", "--wallet", "bob", input=account.key.hex() + "\n")
    assert account.address in cli("wallet", "show", "--wallet", "bob", "--no-key").stdout


def test_import_of_a_keystore_file_needs_its_password(cli, tmp_path):
    account = Account.create()
    source = tmp_path / "exported.json"
    source.write_text(json.dumps(Account.encrypt(account.key, "other password")))
    refused = cli(
        "wallet",
        "import",
        "--wallet",
        "carol",
        "--keystore",
        source,
        env={"ENCLAVA_WALLET_PASSWORD": "not it"},
        expect=1,
    )
    assert "wrong_password" in refused.stderr
    cli(
        "wallet",
        "import",
        "--wallet",
        "carol",
        "--keystore",
        source,
        env={"ENCLAVA_WALLET_PASSWORD": "other password"},
    )
    assert account.address in cli("wallet", "show", "--wallet", "carol", "--no-key").stdout


def test_wrong_password_is_refused_with_a_hint(cli):
    cli("wallet", "new", "--wallet", "dave")
    refused = cli(
        "wallet", "show", "--wallet", "dave", env={"ENCLAVA_WALLET_PASSWORD": "wrong"}, expect=1
    )
    assert "wrong_password" in refused.stderr and "hint" in refused.stderr


def test_mistakes_give_a_code_and_a_hint(cli):
    cli("wallet", "new", "--wallet", "erin")
    assert "wallet_exists" in cli("wallet", "new", "--wallet", "erin", expect=1).stderr
    assert "wallet_not_found" in cli("wallet", "show", "--wallet", "nobody", expect=1).stderr
    bad_key = cli(
        "wallet", "import", "--wallet", "frank", env={"ENCLAVA_PRIVATE_KEY": "0x1234"}, expect=1
    )
    assert "invalid_private_key" in bad_key.stderr
    assert "invalid_wallet_name" in cli("wallet", "new", "--wallet", "../evil", expect=1).stderr
