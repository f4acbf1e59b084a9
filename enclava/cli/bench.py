"""`enclava bench ...`: benchmarks that run real orders through the devnet."""

from __future__ import annotations

import typer

app = typer.Typer(help="Benchmarks that run real orders through the devnet.", no_args_is_help=True)
