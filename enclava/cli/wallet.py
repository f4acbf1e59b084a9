"""`enclava wallet ...`: your wallet: an encrypted keystore; your result-decryption key is derived
from it."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from enclava import wallet as wallets
from enclava.cli.context import (
    DevnetOption,
    ManifestOption,
    WalletOption,
    eth,
    network,
    unlock_wallet,
    wallet_password,
)
from enclava.console import friendly_errors
from enclava.crypto import wallet_recipient
from enclava.errors import EnclavaError

app = typer.Typer(
    help="Your wallet: an encrypted keystore; your result-decryption key is derived from it.",
    no_args_is_help=True,
)
console = Console()
KEY_ENV = "ENCLAVA_PRIVATE_KEY"


@app.command()
@friendly_errors
def new(name: str = WalletOption) -> None:
    """Create a wallet with a fresh random key, encrypted under a password you choose."""
    wallets.wallet_path(name)  # a bad name is refused before any prompt
    if wallets.wallet_path(name).exists():
        raise wallets.WalletExists(
            f"a wallet named {name!r} already exists at {wallets.wallet_path(name)}"
        )
    info = wallets.create_wallet(name, _new_password())
    console.print(f"[green]wallet {name!r} created[/]: {info.address}")
    console.print(f"keystore: {info.path}")
    console.print("Keep the password: without it the keystore (and your results) cannot be opened.")
    console.print(
        f"It holds 0 ETH: fund it on the devnet with `enclava devnet fund {info.address}`; "
        "elsewhere send it ETH from a funded wallet."
    )


@app.command("import")
@friendly_errors
def import_(
    name: str = WalletOption,
    keystore: Path = typer.Option(
        None,
        "--keystore",
        dir_okay=False,
        help="An eth-account keystore JSON file to copy in (keeps its password).",
    ),
) -> None:
    """Import a private key (hidden prompt, or ENCLAVA_PRIVATE_KEY) or a keystore file."""
    wallets.wallet_path(name)
    if wallets.wallet_path(name).exists():
        raise wallets.WalletExists(
            f"a wallet named {name!r} already exists at {wallets.wallet_path(name)}"
        )
    if keystore is not None:
        if not keystore.is_file():
            raise wallets.InvalidKeystore(
                f"no keystore file at {keystore}", hint="Check the path of --keystore."
            )
        info = wallets.import_keystore(
            name, keystore, wallet_password(prompt="Password of the keystore")
        )
    else:
        key = os.environ.get(KEY_ENV) or typer.prompt("Private key (hex)", hide_input=True)
        info = wallets.import_private_key(name, key, _new_password())
    console.print(f"[green]wallet {name!r} imported[/]: {info.address}")
    console.print(f"keystore: {info.path}")


@app.command()
@friendly_errors
def show(
    name: str = WalletOption,
    devnet: str = DevnetOption,
    manifest: Path = ManifestOption,
    key: bool = typer.Option(
        True,
        "--key/--no-key",
        help="Unlock the wallet to show the result-recipient key derived from it.",
    ),
) -> None:
    """Address, balance on chain, credited balance and your result-recipient age key."""
    info = wallets.wallet_info(name)
    table = Table(title=f"wallet {name}", show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("address", info.address)
    table.add_row("keystore", str(info.path))
    try:
        ctx = network(devnet, manifest)
        table.add_row("network", f"{ctx.manifest.name} (chain {ctx.chain_id})")
        table.add_row("chain balance", eth(ctx.market.chain.balance(info.address)))
        table.add_row("credited balance", eth(ctx.market.credit_of(info.address)))
    except EnclavaError as exc:
        table.add_row("balances", f"unavailable: {exc.message} ({exc.hint})")
    if key:
        table.add_row("result recipient", wallet_recipient(unlock_wallet(name)))
    console.print(table)


@app.command("list")
@friendly_errors
def list_() -> None:
    """The wallets in your wallet folder."""
    found = wallets.list_wallets()
    if not found:
        console.print(
            f"no wallets in {wallets.wallets_dir()} (create one with `enclava wallet new`)"
        )
        return
    for info in found:
        console.print(f"{info.name}\t{info.address}")


def _new_password() -> str:
    password = wallet_password(confirm=True, prompt="New wallet password")
    if not password:
        raise wallets.EmptyPassword("an empty password would leave the key unprotected")
    return password
