"""`enclava model ...`: model owners publish engines and weights and serve the tail of a split model."""

from __future__ import annotations

import typer

from enclava.cli.tail import serve_tail_command

app = typer.Typer(help="Model owners: publish engines and weights, serve the tail of a split model.",
                  no_args_is_help=True)
app.command("serve-tail")(serve_tail_command)
