"""Progress on the terminal (stderr, so stdout stays clean for scripts): byte transfers and
waits."""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterator

from rich.console import Console

if TYPE_CHECKING:  # rich.progress is imported where a bar is drawn (CLI start-up, issue 15)
    from rich.progress import Progress, TaskID

__all__ = ["transfer", "waiting", "progress_console", "Advance"]

progress_console = Console(stderr=True)


@contextmanager
def transfer(description: str, total: int | None) -> Iterator[Advance]:
    """A byte progress bar; yields ``advance(nbytes)`` to pass as a ``progress`` callback."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=progress_console, transient=False) as bar:
        task = bar.add_task(description, total=total)
        yield Advance(bar, task)


class Advance:
    """``advance(nbytes)``; ``set_total(n)`` once the size is known (e.g. after encryption)."""

    def __init__(self, bar: Progress, task: TaskID) -> None:
        self._bar, self._task = bar, task

    def __call__(self, nbytes: int) -> None:
        self._bar.advance(self._task, nbytes)

    def set_total(self, total: int) -> None:
        self._bar.update(self._task, total=total)


@contextmanager
def waiting(description: str) -> Iterator[Callable[[str], None]]:
    """A spinner with elapsed time; yields ``update(text)`` to change its description."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=progress_console,
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(text: str) -> None:
            bar.update(task, description=text)

        yield update
