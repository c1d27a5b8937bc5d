"""The conformance suite every executor passes: local, Slurm and AWS Batch (with moto and a compute double).

Subclass :class:`ExecutorConformance`, provide the ``executor`` fixture and ``parallel_limit`` (how many
attempts the fixture's executor runs at once). A backend that cannot pass a test for a reason of its own
overrides that test, says why, and asserts what it does instead (never a skip). Jobs are
``sys.executable -c ...`` one-liners (or a script in ``tmp_path``) with short time limits, so the suite is
backend-neutral as long as the backend's workers share the test's Python and file system.
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


# Each job marks its start, then waits (at most 8 s) until as many jobs run as the limit allows (or all have
# started) before it ends: jobs that share the slots are sure to overlap however slowly a busy machine starts
# them, and an executor that used fewer slots is caught when the waits run out. No fixed sleep has to overlap:
# a job counts another as running from its '.started' mark, written after that job's span began, and a span
# ends only after its own check, so two jobs that saw each other overlap. argv: the stamp file to write.
OVERLAP_SCRIPT = """import pathlib, sys, time
p = pathlib.Path(sys.argv[1]); d = p.parent; a = time.time()
(d / (p.name + '.started')).write_text('')
def running():
    started = len(list(d.glob('*.started')))
    return started == {n} or started - len([f for f in d.iterdir() if '.' not in f.name]) >= {limit}
while not running() and time.time() < a + 8:
    time.sleep(0.02)
time.sleep(0.05)
p.write_text(f'{{a}} {{time.time()}}')
"""


def peak_overlap(stamps: Path) -> int:
    """The most spans (``start end`` in each file without a dot in its name) that held at one moment."""
    spans = [tuple(map(float, f.read_text().split())) for f in stamps.iterdir() if "." not in f.name]
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])  # an end sorts before a start
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    return peak


class SubmitFn(Protocol):
    """Submit a Python one-liner as one attempt; return its handle."""

    def __call__(self, code: str, *, job_id: str | None = None, time_s: int = 60) -> str: ...


class ExecutorConformance(ABC):
    """Behaviour every :class:`Executor` must have."""

    #: how many attempts the ``executor`` fixture lets run at once (its max_parallel, or the capacity it bounds)
    parallel_limit: int

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

    def test_poll__max_parallel_respected(self, executor: Executor, tmp_path: Path) -> None:
        """All jobs go in one batch (Slurm throttles each array to max_parallel; Batch arrays share the capacity)."""
        stamps = tmp_path / "stamps"
        stamps.mkdir()
        n = 3 * self.parallel_limit
        script = tmp_path / "overlap.py"
        script.write_text(OVERLAP_SCRIPT.format(n=n, limit=self.parallel_limit))
        subs = [
            Submission(f"p{i}", 1, (sys.executable, str(script), str(stamps / str(i))),
                       tmp_path / "logs" / f"p{i}.log", Resources(cpus=1, memory_mb=256, time_s=60), cwd=tmp_path)
            for i in range(n)
        ]  # fmt: skip
        handles = executor.submit_batch(subs)
        statuses = wait_finished(executor, handles, timeout_s=60)
        assert all(s.state is ExecState.SUCCEEDED for s in statuses.values())
        assert len([f for f in stamps.iterdir() if "." not in f.name]) == n
        peak = peak_overlap(stamps)
        assert peak <= self.parallel_limit
        assert peak == self.parallel_limit  # and the slots were actually used
