"""Progress display for a running graph: rich bars on a terminal, plain lines elsewhere.

The driver reports job counts per step to a :class:`~gwasflow.engine.progress.ProgressSink`; these are
the sinks the ``gwasflow`` command shows.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from gwasflow.core.states import FINISHED_JOB_STATES, JobState
from gwasflow.engine.progress import Counts, NullProgress, ProgressSink

__all__ = ["PlainProgress", "RichProgress", "make_progress"]


def _done(states: Mapping[JobState, int]) -> int:
    return sum(n for s, n in states.items() if s in FINISHED_JOB_STATES)


def _failed(states: Mapping[JobState, int]) -> int:
    return sum(states.get(s, 0) for s in (JobState.FAILED, JobState.UPSTREAM_FAILED, JobState.CANCELLED))


class RichProgress:
    """One bar per step: finished / total, running count, failures."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description:<8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
        )
        self._tasks: dict[str, TaskID] = {}
        self._progress.start()

    def update(self, counts: Counts) -> None:
        for step, states in counts.items():
            total = sum(states.values())
            if step not in self._tasks:
                self._tasks[step] = self._progress.add_task(step, total=total, detail="")
            running = states.get(JobState.RUNNING, 0) + states.get(JobState.QUEUED, 0)
            failed = _failed(states)
            detail = f"{running} active" + (f", [red]{failed} failed[/red]" if failed else "")
            self._progress.update(self._tasks[step], completed=_done(states), total=total, detail=detail)

    def close(self) -> None:
        self._progress.stop()


class PlainProgress:
    """A line per step whenever its finished count changes (at most every ``every_s``)."""

    def __init__(self, every_s: float = 5.0) -> None:
        self._last: dict[str, tuple[int, int]] = {}
        self._every = every_s
        self._at = 0.0

    def update(self, counts: Counts) -> None:
        now = time.monotonic()
        snapshot = {step: (_done(s), sum(s.values())) for step, s in counts.items()}
        finished_step = any(d == t and self._last.get(k, (0, 0))[0] != d for k, (d, t) in snapshot.items())
        if snapshot == self._last or (now - self._at < self._every and not finished_step):
            return
        self._last, self._at = snapshot, now
        line = "  ".join(f"{step} {d}/{t}" for step, (d, t) in snapshot.items())
        print(f"progress: {line}", file=sys.stderr, flush=True)

    def close(self) -> None:
        return None


def make_progress(*, quiet: bool = False) -> ProgressSink:
    """Rich bars when stderr is a terminal, plain lines otherwise, nothing when quiet."""
    if quiet:
        return NullProgress()
    console = Console(stderr=True)
    return RichProgress(console) if console.is_terminal else PlainProgress()
