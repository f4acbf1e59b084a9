"""`enclava wallet ...`: your wallet: an encrypted keystore; your result-decryption key is derived from it."""

from __future__ import annotations

import typer

app = typer.Typer(help="Your wallet: an encrypted keystore; your result-decryption key is derived from it.", no_args_is_help=True)
