"""Submissions the executor did not take: recorded, retried with back-off, or the end of the run; never lost.

The executor here is the real local one behind a thin fake that makes ``submit_batch`` fail the way sbatch and
SubmitJob do: after taking part of a batch, with a transient or a permanent error.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from gwasflow.core.events import EventLog
from gwasflow.core.rundir import RunDir
from gwasflow.core.states import ErrorType, JobState, RunState, Step
from gwasflow.engine.driver import Driver
from gwasflow.engine.retry import decide
from gwasflow.errors import SubmitError
from gwasflow.executors.base import ExecStatus, Submission
from gwasflow.executors.local import LocalExecutor
from gwasflow.plan.model import Job, JobGraph, JobKind, Resources
from gwasflow.spec.model import RetrySpec
from gwasflow.store import MemoryStore

PY = sys.executable


class _Crash(BaseException):
    """Stands for the driver process dying (kill -9): no handler of the driver catches it."""


class _FlakySubmit:
    """A local executor whose first ``failures`` batches fail (the first one after taking ``take`` attempts)."""

    name = "local"

    def __init__(self, inner: LocalExecutor, *, failures: int, take: int = 0, permanent: bool = False,
                 crash_on_poll: bool = False) -> None:
        self.inner, self.failures, self.take, self.permanent = inner, failures, take, permanent
        self.crash_on_poll = crash_on_poll
        self.calls: list[list[str]] = []  # the job ids of each submit_batch call

    def use_events(self, events: EventLog) -> None:
        self.inner.use_events(events)

    def submit(self, submission: Submission) -> str:
        return self.submit_batch([submission])[0]

    def submit_batch(self, submissions: Sequence[Submission]) -> list[str]:
        self.calls.append([s.job_id for s in submissions])
        if self.failures <= 0:
            return self.inner.submit_batch(submissions)
        self.failures -= 1
        taken = dict(enumerate(self.inner.submit_batch(submissions[: self.take])))
        self.take = 0
        raise SubmitError("sbatch: error: Batch job submission failed: Socket timed out on send/recv operation",
                          permanent=self.permanent, submitted=taken)

    def reattach(self, handles: Sequence[str]) -> list[str]:
        return self.inner.reattach(handles)

    def poll(self, handles: Sequence[str]) -> dict[str, ExecStatus]:
        if self.crash_on_poll:
            raise _Crash
        return self.inner.poll(handles)

    def cancel(self, handles: Sequence[str]) -> None:
        self.inner.cancel(handles)

    def logs(self, handle: str, *, tail: int = 50) -> str:
        return self.inner.logs(handle, tail=tail)

    def close(self) -> None:
        self.inner.close()

    def stop_strays(self, run_id: str, job_id: str, attempt: int, ran_on: str) -> None:
        self.inner.stop_strays(run_id, job_id, attempt, ran_on)


def _jobs(tmp_path: Path, n: int) -> list[Job]:
    """``n`` independent jobs (same resources: one batch), each appending its id to ``runs.txt`` once per run."""
    runs = tmp_path / "runs.txt"
    jobs = []
    for i in range(n):
        out = tmp_path / f"out{i}.txt"
        code = f"open({str(runs)!r}, 'a').write('j{i}\\n'); open({str(out)!r}, 'w').write('ok')"
        jobs.append(Job(id=f"j{i}", step=Step.STEP2, kind=JobKind.COMMAND, argv=(PY, "-c", code),
                        outputs=(str(out),), resources=Resources(time_s=30)))
    return jobs


def _store(graph: JobGraph) -> MemoryStore:
    store = MemoryStore()
    store.create_run("r1", "t", "{}", "{}")
    store.add_jobs("r1", [(j.id, j.step.value) for j in graph])
    return store


def _driver(tmp_path: Path, graph: JobGraph, store: MemoryStore, executor: object, retry: RetrySpec) -> Driver:
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    return Driver(run_id="r1", graph=graph, store=store, executor=executor,  # type: ignore[arg-type]
                  rundir=RunDir(tmp_path / "out"), workspace=ws, poll_interval_s=0.02, retry=retry)


def _runs(tmp_path: Path) -> list[str]:
    return sorted((tmp_path / "runs.txt").read_text().split())


def _events(tmp_path: Path, name: str) -> list[dict[str, object]]:
    lines = (tmp_path / "out" / ".gwasflow" / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == name]


def test_driver_run__partly_submitted_batch_is_tracked_and_the_rest_resubmitted_after_back_off(
    tmp_path: Path,
) -> None:
    graph = JobGraph(_jobs(tmp_path, 4))
    store = _store(graph)
    executor = _FlakySubmit(LocalExecutor(max_parallel=4), failures=3, take=2)
    try:
        outcome = _driver(tmp_path, graph, store, executor, RetrySpec(submit_backoff_s=0.05)).run()
    finally:
        executor.close()
    assert outcome.state is RunState.SUCCEEDED, outcome.message
    assert _runs(tmp_path) == ["j0", "j1", "j2", "j3"]  # every job ran exactly once
    # the first call took j0, j1; j2 and j3 failed three submissions in a row, then went through
    assert executor.calls[0] == ["j0", "j1", "j2", "j3"] and executor.calls[-1] == ["j2", "j3"]
    assert len(executor.calls) == 4
    for job_id in ("j0", "j1"):
        assert [(a.state, a.error_type) for a in store.list_attempts("r1", job_id)] == [("succeeded", None)]
    for job_id in ("j2", "j3"):
        attempts = store.list_attempts("r1", job_id)
        assert [(a.state, a.error_type) for a in attempts] == [("failed", "submit_failed")] * 3 + [("succeeded", None)]
        assert "Socket timed out" in attempts[0].reason and "\n" not in attempts[0].reason
    assert len(_events(tmp_path, "submit_failed")) == 6


def test_driver_run__submission_failing_past_its_tries_ends_the_run_failed_with_its_reason(tmp_path: Path) -> None:
    graph = JobGraph(_jobs(tmp_path, 2))
    store = _store(graph)
    executor = _FlakySubmit(LocalExecutor(max_parallel=2), failures=100)
    try:
        outcome = _driver(tmp_path, graph, store, executor, RetrySpec(submit_attempts=3, submit_backoff_s=0.01)).run()
    finally:
        executor.close()
    assert outcome.state is RunState.FAILED
    assert "submit_failed" in outcome.message and "Socket timed out" in outcome.message
    assert "\n" not in outcome.message
    assert len(executor.calls) == 3  # 3 tries, then the run stops
    assert [a.error_type for a in store.list_attempts("r1", "j0")] == ["submit_failed"] * 3
    assert store.get_run("r1").state is RunState.FAILED
    sentinel = tmp_path / "out" / ".gwasflow" / "FAILED"
    assert sentinel.exists() and "Socket timed out" in sentinel.read_text()
    assert not (tmp_path / "runs.txt").exists()


def test_driver_run__permanent_refusal_is_not_retried_and_what_was_submitted_finishes(tmp_path: Path) -> None:
    graph = JobGraph(_jobs(tmp_path, 3))
    store = _store(graph)
    executor = _FlakySubmit(LocalExecutor(max_parallel=3), failures=1, take=1, permanent=True)
    try:
        outcome = _driver(tmp_path, graph, store, executor, RetrySpec()).run()
    finally:
        executor.close()
    assert outcome.state is RunState.FAILED and "submit_refused" in outcome.message
    assert len(executor.calls) == 1
    assert _runs(tmp_path) == ["j0"]  # the part sbatch took ran to its end
    states = {j.job_id: j.state for j in store.list_jobs("r1")}
    assert states["j0"] is JobState.SUCCEEDED
    assert {states["j1"], states["j2"]} == {JobState.FAILED}
    assert [a.error_type for a in store.list_attempts("r1", "j1")] == ["submit_refused"]


def test_driver_run__resume_after_a_partial_submission_does_not_submit_the_taken_part_again(tmp_path: Path) -> None:
    graph = JobGraph(_jobs(tmp_path, 4))
    store = _store(graph)
    inner = LocalExecutor(max_parallel=4)
    try:
        first = _FlakySubmit(inner, failures=1, take=2, crash_on_poll=True)
        with contextlib.suppress(_Crash):
            _driver(tmp_path, graph, store, first, RetrySpec(submit_backoff_s=0.05)).run()
        recorded = {a.job_id: a.handle for a in store.active_attempts("r1")}
        assert set(recorded) == {"j0", "j1"} and all(recorded.values())  # the taken part is in the store
        again = _FlakySubmit(inner, failures=0)
        outcome = _driver(tmp_path, graph, store, again, RetrySpec(submit_backoff_s=0.05)).run()
    finally:
        inner.close()
    assert outcome.state is RunState.SUCCEEDED, outcome.message
    assert again.calls == [["j2", "j3"]]  # j0 and j1 were re-attached, not submitted again
    assert _runs(tmp_path) == ["j0", "j1", "j2", "j3"]


def test_decide__failed_submissions_have_their_own_budget_and_doubling_back_off() -> None:
    policy = RetrySpec(max_attempts=1, submit_attempts=5, submit_backoff_s=4.0)
    res = Resources()
    delays = [decide(policy, [ErrorType.SUBMIT_FAILED] * n, res) for n in range(1, 6)]
    assert [d.retry for d in delays] == [True, True, True, True, False]
    assert [d.delay_s for d in delays[:4]] == [4.0, 8.0, 16.0, 32.0]  # 5 tries over a minute
    # a crash after submissions that failed is judged on the crashes alone (max_attempts=1: no retry)
    assert not decide(policy, [ErrorType.SUBMIT_FAILED, ErrorType.CRASH], res).retry
    # failed submissions of earlier attempts do not count against the next outage
    assert decide(policy, [ErrorType.SUBMIT_FAILED] * 4 + [ErrorType.CRASH, ErrorType.SUBMIT_FAILED], res).retry


def test_decide__refused_submission_is_never_retried() -> None:
    decision = decide(RetrySpec(), [ErrorType.SUBMIT_REFUSED], Resources())
    assert not decision.retry and "never retried" in decision.why


class _InterruptedWhileSubmitting(_FlakySubmit):
    """Ctrl-C arrives while the executor is still busy with a batch whose processes have already started."""

    def submit_batch(self, submissions: Sequence[Submission]) -> list[str]:
        handles = self.inner.submit_batch(submissions)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)  # the interrupt lands here, before the handles are back with the driver
        return handles


def _live_processes_naming(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text in (entry / "cmdline").read_text() and "\nState:\tZ" not in (entry / "status").read_text():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_driver_run__interrupt_during_submission_still_cancels_the_started_jobs(tmp_path: Path) -> None:
    marker = f"sleeper-{tmp_path.name}"
    code = f"import time; time.sleep(60)  # {marker}"
    job = Job(id="j0", step=Step.STEP2, kind=JobKind.COMMAND, argv=(PY, "-c", code), resources=Resources(time_s=120))
    graph = JobGraph([job])
    store = _store(graph)
    executor = _InterruptedWhileSubmitting(LocalExecutor(max_parallel=1, kill_grace_s=0.5), failures=0)
    try:
        outcome = _driver(tmp_path, graph, store, executor, RetrySpec()).run()
        left = _live_processes_naming(marker)  # before close(), which would kill anything left anyway
    finally:
        executor.close()
    assert outcome.state is RunState.CANCELLED
    assert left == []
    assert [(a.state, bool(a.handle)) for a in store.list_attempts("r1", "j0")] == [("cancelled", True)]


def test_driver_run__resume_after_a_refused_submission_runs_only_what_never_ran(tmp_path: Path) -> None:
    graph = JobGraph(_jobs(tmp_path, 3))
    store = _store(graph)
    inner = LocalExecutor(max_parallel=3)
    try:
        refused = _FlakySubmit(inner, failures=1, take=1, permanent=True)
        assert _driver(tmp_path, graph, store, refused, RetrySpec()).run().state is RunState.FAILED
        fixed = _FlakySubmit(inner, failures=0)  # e.g. the partition was created: resume
        outcome = _driver(tmp_path, graph, store, fixed, RetrySpec()).run()
    finally:
        inner.close()
    assert outcome.state is RunState.SUCCEEDED, outcome.message
    assert fixed.calls == [["j1", "j2"]]
    assert _runs(tmp_path) == ["j0", "j1", "j2"]  # each ran once
    assert [a.error_type for a in store.list_attempts("r1", "j1")] == ["submit_refused", None]
