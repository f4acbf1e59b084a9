"""`enclava report ...`: anyone: re-check an order's integrity report independently.

`report verify` rebuilds the order from chain events and re-checks the report's signature, the
enclave's certification, the measurement allow-list and every hash (enclava.report); with
``--result-dir`` (the folder `enclava order result` wrote) it also hashes the downloaded result.
The exit code is 0 when every check passes (skipped ones aside) and 1 otherwise.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from enclava.cli.context import DevnetOption, ManifestOption, network
from enclava.cli.errors import ResultMissing
from enclava.cli.values import RESULT_CIPHERTEXT, check_order_id
from enclava.console import friendly_errors
from enclava.report import FAIL, OK, Checklist, verify_order_report

app = typer.Typer(
    help="Anyone: re-check an order's integrity report independently.", no_args_is_help=True
)
console = Console()
_STYLE = {OK: "[green]ok[/]", FAIL: "[bold red]FAIL[/]"}


@app.command()
@friendly_errors
def verify(
    order_id: str = typer.Argument(..., help="0x + 64 hex digits"),
    result_dir: Path = typer.Option(
        None,
        "--result-dir",
        file_okay=False,
        help=f"Folder from `enclava order result` (its {RESULT_CIPHERTEXT} is hashed).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the checklist as JSON."),
    devnet: str = DevnetOption,
    manifest: Path = ManifestOption,
) -> None:
    """Re-check an order's integrity report on chain; exit 0 if valid, 1 if not."""
    order_id = check_order_id(order_id)
    ciphertext = None
    if result_dir is not None:
        path = result_dir / RESULT_CIPHERTEXT
        if not path.is_file():
            raise ResultMissing(f"no {RESULT_CIPHERTEXT} in {result_dir}")
        ciphertext = path.read_bytes()
    ctx = network(devnet, manifest)
    checklist = verify_order_report(
        ctx.market.contracts,
        order_id,
        result_ciphertext=ciphertext,
        from_block=int(ctx.manifest.deploy_block or 0),
    )
    if as_json:
        typer.echo(json.dumps(checklist.to_dict(), indent=2, default=str))
    else:
        _print(checklist)
    if not checklist.valid:
        raise typer.Exit(code=1)


def _print(checklist: Checklist) -> None:
    table = Table(title=f"integrity report of order {checklist.order_id}")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for item in checklist.items:
        table.add_row(item.title or item.name, _STYLE.get(item.status, item.status), item.reason)
    console.print(table)
    verdict = "[bold green]VALID[/]" if checklist.valid else "[bold red]NOT VALID[/]"
    console.print(f"verdict: {verdict}")
    typer.echo(f"valid={str(checklist.valid).lower()}")
