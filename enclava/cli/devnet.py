"""`enclava devnet up | down | status | logs`."""

from __future__ import annotations

import time
from collections import deque

import typer
from rich.console import Console
from rich.table import Table

from enclava import devnet
from enclava.console import friendly_errors

app = typer.Typer(
    help="Run the local devnet: anvil (chain), Kubo (IPFS) and Redis.", no_args_is_help=True
)
console = Console()

NameOption = typer.Option(
    devnet.DEFAULT_DEVNET, "--name", "-n", help="Devnet name; different names run side by side."
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
