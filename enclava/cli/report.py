"""`enclava report ...`: anyone: re-check an order's integrity report independently."""

from __future__ import annotations

import typer

app = typer.Typer(help="Anyone: re-check an order's integrity report independently.", no_args_is_help=True)
