"""`enclava data ...`: data owners: encrypt and upload datasets, deposit their keys under a policy."""

from __future__ import annotations

import typer

app = typer.Typer(help="Data owners: encrypt and upload datasets, deposit their keys under a policy.", no_args_is_help=True)
