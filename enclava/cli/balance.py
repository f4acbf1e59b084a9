"""`enclava balance ...`: credited balances: show and withdraw what the marketplace owes you."""

from __future__ import annotations

import typer

app = typer.Typer(help="Credited balances: show and withdraw what the marketplace owes you.", no_args_is_help=True)
