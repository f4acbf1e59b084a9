"""`enclava order ...`: customers: place orders, watch them, fetch and decrypt results, cancel."""

from __future__ import annotations

import typer

app = typer.Typer(help="Customers: place orders, watch them, fetch and decrypt results, cancel.", no_args_is_help=True)
