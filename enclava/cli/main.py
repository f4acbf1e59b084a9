"""The `enclava` command line: one entry point for every party."""

from __future__ import annotations

import typer

from enclava import __version__
from enclava.cli import balance, data, fhe, model, order, report, wallet
from enclava.cli import devnet as devnet_cli
from enclava.cli import measure as measure_cli

app = typer.Typer(
    name="enclava",
    help="Enclava: a marketplace for confidential AI. Run `enclava COMMAND --help` for details.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(devnet_cli.app, name="devnet")
for _name, _module in (
    ("wallet", wallet),
    ("model", model),
    ("data", data),
    ("order", order),
    ("balance", balance),
    ("report", report),
    ("fhe", fhe),
):
    app.add_typer(_module.app, name=_name)
app.command(name="measure")(measure_cli.measure_command)


@app.command()
def version() -> None:
    """Print the Enclava version."""
    typer.echo(__version__)


if __name__ == "__main__":
    app()
