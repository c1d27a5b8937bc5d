"""Turn how an attempt ended into an error type, from typed evidence only.

What is read, in this order:

1. the executor's cause (:class:`~gwasflow.core.states.ExecCause`, typed at
   the executor boundary): its time limit, the cluster's out-of-memory or
   node-failure verdict, a lost attempt, a cancel by someone else, a setup that
   cannot start the command (image not found, working directory not mounted);
2. the output check of an attempt that exited 0 (:class:`OutputProblem`);
3. what the program itself printed last, as whole lines at the end of its
   log, together with its exit status (:func:`program_verdict`);
4. the signal that ended it; anything else is a crash.

Never read: the executor's free-text reason, the command line, paths. A
folder named ``oom-kill`` or a path with a space cannot change the type.
The error type decides retries (``engine/retry.py``).
"""

from __future__ import annotations

import enum
import re
import signal as _signal

from gwasflow.core.states import ErrorType, ExecCause

__all__ = [
    "BAD_INPUT_EXIT",
    "BAD_INPUT_LINE",
    "OutputProblem",
    "classify",
    "program_verdict",
]


class OutputProblem(enum.StrEnum):
    """What the output check found wrong with an attempt that exited 0."""

    MISSING = "missing"
    TRUNCATED = "truncated"


#: exit status of the built-in engine (and of gwasflow) for bad input
BAD_INPUT_EXIT = 2
#: the last line the built-in engine prints on stderr when it rejects its input (``regenie/cli.py``)
BAD_INPUT_LINE = "gwasflow-error: bad_input"
# regenie ends with exit status 1 after its one fatal message "ERROR: <what>", which may follow an unfinished
# progress line (" * phenotypes : [file] ERROR: ..."); after it, regenie may print only its --help hint.
_REGENIE_EXIT = 1
_REGENIE_ERROR = re.compile(r"^(?: \* [^\n]*\] )?ERROR: (?P<what>\S.*)$")
_REGENIE_HINT = "For list of arguments, run with option --help"
# Python's last traceback line for an allocation failure (numpy's subclass included); Python exits 1.
_PY_MEMORY_ERROR = re.compile(r"^(?:[\w.]+\.)?_?(?:Array)?MemoryError(?::.*)?$")
_CPP_BAD_ALLOC = "terminate called after throwing an instance of 'std::bad_alloc'"
_KILLING_SIGNALS = frozenset({_signal.SIGKILL, _signal.SIGTERM, _signal.SIGINT})

_BY_CAUSE = {
    ExecCause.OUT_OF_MEMORY: ErrorType.OUT_OF_MEMORY,
    ExecCause.TIMEOUT: ErrorType.TIMEOUT,
    ExecCause.INTERRUPTED: ErrorType.INTERRUPTED,
    ExecCause.CANCELLED_EXTERNALLY: ErrorType.CANCELLED_EXTERNALLY,
    ExecCause.BAD_CONFIG: ErrorType.BAD_CONFIG,
}
_BY_OUTPUT = {OutputProblem.MISSING: ErrorType.MISSING_OUTPUT, OutputProblem.TRUNCATED: ErrorType.TRUNCATED_OUTPUT}


def classify(
    *,
    exit_code: int | None,
    signal: int | None,
    cause: ExecCause | None = None,
    output: OutputProblem | None = None,
    log_tail: str = "",
) -> ErrorType:
    """The error type of a failed attempt (never called for a success); see the module docstring."""
    if cause is not None:
        return _BY_CAUSE[cause]
    if output is not None:
        return _BY_OUTPUT[output]
    verdict = program_verdict(exit_code=exit_code, signal=signal, log_tail=log_tail)
    if verdict is not None:
        return verdict
    if signal is not None and signal in _KILLING_SIGNALS:
        return ErrorType.KILLED
    return ErrorType.CRASH


def program_verdict(*, exit_code: int | None, signal: int | None, log_tail: str) -> ErrorType | None:
    """What the program said of its own failure in its last lines, if it said something we know; else None.

    * the built-in engine: last line exactly :data:`BAD_INPUT_LINE`, exit status 2 -> ``bad_input``;
    * regenie: its fatal ``ERROR: ...`` message last (or before its --help hint), exit status 1 ->
      ``bad_input`` (``out_of_memory`` for its ``bad_alloc caught, not enough memory``);
    * Python: a ``MemoryError`` as the last traceback line, exit status 1 -> ``out_of_memory``;
    * C++: the ``std::bad_alloc`` terminate line, ended by SIGABRT -> ``out_of_memory``.
    """
    lines = [line.rstrip("\r") for line in log_tail.splitlines() if line.strip()]
    if not lines:
        return None
    last = lines[-1]
    if exit_code == BAD_INPUT_EXIT and last == BAD_INPUT_LINE:
        return ErrorType.BAD_INPUT
    if exit_code == _REGENIE_EXIT:
        fatal = lines[-2] if last == _REGENIE_HINT and len(lines) > 1 else last
        match = _REGENIE_ERROR.match(fatal)
        if match:
            return ErrorType.OUT_OF_MEMORY if "bad_alloc" in match["what"] else ErrorType.BAD_INPUT
        if _PY_MEMORY_ERROR.match(last):
            return ErrorType.OUT_OF_MEMORY
    if signal == _signal.SIGABRT and _CPP_BAD_ALLOC in lines[-3:]:
        return ErrorType.OUT_OF_MEMORY
    return None
