"""`enclava model ...`: model owners: publish engines and weights, serve the tail of a split model."""

from __future__ import annotations

import typer

app = typer.Typer(help="Model owners: publish engines and weights, serve the tail of a split model.", no_args_is_help=True)
