"""CLI tests: the `enclava` command in-process (CliRunner) on the session's real devnet.

Every module gets its own wallet folder (``ENCLAVA_HOME``) and funded fresh wallets, so modules
never share keys or nonces.
"""

from __future__ import annotations

import traceback

import pytest
from eth_account import Account
from typer.testing import CliRunner

from enclava.chain import ChainClient
from enclava.cli.main import app
from enclava.devnet import dev_account

FUNDER_INDEX = 13  # a devnet account no role and no other test folder uses
PASSWORD = "correct horse battery staple"


class Cli:
    """Runs `enclava ...` in-process with a fixed environment; fails loudly on a traceback."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    def __call__(
        self,
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        expect: int = 0,
    ):
        result = self.runner.invoke(
            app, [str(a) for a in args], input=input, env={**self.env, **(env or {})}
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(
                "command raised:\n" + "".join(traceback.format_exception(result.exception))
            )
        assert "Traceback" not in result.output, result.output
        assert result.exit_code == expect, f"exit {result.exit_code} != {expect}:\n{result.output}"
        return result


@pytest.fixture(scope="module")
def cli(devnet_manifest, tmp_path_factory) -> Cli:
    home = tmp_path_factory.mktemp("enclava-home")
    return Cli(
        {
            "ENCLAVA_HOME": str(home),
            "ENCLAVA_WALLET_PASSWORD": PASSWORD,
            "COLUMNS": "200",
            "ENCLAVA_MANIFEST": f"{devnet_manifest.state_dir}/manifest.json",
        }
    )


def fund(manifest, address: str, eth: int = 20) -> None:
    ChainClient(manifest.rpc_url).transfer(dev_account(FUNDER_INDEX), address, eth * 10**18)


def funded_wallet(cli: Cli, manifest, name: str, eth: int = 20):
    """A fresh key, funded on the devnet and imported as wallet ``name``; returns the account."""
    account = Account.create()
    fund(manifest, account.address, eth)
    cli("wallet", "import", "--wallet", name, env={"ENCLAVA_PRIVATE_KEY": account.key.hex()})
    return account
