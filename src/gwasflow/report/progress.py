"""Progress of a report being written (``gwasflow report``): a rich bar on a terminal, plain lines elsewhere.

The report's work is counted in items (one per phenotype summarized and
plotted, then the pages, then ``report.html``); the writer says how many there
are, then what it finished, one item at a time.
"""

from __future__ import annotations

import sys
import time
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

__all__ = ["ItemProgress", "NullItemProgress", "PlainItemProgress", "RichItemProgress", "make_item_progress"]


class ItemProgress(Protocol):
    """Told the number of items once, then each item finished, then closed."""

    def start(self, description: str, total: int) -> None: ...

    def advance(self, what: str) -> None: ...

    def close(self) -> None: ...


class NullItemProgress:
    def start(self, description: str, total: int) -> None:
        return None

    def advance(self, what: str) -> None:
        return None

    def close(self) -> None:
        return None


class RichItemProgress:
    """One bar: items done / total, the last item, time elapsed."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[what]}"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
        )
        self._task: TaskID | None = None

    def start(self, description: str, total: int) -> None:
        self._progress.start()
        self._task = self._progress.add_task(description, total=total, what="")

    def advance(self, what: str) -> None:
        if self._task is not None:
            self._progress.update(self._task, advance=1, what=what)

    def close(self) -> None:
        self._progress.stop()


class PlainItemProgress:
    """``<description>: <done>/<total> <item>`` on stderr, at most every ``every_s`` and at the last item."""

    def __init__(self, every_s: float = 5.0) -> None:
        self._every = every_s
        self._description, self._total, self._done, self._at = "", 0, 0, 0.0

    def start(self, description: str, total: int) -> None:
        self._description, self._total, self._done, self._at = description, total, 0, time.monotonic()

    def advance(self, what: str) -> None:
        self._done += 1
        now = time.monotonic()
        if now - self._at >= self._every or self._done == self._total:
            self._at = now
            print(f"{self._description}: {self._done}/{self._total} {what}", file=sys.stderr, flush=True)

    def close(self) -> None:
        return None


def make_item_progress(*, quiet: bool = False) -> ItemProgress:
    """Rich bar when stderr is a terminal, plain lines otherwise, nothing when quiet."""
    if quiet:
        return NullItemProgress()
    console = Console(stderr=True)
    return RichItemProgress(console) if console.is_terminal else PlainItemProgress()
