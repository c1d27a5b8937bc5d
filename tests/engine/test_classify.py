"""Error classification from exit code, signal, reason and log tail."""

from __future__ import annotations

import signal

import pytest

from gwasflow.engine.classify import ErrorType, classify


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"exit_code": None, "signal": None, "reason": "timeout: exceeded 10 s"}, ErrorType.TIMEOUT),
        ({"exit_code": 1, "signal": None, "log_tail": "numpy MemoryError"}, ErrorType.OUT_OF_MEMORY),
        ({"exit_code": None, "signal": None, "reason": "NODE_FAIL"}, ErrorType.INTERRUPTED),
        ({"exit_code": None, "signal": signal.SIGKILL}, ErrorType.KILLED),
        ({"exit_code": 2, "signal": None, "log_tail": "error: --phenoFile x.txt: no such file"}, ErrorType.BAD_INPUT),
        ({"exit_code": 2, "signal": None, "log_tail": "Traceback ..."}, ErrorType.CRASH),
        ({"exit_code": 0, "signal": None, "reason": "missing output: a.gz"}, ErrorType.MISSING_OUTPUT),
        ({"exit_code": 139, "signal": None}, ErrorType.CRASH),
    ],
)
def test_classify__maps_each_ending(kwargs: dict[str, object], expected: ErrorType) -> None:
    assert classify(**kwargs) is expected  # type: ignore[arg-type]
