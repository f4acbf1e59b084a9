"""Turn Enclava errors into a short message and a hint on the terminal, never a stack trace."""

from __future__ import annotations

import functools
from typing import Callable, TypeVar

import typer
from rich.console import Console

from enclava.errors import EnclavaError

__all__ = ["friendly_errors", "err_console"]

err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable)


def friendly_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except EnclavaError as exc:
            err_console.print(f"[bold red]error[/] [dim]({exc.code})[/]: {exc.message}")
            err_console.print(f"[yellow]hint[/]: {exc.hint}")
            raise typer.Exit(code=1) from None

    return wrapper  # type: ignore[return-value]
