"""What the driver tells about progress: job counts per step and state, to a sink the caller chooses.

The displays (rich bars, plain lines) are ``gwasflow.commands.progress``; the driver knows only this protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from gwasflow.core.states import JobState

__all__ = ["Counts", "NullProgress", "ProgressSink"]

#: step -> job state -> number of jobs
Counts = Mapping[str, Mapping[JobState, int]]


class ProgressSink(Protocol):
    def update(self, counts: Counts) -> None: ...

    def close(self) -> None: ...


class NullProgress:
    """Shows nothing (``--quiet``, tests)."""

    def update(self, counts: Counts) -> None:
        return None

    def close(self) -> None:
        return None
