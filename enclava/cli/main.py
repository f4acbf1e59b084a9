"""The `enclava` command line: one entry point for every party.

Start-up is kept short (issue 15): :data:`SUBCOMMANDS` names each command's module and help line,
so ``enclava --help`` lists every command without importing one, and ``enclava X ...`` imports
only X's module (which imports web3, torch or tenseal only where it needs them). A command module
that cannot be imported fails with :class:`enclava.cli.errors.CommandUnavailable` when that command
is invoked, not at start-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any, Literal

import typer

# typer >= 0.29 vendors click: its groups and commands are built on these classes, not click's
from typer import _click as click
from typer._click.exceptions import UsageError
from typer.core import TyperCommand, TyperGroup

from enclava import __version__
from enclava.cli.errors import CommandUnavailable

__all__ = ["app", "SUBCOMMANDS", "Subcommand", "LazyGroup"]


@dataclass(frozen=True)
class Subcommand:
    """Where a subcommand lives: ``target`` is ``"module:attr"``; ``kind`` says whether ``attr``
    is a ``typer.Typer`` (a group) or a plain command function."""

    target: str
    help: str
    kind: Literal["group", "command"]


#: name -> where it lives and its help line, in the order ``--help`` lists them.
#: tests/cli/test_cli_startup.py keeps each help line equal to the module's own.
SUBCOMMANDS: dict[str, Subcommand] = {
    "devnet": Subcommand(
        "enclava.cli.devnet:app",
        "Run the local devnet: anvil (chain), Kubo (IPFS) and Redis.",
        "group",
    ),
    "wallet": Subcommand(
        "enclava.cli.wallet:app",
        "Your wallet: an encrypted keystore; your result-decryption key is derived from it.",
        "group",
    ),
    "model": Subcommand(
        "enclava.cli.model:app",
        "Model owners: publish engines and weights, serve the tail of a split model.",
        "group",
    ),
    "engine": Subcommand(
        "enclava.cli.engine:app",
        "Engine owners: try an engine locally in the real sandbox before publishing it.",
        "group",
    ),
    "data": Subcommand(
        "enclava.cli.data:app",
        "Data owners: encrypt and upload datasets, deposit their keys under a policy.",
        "group",
    ),
    "order": Subcommand(
        "enclava.cli.order:app",
        "Customers: place orders, watch them, fetch and decrypt results, cancel.",
        "group",
    ),
    "service": Subcommand(
        "enclava.cli.service:app",
        "Confidential serving: token prices, services, deposits, verify saved responses.",
        "group",
    ),
    "chat": Subcommand(
        "enclava.cli.chat:chat_command",
        "Chat with a confidential service: verified before anything is sent, every answer signed.",
        "command",
    ),
    "balance": Subcommand(
        "enclava.cli.balance:app",
        "Credited balances: show and withdraw what the marketplace owes you.",
        "group",
    ),
    "report": Subcommand(
        "enclava.cli.report:app",
        "Anyone: re-check an order's integrity report independently.",
        "group",
    ),
    "audit": Subcommand(
        "enclava.cli.audit:audit_command",
        "Every key release and denial of RESOURCE, verified against the head you saw last time.",
        "command",
    ),
    "fhe": Subcommand(
        "enclava.cli.fhe:app",
        "FHE split inference: CKKS keys, encrypted inputs, split orders and their results.",
        "group",
    ),
    "measure": Subcommand(
        "enclava.cli.measure:measure_command",
        "Print the measurement (SHA-384 of the image) and the on-chain digest of a component.",
        "command",
    ),
}


def load_subcommand(name: str, entry: Subcommand) -> click.Command:
    """Import ``entry``'s module and build its click command (the one import ``enclava X`` pays).

    Raises :class:`enclava.cli.errors.CommandUnavailable` when the module cannot be imported.
    """
    module_name, _, attr = entry.target.partition(":")
    try:
        target = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise CommandUnavailable(
            f"the `{name}` command cannot be loaded: {exc}",
            hint=(
                f"Reinstall Enclava with its dependencies (`pip install -e .`); {module_name} "
                "must import."
            ),
        ) from exc
    if entry.kind == "group":
        command: click.Command = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name=name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """A typer group whose :data:`SUBCOMMANDS` are imported only when invoked.

    While help (or shell completion) lists the commands, each lazy one is a placeholder carrying
    the table's help line; resolving a command for a run imports its module once.
    """

    lazy: dict[str, Subcommand] = SUBCOMMANDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.suggest_commands = False  # typer's suggestions know only the loaded commands
        self._listing = False

    @contextmanager
    def _placeholders(self) -> Iterator[None]:
        self._listing = True
        try:
            yield
        finally:
            self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy, *(name for name in self.commands if name not in self.lazy)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        entry = self.lazy.get(cmd_name)
        if entry is None:
            return None
        if self._listing:
            return TyperCommand(cmd_name, help=entry.help)
        try:
            command = load_subcommand(cmd_name, entry)
        except CommandUnavailable as exc:  # said like any command's error, exit 1
            from enclava.console import print_error

            print_error(exc)
            raise typer.Exit(1) from None
        self.commands[cmd_name] = command
        return command

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with self._placeholders():
            super().format_help(ctx, formatter)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[Any]:
        with self._placeholders():
            return super().shell_complete(ctx, incomplete)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """click's resolution; a typo's suggestions come from every command, lazy ones too."""
        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches:
                suggestions = ", ".join(repr(m) for m in matches)
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {suggestions}?"
            raise


app = typer.Typer(
    name="enclava",
    cls=LazyGroup,
    help="Enclava: a marketplace for confidential AI. Run `enclava COMMAND --help` for details.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    # a callback keeps `app` a group (typer turns a one-command app into that command)
    pass


@app.command()
def version() -> None:
    """Print the Enclava version."""
    typer.echo(__version__)


if __name__ == "__main__":
    app()
