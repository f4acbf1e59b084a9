"""`enclava audit RESOURCE`: every key release and denial of your resource, from the CA's
hash-chained audit log, checked against the head you saw last time.

Exit codes: 0 the log verified (and still holds what you saw before), 1 an ordinary error (wrong
wallet, CA unreachable...), 2 the log was REWOUND or EDITED since you last read it (the saved head
is kept as evidence; nothing is overwritten).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from enclava.cli.context import DevnetOption, ManifestOption, WalletOption
from enclava.console import err_console, friendly_errors

if TYPE_CHECKING:
    from rich.console import Console

    from enclava.client.audit_watch import AuditLine, AuditWatcher
    from enclava.client.errors import AuditLogTampered

__all__ = ["audit_command", "TAMPERED_EXIT"]

#: the exit code of a rewound or edited log (1 stays "an ordinary error")
TAMPERED_EXIT = 2


def _line(line: AuditLine) -> str:
    """One entry: ``#SEQ DATE EVENT DECISION order=.. enclave=.. customer=..`` (+ why not)."""
    from rich.markup import escape

    colour = "green" if line.granted else "bold red"
    parts = [f"#{line.seq}", line.date, line.event, f"[{colour}]{line.decision}[/]"]
    if not line.granted:
        parts.append(f"reason={line.reason}" + (f" guard={line.guard}" if line.guard else ""))
    for label, value in (("order", line.order), ("enclave", line.enclave)):
        if value:
            parts.append(f"{label}={value}")
    if line.event == "key_release":
        parts.append(f"customer={line.customer or '?'}")
    text = " ".join(parts)
    if line.message and not line.granted:
        text += f"\n    [dim]{escape(line.message)}[/]"
    return text


def _loud(exc: AuditLogTampered, heads_file: Path) -> typer.Exit:
    from enclava.client.errors import AuditLogRewound

    what = "REWOUND" if isinstance(exc, AuditLogRewound) else "EDITED"
    err_console.print(f"[bold white on red] !!! THE CA'S AUDIT LOG WAS {what} !!! [/]")
    err_console.print(f"[bold red]error[/] [dim]({exc.code})[/]: {exc.message}")
    err_console.print(f"[yellow]hint[/]: {exc.hint}")
    err_console.print(f"the head you saw before is kept in {heads_file}")
    return typer.Exit(code=TAMPERED_EXIT)


def _show_round(
    console: Console,
    watcher: AuditWatcher,
    resource_id: int,
    first: bool,
    customer_of: Callable[[str], str | None],
) -> None:
    """One poll: verify, remember the head, print the entries not printed yet."""
    from enclava.client.audit_watch import describe

    new = watcher.poll()
    if first:
        head = watcher.head
        where = f"head #{head.seq} {head.entry_hash[:16]}..." if head else "an empty log"
        console.print(
            f"resource {resource_id}: the CA's audit log verified ({where}); "
            f"{len(new)} entries about this resource",
            highlight=False,
        )
    for line in describe(new, customer_of):
        console.print(_line(line), soft_wrap=True, highlight=False)


@friendly_errors
def audit_command(
    resource_id: int = typer.Argument(
        ..., min=1, metavar="RESOURCE", help="The id of your resource (engine, model, dataset)."
    ),
    watch: bool = typer.Option(False, "--watch", help="Keep polling and print new entries."),
    interval: float = typer.Option(
        5.0, "--interval", min=0.1, help="Seconds between polls with --watch."
    ),
    forget: bool = typer.Option(
        False,
        "--forget",
        help="Drop the head remembered for this resource first (only after resetting a devnet).",
    ),
    max_rounds: int = typer.Option(0, "--max-rounds", hidden=True, help="Stop after N polls."),
    wallet: str = WalletOption,
    devnet: str = DevnetOption,
    manifest: Path | None = ManifestOption,
) -> None:
    """Every key release and denial of RESOURCE, verified against the head you saw last time.

    Prints each entry (date, enclave, order, customer, granted or why not) and remembers the log's
    head under ENCLAVA_HOME. Exits 2, loudly, when the CA's log was rewound or edited since.
    """
    from rich.console import Console

    from enclava.cli.context import network, unlock_wallet
    from enclava.client.audit_watch import AuditWatcher, HeadStore
    from enclava.client.errors import AuditLogTampered
    from enclava.protocol.audit import AuditView

    console = Console()
    ctx = network(devnet, manifest)
    try:
        owner = unlock_wallet(wallet)
        store = HeadStore()
        identity = ctx.broker.identity()
        if forget and store.forget(identity["ca_id"], resource_id):
            console.print(f"forgot the head remembered for resource {resource_id}")

        def fetch() -> AuditView:
            return AuditView.model_validate(ctx.broker.audit(owner, resource_id))

        def customer_of(order_id: str) -> str | None:
            try:
                return ctx.market.order(order_id).terms.customer
            except Exception:  # noqa: BLE001 - only a label: an unreadable order shows as "?"
                return None

        watcher = AuditWatcher(fetch, store, ca_recipient=identity.get("age_recipient"))
        if watch:
            console.print(f"watching every {interval:g} s (Ctrl-C stops)", highlight=False)
        rounds = 0
        try:
            while True:
                _show_round(console, watcher, resource_id, rounds == 0, customer_of)
                rounds += 1
                if not watch or (max_rounds and rounds >= max_rounds):
                    break
                time.sleep(interval)
        except AuditLogTampered as exc:
            raise _loud(exc, store.path) from None
        except KeyboardInterrupt:
            pass
    finally:
        ctx.close()
