"""The demo's closing summary, printed with rich: times, gas, transactions, CIDs, each order's
stages and verification checklist, the report pages, and every check with its verdict."""

from __future__ import annotations

from rich.console import Console, JustifyMethod
from rich.table import Table

from demo.facts import DemoFacts, OrderFacts
from demo.orders import STAGE_ORDER

__all__ = ["print_summary"]

_STATUS = {"ok": "[green]ok[/]", "fail": "[red]FAIL[/]", "skipped": "[yellow]skipped[/]"}


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def _pairs(
    console: Console,
    title: str,
    columns: tuple[str, str],
    rows: dict[str, str],
    *,
    justify: JustifyMethod = "left",
) -> None:
    """A two-column table of ``rows`` (label → value)."""
    table = Table(title=title, show_header=True)
    table.add_column(columns[0])
    table.add_column(columns[1], justify=justify)
    for label, value in rows.items():
        table.add_row(label, value)
    console.print(table)


def _transactions(console: Console, facts: DemoFacts) -> None:
    table = Table(title="Transactions", show_header=True)
    for column in ("what", "tx hash", "block"):
        table.add_column(column)
    table.add_column("gas", justify="right")
    for tx in facts.txs:
        table.add_row(tx.label, tx.tx_hash, str(tx.block_number), f"{tx.gas_used:,}")
    table.add_row("[bold]total[/]", "", "", f"[bold]{sum(tx.gas_used for tx in facts.txs):,}[/]")
    console.print(table)


def _order(console: Console, order: OrderFacts) -> None:
    console.print(f"[bold]Order: {order.title}[/]  {order.order_id}  (gas {order.gas:,})")
    stages = Table(title="stages", show_header=True)
    stages.add_column("stage")
    stages.add_column("time", justify="right")
    for name in (*STAGE_ORDER, "report_verify", "total"):
        if name in order.stages:
            stages.add_row(f"[bold]{name}[/]" if name == "total" else name, _ms(order.stages[name]))
    console.print(stages)
    for key, value in order.outcome.items():
        console.print(f"  {key}: {value}")
    if order.checklist is not None:
        checks = Table(
            title=f"Report verification ({'valid' if order.checklist.valid else 'NOT VALID'})",
            show_header=True,
        )
        checks.add_column("check")
        checks.add_column("result")
        checks.add_column("detail", overflow="fold")
        for item in order.checklist.items:
            checks.add_row(
                item.title or item.name, _STATUS.get(item.status, item.status), item.reason
            )
        console.print(checks)
    if not order.page_verified:
        verdict = "[red]not verified[/]"
    elif order.page_verdict == "verified":
        verdict = "[green]verified[/]"
    else:  # the page's warning, e.g. "verified (simulated TEE), 1 check skipped"
        verdict = f"[yellow]{order.page_verdict}[/]"
    console.print(f"  report page: {order.page_url}  ({verdict})")


def print_summary(facts: DemoFacts, console: Console | None = None) -> None:
    console = console or Console()
    console.rule("[bold]Enclava demo: summary")
    _pairs(console, f"Devnet {facts.devnet!r}", ("service", "where"), facts.services)
    _pairs(
        console,
        "Story stages",
        ("stage", "time"),
        {label: _ms(seconds) for label, seconds in facts.stage_times.items()},
        justify="right",
    )
    _transactions(console, facts)
    _pairs(console, "Encrypted content on IPFS", ("what", "CID"), facts.cids)
    for order in facts.orders:
        _order(console, order)
    checks = Table(title="Checks", show_header=True)
    checks.add_column("check")
    checks.add_column("result")
    checks.add_column("detail", overflow="fold")
    for name, ok, detail in facts.checks:
        checks.add_row(name, "[green]pass[/]" if ok else "[red]FAIL[/]", detail)
    console.print(checks)
