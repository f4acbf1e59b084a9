"""`enclava measure`: anyone: reproduce a component's measurement from a checkout.

The image of the trusted loader (or the CA) is a canonical archive of exactly the files it runs;
its SHA-384 is the measurement its simulated TEE reports and the CA checks, and the SHA-256 of that
(``measurement_digest``) is what the on-chain allow-list stores. Two checkouts of the same commit
print the same values on any machine; ``--list`` prints each file's SHA-256 so two differing images
can be compared file by file. See docs/MEASUREMENT.md.
"""

from __future__ import annotations

import hashlib
from enum import Enum
from pathlib import Path

import typer

from enclava.chain.types import measurement_digest
from enclava.cli.errors import ArchiveUnwritable
from enclava.console import friendly_errors
from enclava.measure import build_image, image_files, measure_archive

__all__ = ["measure_command"]


class ComponentChoice(str, Enum):
    loader = "loader"
    ca = "ca"


@friendly_errors
def measure_command(
    component: ComponentChoice = typer.Option(
        ComponentChoice.loader, "--component", "-c", help="Which component's image to measure."
    ),
    root: Path = typer.Option(
        Path("."),
        "--root",
        file_okay=False,
        help="The checkout (or site-packages folder) to measure; default: here.",
    ),
    archive: Path = typer.Option(
        None,
        "--archive",
        dir_okay=False,
        help="Also write the image's canonical archive (a ustar tar) to this file.",
    ),
    list_files: bool = typer.Option(
        False, "--list", help="List the image's files with their SHA-256."
    ),
) -> None:
    """Print the measurement (SHA-384 of the image) and the on-chain digest of a component."""
    root = root.resolve()
    files = image_files(root, component.value)
    image = build_image(root, component.value)
    measurement = measure_archive(image)
    if list_files:
        for relative in files:
            typer.echo(f"{hashlib.sha256((root / relative).read_bytes()).hexdigest()}  {relative}")
    if archive is not None:
        try:
            archive.write_bytes(image)
        except OSError as exc:
            raise ArchiveUnwritable(f"cannot write the archive to {archive}: {exc}") from exc
    typer.echo(f"component:   {component.value}")
    typer.echo(f"root:        {root}")
    typer.echo(f"files:       {len(files)} ({len(image)}-byte archive)")
    typer.echo(f"measurement: {measurement.hex()}")
    typer.echo(f"digest:      0x{measurement_digest(measurement).hex()}")
