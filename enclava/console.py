"""Turn Enclava errors into a short message and a hint on the terminal, never a stack trace.

The CLI commands and the service mains (``provider_node``, the CA, the loader, the API) wrap their
entry points in :func:`friendly_errors`, so it sits below all of them in the layer contract.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console

from enclava.errors import EnclavaError

__all__ = ["friendly_errors", "err_console", "print_error"]

err_console = Console(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")


def friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Print an :class:`EnclavaError` as ``error (code): message`` plus its hint, exit 1."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except EnclavaError as exc:
            print_error(exc)
            raise typer.Exit(code=1) from None

    return wrapper


def print_error(exc: EnclavaError) -> None:
    """``error (code): message`` and its hint on stderr."""
    err_console.print(f"[bold red]error[/] [dim]({exc.code})[/]: {exc.message}")
    err_console.print(f"[yellow]hint[/]: {exc.hint}")
