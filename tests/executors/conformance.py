"""The conformance suite every executor passes (local now; Slurm and Batch later).

Subclass :class:`ExecutorConformance`, provide the ``executor`` fixture and,
if the backend has one, ``parallel_limit`` (the ``max_parallel`` the fixture
configured). Jobs are ``sys.executable -c ...`` one-liners with short time
limits, so the suite is backend-neutral as long as the backend's workers
share the test's Python and file system.
"""

from __future__ import annotations

import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import pytest

from gwasflow.core.states import FINISHED_EXEC_STATES, ExecState
from gwasflow.executors.base import ExecStatus, Executor, Submission
from gwasflow.plan.model import Resources


def python_argv(code: str) -> tuple[str, ...]:
    """An argv running a Python one-liner with the test's interpreter."""
    return (sys.executable, "-c", code)


def wait_finished(
    executor: Executor, handles: Sequence[str], *, timeout_s: float = 20.0, interval_s: float = 0.05
) -> dict[str, ExecStatus]:
    """Poll all ``handles`` in one call per round until every one is finished; fail past the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        statuses = executor.poll(handles)
        if all(s.state in FINISHED_EXEC_STATES for s in statuses.values()):
            return statuses
        if time.monotonic() > deadline:
            pytest.fail(f"attempts not finished after {timeout_s} s: {statuses}")
        time.sleep(interval_s)


def wait_state(executor: Executor, handle: str, state: ExecState, *, timeout_s: float = 20.0) -> None:
    """Poll one handle until it reaches ``state``; fail past the deadline."""
    deadline = time.monotonic() + timeout_s
    while executor.poll([handle])[handle].state is not state:
        if time.monotonic() > deadline:
            pytest.fail(f"{handle} never reached {state.value}")
        time.sleep(0.05)


class SubmitFn(Protocol):
    """Submit a Python one-liner as one attempt; return its handle."""

    def __call__(self, code: str, *, job_id: str | None = None, time_s: int = 60) -> str: ...


class ExecutorConformance(ABC):
    """Behaviour every :class:`Executor` must have."""

    #: the max_parallel the ``executor`` fixture configures, or None if the backend has no such limit
    parallel_limit: int | None = None

    @abstractmethod
    @pytest.fixture
    def executor(self, tmp_path: Path) -> Iterator[Executor]: ...

    @pytest.fixture
    def submit(self, executor: Executor, tmp_path: Path) -> Iterator[SubmitFn]:
        """``submit(code, job_id=..., time_s=...) -> handle`` for Python one-liners."""
        counter = iter(range(1, 10_000))

        def _submit(code: str, *, job_id: str | None = None, time_s: int = 60) -> str:
            n = next(counter)
            sub = Submission(
                job_id=job_id or f"job-{n}",
                attempt=1,
                argv=python_argv(code),
                log_path=tmp_path / "logs" / f"job-{n}.log",
                resources=Resources(cpus=1, memory_mb=256, time_s=time_s),
                cwd=tmp_path,
            )
            return executor.submit(sub)

        yield _submit

    def test_executor__satisfies_protocol(self, executor: Executor) -> None:
        assert isinstance(executor, Executor)
        assert isinstance(executor.name, str) and executor.name

    def test_submit__trivial_job_succeeds_with_output_in_log(
        self, executor: Executor, submit: SubmitFn
    ) -> None:
        handle = submit("print('hello from gwasflow')", job_id="hello")
        status = wait_finished(executor, [handle])[handle]
        assert status.state is ExecState.SUCCEEDED
        assert status.exit_code == 0 and status.signal is None
        assert "hello from gwasflow" in executor.logs(handle)

    def test_submit__nonzero_exit_is_failed_with_code(self, executor: Executor, submit: SubmitFn) -> None:
        handle = submit("import sys; print('bad input', file=sys.stderr); sys.exit(3)")
        status = wait_finished(executor, [handle])[handle]
        assert status.state is ExecState.FAILED
        assert status.exit_code == 3 and status.signal is None
        assert "bad input" in executor.logs(handle)

    def test_poll__killed_by_sigkill_reports_signal_9(self, executor: Executor, submit: SubmitFn) -> None:
        handle = submit("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
        status = wait_finished(executor, [handle])[handle]
        assert status.state is ExecState.FAILED
        assert status.signal == 9

    def test_poll__time_limit_fails_with_timeout_reason(self, executor: Executor, submit: SubmitFn) -> None:
        handle = submit("import time; time.sleep(60)", time_s=1)
        status = wait_finished(executor, [handle], timeout_s=30)[handle]
        assert status.state is ExecState.FAILED
        assert status.reason.startswith("timeout")

    def test_cancel__running_job_becomes_cancelled(self, executor: Executor, submit: SubmitFn) -> None:
        handle = submit("import time; print('started', flush=True); time.sleep(60)")
        wait_state(executor, handle, ExecState.RUNNING)
        executor.cancel([handle])
        status = wait_finished(executor, [handle])[handle]
        assert status.state is ExecState.CANCELLED

    def test_poll__many_handles_in_one_call(self, executor: Executor, submit: SubmitFn) -> None:
        handles = [submit(f"print({i} * {i})") for i in range(12)]
        statuses = wait_finished(executor, handles, timeout_s=60)
        assert set(statuses) == set(handles)
        assert all(s.state is ExecState.SUCCEEDED for s in statuses.values())
        assert str(7 * 7) in executor.logs(handles[7])

    def test_submit__handles_are_unique(self, executor: Executor, submit: SubmitFn) -> None:
        handles = [submit("pass") for _ in range(5)]
        assert len(set(handles)) == 5
        wait_finished(executor, handles)

    def test_submit__runs_in_cwd_with_env(self, executor: Executor, tmp_path: Path) -> None:
        code = "import os; print('cwd=' + os.getcwd()); print('flag=' + os.environ['GWASFLOW_TEST_FLAG'])"
        sub = Submission(
            "env-job", 2, python_argv(code), tmp_path / "deep" / "env.log", Resources(time_s=60),
            cwd=tmp_path, env={"GWASFLOW_TEST_FLAG": "on"},
        )  # fmt: skip
        handle = executor.submit(sub)
        assert wait_finished(executor, [handle])[handle].state is ExecState.SUCCEEDED
        log = executor.logs(handle)
        assert f"cwd={tmp_path.resolve()}" in log and "flag=on" in log

    def test_poll__max_parallel_respected(self, executor: Executor, submit: SubmitFn, tmp_path: Path) -> None:
        if self.parallel_limit is None:
            pytest.skip("backend has no parallelism limit")
        stamps = tmp_path / "stamps"
        stamps.mkdir()
        n = 3 * self.parallel_limit
        # Each job marks its start, then waits (at most 8 s) until as many jobs run as the limit allows (or all
        # have started) before it ends: jobs that share the slots are sure to overlap however slowly a busy
        # machine starts them, and an executor that used fewer slots is caught when the waits run out.
        code = (
            "import time, pathlib, sys; p = pathlib.Path(sys.argv[1]); d = p.parent; a = time.time()\n"
            "(d / (p.name + '.started')).write_text('')\n"
            "def running():\n"
            "    started = len(list(d.glob('*.started')))\n"
            f"    return started == {n} or started - len([f for f in d.iterdir() if '.' not in f.name]) "
            f">= {self.parallel_limit}\n"
            "while not running() and time.time() < a + 8:\n"
            "    time.sleep(0.02)\n"
            "time.sleep(0.05)\n"
            "p.write_text(f'{a} {time.time()}')"
        )
        handles = [submit(f"import sys; sys.argv = ['', r'{stamps}/{i}']\n{code}") for i in range(n)]
        statuses = wait_finished(executor, handles, timeout_s=60)
        assert all(s.state is ExecState.SUCCEEDED for s in statuses.values())
        spans = [tuple(map(float, f.read_text().split())) for f in stamps.iterdir() if "." not in f.name]
        assert len(spans) == n
        events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans], key=lambda e: (e[0], e[1]))
        running = peak = 0
        for _, delta in events:
            running += delta
            peak = max(peak, running)
        assert peak <= self.parallel_limit
        assert peak == self.parallel_limit  # and the slots were actually used
