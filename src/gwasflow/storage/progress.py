"""A byte counter for staging and publishing: a rich bar on a terminal, nothing when quiet."""

from __future__ import annotations

from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

__all__ = ["ByteProgress", "NullByteProgress", "RichByteProgress", "make_byte_progress"]


class ByteProgress(Protocol):
    """Told the total once, then every chunk moved, then closed."""

    def start(self, description: str, total_bytes: int) -> None: ...

    def advance(self, n_bytes: int) -> None: ...

    def close(self) -> None: ...


class NullByteProgress:
    def start(self, description: str, total_bytes: int) -> None:
        return None

    def advance(self, n_bytes: int) -> None:
        return None

    def close(self) -> None:
        return None


class RichByteProgress:
    """One bar: bytes done / total, speed, time left."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
        )
        self._task: TaskID | None = None

    def start(self, description: str, total_bytes: int) -> None:
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(description, total=total_bytes)
        else:
            self._progress.update(self._task, description=description, total=total_bytes, completed=0)

    def advance(self, n_bytes: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n_bytes)

    def close(self) -> None:
        if self._task is not None:
            self._progress.stop()
            self._task = None


def make_byte_progress(*, quiet: bool) -> ByteProgress:
    """A rich bar when stderr is a terminal and not ``quiet``; otherwise nothing."""
    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        return NullByteProgress()
    return RichByteProgress(console)
