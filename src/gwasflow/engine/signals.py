"""SIGTERM handled like Ctrl-C, so `kill` and `gwasflow cancel` stop a run as cleanly as an interrupt."""

from __future__ import annotations

import contextlib
import signal
import types
from collections.abc import Iterator

__all__ = ["sigterm_as_interrupt"]


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt (main thread only), so every ``finally`` runs."""

    def handler(signum: int, frame: types.FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
