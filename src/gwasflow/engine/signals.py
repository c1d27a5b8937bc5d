"""SIGTERM handled like Ctrl-C, so `kill` and `gwasflow cancel` stop a run as cleanly as an interrupt."""

from __future__ import annotations

import contextlib
import signal
import threading
import types
from collections.abc import Iterator

__all__ = ["interrupts_deferred", "sigterm_as_interrupt"]


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


@contextlib.contextmanager
def interrupts_deferred(*, redeliver: bool = True) -> Iterator[None]:
    """Hold SIGINT and SIGTERM off for the block; on leaving it, deliver one that arrived (if ``redeliver``).

    For steps that must not be cut in half: starting a process and recording its handle, handing a batch to
    sbatch and recording what it took, cancelling what is running. A signal that arrives inside is delivered
    again to this process once the previous handlers are back, so it acts exactly as it would have (usually
    KeyboardInterrupt). Outside the main thread (no signal handlers there) the block runs unprotected.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: types.FrameType | None) -> None:
        caught.append(signum)

    # a handler installed outside Python (getsignal() is None) cannot be put back: such a signal is not held
    ours = [sig for sig in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(sig) is not None]
    previous = {sig: signal.signal(sig, hold) for sig in ours}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if caught and redeliver:
            signal.raise_signal(caught[0])
