"""`enclava devnet up | down | status | logs | fund`."""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from enclava import devnet
from enclava.cli.errors import AddressInvalid, FaucetEmpty, NotADevnet, PriceInvalid
from enclava.console import friendly_errors

app = typer.Typer(
    help="Run the local devnet: anvil (chain), Kubo (IPFS) and Redis.", no_args_is_help=True
)
console = Console()

NameOption = typer.Option(
    devnet.DEFAULT_DEVNET, "--name", "-n", help="Devnet name; different names run side by side."
)
# the same option as enclava.cli.context's, which this module does not import (it loads web3)
ManifestOption = typer.Option(
    None,
    "--manifest",
    envvar="ENCLAVA_MANIFEST",
    dir_okay=False,
    help="Path of a manifest.json to use instead of the devnet's.",
)


@app.command()
@friendly_errors
def up(
    name: str = NameOption,
    deploy: bool = typer.Option(True, help="Deploy the contracts after the chain starts."),
) -> None:
    """Start the devnet (idempotent) and write its manifest."""
    with console.status(f"starting devnet {name!r}"):
        manifest = devnet.up(name, deploy=deploy)
    console.print(f"[green]devnet {name!r} is up[/]; manifest: {manifest.state_dir}/manifest.json")
    _print_manifest(manifest)


@app.command()
@friendly_errors
def down(
    name: str = NameOption,
    all_: bool = typer.Option(False, "--all", help="Stop every devnet of this checkout."),
) -> None:
    """Stop the devnet's processes; state stays on disk until the folder is removed."""
    names = devnet.devnet_names() if all_ else [name]
    for each in names:
        survivors = devnet.down(each)
        if survivors:
            console.print(f"[red]devnet {each!r}: processes survived: {survivors}[/]")
            raise typer.Exit(code=1)
        console.print(f"devnet {each!r} stopped")


@app.command()
@friendly_errors
def status(name: str = NameOption) -> None:
    """Show each service's health; exit code 1 if anything is down."""
    health = devnet.status(name)
    if not health:
        console.print(f"devnet {name!r} is not running (start it with `enclava devnet up`)")
        raise typer.Exit(code=1)
    _print_manifest(devnet.load_manifest(name), health)
    if not all(health.values()):
        raise typer.Exit(code=1)


@app.command()
@friendly_errors
def logs(
    service: str = typer.Argument(..., help="anvil, ipfs or redis"),
    name: str = NameOption,
    lines: int = typer.Option(50, "--lines", "-l"),
    follow: bool = typer.Option(False, "--follow", "-f"),
) -> None:
    """Print the last lines of a service's log (and follow it with -f)."""
    path = devnet.log_file(name, service)
    with open(path, errors="replace") as handle:
        for line in deque(handle, maxlen=lines):
            typer.echo(line.rstrip("\n"))
        while follow:
            line = handle.readline()
            if line:
                typer.echo(line.rstrip("\n"))
            else:
                time.sleep(0.3)


#: What `devnet fund` sends when no amount is given: enough for many orders and their gas.
DEFAULT_FUND = "10eth"


@app.command()
@friendly_errors
def fund(
    address: str = typer.Argument(
        ..., help="An address (0x...) or the name of one of your wallets."
    ),
    amount: str = typer.Argument(DEFAULT_FUND, help="wei, '5gwei' or '0.5eth'."),
    name: str = NameOption,
    manifest: Path = ManifestOption,
) -> None:
    """Send test ETH to an address from the devnet's faucet account (the local devnet only)."""
    from enclava.chain.config import read_manifest
    from enclava.chain.rpc import ChainClient
    from enclava.cli.context import eth
    from enclava.cli.values import parse_price

    to = _recipient(address)
    wei = parse_price(amount)
    if wei == 0:
        raise PriceInvalid("an amount of 0 sends nothing")
    loaded = read_manifest(Path(manifest)) if manifest else devnet.load_manifest(name)
    chain = ChainClient(loaded.rpc_url)
    faucet = devnet.dev_account("faucet")
    _require_devnet(loaded, chain, faucet.address)
    # estimated without the value: a node refuses to estimate a transfer the sender cannot afford
    if chain.balance(faucet.address) < wei + chain.max_gas_cost(faucet.address, {"to": to}):
        raise FaucetEmpty(f"the faucet holds {eth(chain.balance(faucet.address))}")
    sent = chain.transfer(faucet, to, wei)
    console.print(
        f"[green]sent {eth(wei)}[/] to {to} from the devnet faucet (dev account "
        f"{devnet.ROLES['faucet']}): tx {sent.tx_hash}"
    )
    console.print(f"  balance now {eth(chain.balance(to))}")
    typer.echo(f"funded_wei={wei}")


def _recipient(address: str) -> str:
    """``address`` checksummed, or the address of the wallet named ``address``."""
    from eth_utils.address import is_address, to_checksum_address

    if address.lower().startswith("0x"):
        if not is_address(address):
            raise AddressInvalid(f"{address!r} is not an account address")
        return str(to_checksum_address(address))
    from enclava.wallet import InvalidWalletName, wallet_info

    try:
        return wallet_info(address).address
    except InvalidWalletName as exc:
        raise AddressInvalid(f"{address!r} is neither an address nor a wallet name") from exc


def _require_devnet(manifest: devnet.Manifest, chain: Any, faucet: str) -> None:
    """Refuse anything but a local devnet: its manifest says chain 31337, records the anvil it
    started and lists the dev accounts, and the RPC answers chain id 31337."""
    from enclava.devnet.services import CHAIN_ID

    if int(manifest.chain_id) != CHAIN_ID or "anvil" not in manifest.services:
        raise NotADevnet(
            f"the manifest of {manifest.name!r} (chain id {manifest.chain_id}) is not a devnet's"
        )
    if faucet not in manifest.accounts:
        raise NotADevnet(f"the manifest of {manifest.name!r} does not list the devnet accounts")
    rpc_chain = chain.chain_id()
    if rpc_chain != CHAIN_ID:
        raise NotADevnet(f"the RPC {manifest.rpc_url} answers chain id {rpc_chain}, not {CHAIN_ID}")


def _print_manifest(manifest: devnet.Manifest, health: dict[str, bool] | None = None) -> None:
    table = Table(title=f"devnet {manifest.name}", show_header=True)
    table.add_column("service")
    table.add_column("url")
    table.add_column("pid")
    if health is not None:
        table.add_column("healthy")
    for record in manifest.services.values():
        row = [record.name, record.url, str(record.pid)]
        if health is not None:
            row.append("[green]yes[/]" if health.get(record.name) else "[red]no[/]")
        table.add_row(*row)
    console.print(table)
    console.print(f"chain id {manifest.chain_id}; contracts: {len(manifest.contracts)} deployed")
    for contract, address in sorted(manifest.contracts.items()):
        console.print(f"  {contract}: {address}")
