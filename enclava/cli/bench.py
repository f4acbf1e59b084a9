"""`enclava bench ...`: benchmarks that run real orders through the devnet."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from enclava.cli.errors import friendly_errors

app = typer.Typer(help="Benchmarks that run real orders through the devnet.", no_args_is_help=True)
console = Console()


@app.command()
@friendly_errors
def e2e(
    orders: int = typer.Option(20, "--orders", "-n", min=1, help="How many digits orders to run."),
    devnet: str = typer.Option(
        "", "--devnet", help="Use this devnet (left running); default: a private one."
    ),
    out: Path = typer.Option(None, "--out", help="JSON file (default bench/results/e2e.json)."),
) -> None:
    """N confidential digits orders vs the same engine run plainly: p50/p95 per stage, throughput, gas."""
    from enclava.benchmarks.e2e import DEFAULT_OUT, run_e2e

    target = out or DEFAULT_OUT
    with console.status(f"running {orders} orders") as status:
        result = run_e2e(
            orders,
            devnet_name=devnet or None,
            out=target,
            progress=lambda i, row: status.update(
                f"order {i + 1}/{orders} done in {row['confidential_s']:.2f} s; running the next"
            ),
        )
    _print(result)
    console.print(f"wrote {target}")


def _print(result: dict) -> None:
    console.print(
        f"[bold]ratio confidential / plain process (median): {result['ratio_vs_plain_process']:.2f}[/]"
    )
    console.print(
        f"[bold]orders per minute (one worker, sequential): {result['orders_per_minute']:.2f}[/]"
    )
    console.print(
        f"confidential order p50 {result['confidential_s']['p50']:.2f} s, plain process p50 "
        f"{result['plain_process_s']['p50']:.2f} s; {result['orders']} orders of "
        f"{result['images_per_order']} images"
    )
    gas = result["gas_per_order"]
    console.print(
        f"gas per order (p50): {gas['p50']:,.0f} = "
        + " + ".join(f"{k} {v:,.0f}" for k, v in gas["steps_p50"].items())
    )
    table = Table(title="End-to-end order stages", show_header=True)
    table.add_column("stage")
    table.add_column("p50 ms", justify="right")
    table.add_column("p95 ms", justify="right")
    for stage, value in result["stages"].items():
        table.add_row(stage, f"{value['p50'] * 1000:,.1f}", f"{value['p95'] * 1000:,.1f}")
    console.print(table)
