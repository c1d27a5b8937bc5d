"""Turn how an attempt ended into an error type.

Inputs are what every executor can report: exit code, signal, the executor's
own reason text (already mapped to words at the executor boundary) and the
tail of the job's log. The error type decides retries (``engine/retry.py``).
"""

from __future__ import annotations

import enum
import re
import signal as _signal

__all__ = ["ErrorType", "classify"]


class ErrorType(enum.StrEnum):
    OUT_OF_MEMORY = "out_of_memory"
    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"
    KILLED = "killed"
    BAD_INPUT = "bad_input"
    MISSING_OUTPUT = "missing_output"
    TRUNCATED_OUTPUT = "truncated_output"
    CRASH = "crash"


_OOM = re.compile(r"out of memory|oom[-_ ]kill|MemoryError|std::bad_alloc|OutOfMemoryError", re.IGNORECASE)
_INTERRUPT = re.compile(r"node[_ ]fail|preempt|spot|host ec2 .* terminated|interrupt", re.IGNORECASE)
# The built-in engine's input errors and regenie's own ("ERROR: ...") on bad files or flags.
_BAD_INPUT = re.compile(r"^error: |^ERROR: (could not open|invalid|unknown|cannot)", re.IGNORECASE | re.MULTILINE)

# Exit status the built-in engine and gwasflow use for bad input.
BAD_INPUT_EXIT = 2


def classify(
    *, exit_code: int | None, signal: int | None, reason: str = "", log_tail: str = ""
) -> ErrorType:
    """The error type of a failed attempt (never called for a success)."""
    if reason.lower().startswith("timeout"):
        return ErrorType.TIMEOUT
    if _OOM.search(reason) or _OOM.search(log_tail):
        return ErrorType.OUT_OF_MEMORY
    if _INTERRUPT.search(reason):
        return ErrorType.INTERRUPTED
    if reason.startswith("missing output"):
        return ErrorType.MISSING_OUTPUT
    if reason.startswith("truncated output"):
        return ErrorType.TRUNCATED_OUTPUT
    if signal is not None and signal in (_signal.SIGKILL, _signal.SIGTERM, _signal.SIGINT):
        return ErrorType.KILLED
    if exit_code == BAD_INPUT_EXIT and _BAD_INPUT.search(log_tail):
        return ErrorType.BAD_INPUT
    return ErrorType.CRASH
