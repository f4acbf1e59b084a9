"""`enclava fhe ...`: fHE split inference: CKKS keys, encrypted inputs, split orders and their results."""

from __future__ import annotations

import typer

app = typer.Typer(help="FHE split inference: CKKS keys, encrypted inputs, split orders and their results.", no_args_is_help=True)
