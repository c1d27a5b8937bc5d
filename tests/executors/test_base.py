"""ExecutorBase: the lifecycle every backend shares, on a scripted backend and a fake clock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from gwasflow.core.events import EventLog
from gwasflow.core.states import ExecCause, ExecState, ExecutorKind
from gwasflow.errors import SubmitError
from gwasflow.executors import base
from gwasflow.executors.base import ExecStatus, Executor, ExecutorBase, Submission
from gwasflow.plan.model import Resources


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Scripted(ExecutorBase):
    """A backend whose queries answer from ``answers`` (handle -> status; absent: not shown)."""

    name = ExecutorKind.SLURM  # a cluster backend: its attempts run elsewhere
    lost_words = "unknown to the script"

    def __init__(self, *, fail_after: int | None = None, raise_in_query: Exception | None = None) -> None:
        super().__init__(poll_min_s=1.0, poll_max_s=4.0, lost_after_s=10.0)
        self.answers: dict[str, ExecStatus] = {}
        self.queries: list[list[str]] = []
        self.cancelled: list[list[str]] = []
        self.fail_after, self.raise_in_query = fail_after, raise_in_query
        self.count = 0

    def _submit(self, submissions: Sequence[Submission], handles: dict[int, str]) -> None:
        for i, _ in enumerate(submissions):
            if self.fail_after is not None and i >= self.fail_after:
                raise SubmitError("the queue said no")
            self.count += 1
            handles[i] = f"h{self.count}"

    def _query(self, handles: list[str], now: float) -> dict[str, ExecStatus] | None:
        self.queries.append(list(handles))
        if self.raise_in_query is not None:
            raise self.raise_in_query
        return {h: self.answers[h] for h in handles if h in self.answers}

    def _cancel(self, handles: list[str]) -> None:
        self.cancelled.append(list(handles))


def _sub(tmp_path: Path, name: str = "j", argv: tuple[str, ...] = ("true",)) -> Submission:
    return Submission(name, 1, argv, tmp_path / f"{name}.log", Resources(time_s=60))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(base.time, "monotonic", fake)
    return fake


def test_executorbase__is_an_executor() -> None:
    assert isinstance(_Scripted(), Executor)


def test_poll__backs_off_while_nothing_changes_and_hurries_after_a_change(clock: _Clock, tmp_path: Path) -> None:
    ex = _Scripted()
    handle = ex.submit(_sub(tmp_path))
    ex.answers[handle] = ExecStatus(ExecState.PENDING, reason="queued")
    asked_at = []
    for _ in range(30):  # 15 s in steps of 0.5 s
        clock.now += 0.5
        before = len(ex.queries)
        ex.poll([handle])
        if len(ex.queries) > before:
            asked_at.append(clock.now - 1000.0)
    # 1 s after submitting (a change: pending/queued), then 1, 2, 4, 4 ... s apart while nothing changes
    assert asked_at == [1.0, 2.0, 4.0, 8.0, 12.0]
    ex.answers[handle] = ExecStatus(ExecState.RUNNING)
    clock.now += 4.0
    assert ex.poll([handle])[handle].state is ExecState.RUNNING
    clock.now += 1.0
    ex.poll([handle])
    assert len(ex.queries) == 7  # after a change, the next query comes poll_min_s later


def test_poll__unseen_handle_pending_then_lost_after_lost_after_s(clock: _Clock, tmp_path: Path) -> None:
    ex = _Scripted()
    handle = ex.submit(_sub(tmp_path))
    clock.now += 9.0
    assert ex.poll([handle])[handle].state is ExecState.PENDING  # not shown for 9 s: may still come
    clock.now += 2.0  # the next query (backed off to 2 s): not shown for 11 s
    status = ex.poll([handle])[handle]
    assert (status.state, status.cause) == (ExecState.LOST, ExecCause.INTERRUPTED)
    assert status.reason == f"unknown to the script: {handle} (not seen for 10 s)"
    clock.now += 100.0
    assert ex.poll([handle])[handle] is status and len(ex.queries) == 2  # final: never asked again


def test_poll__a_handle_seen_first_now_is_queried_at_once(clock: _Clock) -> None:
    ex = _Scripted()
    ex.answers["old"] = ExecStatus(ExecState.RUNNING)
    assert ex.reattach(["old"]) == []  # the scripted backend re-attaches nothing by itself
    assert ex.poll(["old"])["old"].state is ExecState.RUNNING and ex.queries == [["old"]]


def test_cancel__only_live_handles_reach_the_backend_and_cancel_wins(clock: _Clock, tmp_path: Path) -> None:
    ex = _Scripted()
    done, live = ex.submit_batch([_sub(tmp_path, "a"), _sub(tmp_path, "b")])
    ex.answers[done] = ExecStatus(ExecState.SUCCEEDED, exit_code=0)
    clock.now += 1.0
    ex.poll([done, live])
    ex.cancel([done, live, live])
    assert ex.cancelled == [[live]]
    ex.answers[live] = ExecStatus(ExecState.FAILED, exit_code=143, cpu_time_s=2.0)
    clock.now += 1.0
    status = ex.poll([live])[live]
    assert (status.state, status.exit_code, status.cpu_time_s) == (ExecState.CANCELLED, 143, 2.0)
    assert ex.poll([done])[done].state is ExecState.SUCCEEDED


def test_submit_batch__empty_command_is_refused_for_good(tmp_path: Path) -> None:
    ex = _Scripted()
    with pytest.raises(SubmitError, match="empty command") as info:
        ex.submit_batch([_sub(tmp_path, "a"), _sub(tmp_path, "b", argv=())])
    assert info.value.permanent and ex.count == 0


def test_submit_batch__a_partial_batch_is_tracked_and_on_record(clock: _Clock, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    ex = _Scripted(fail_after=2)
    ex.use_events(EventLog(events))
    with pytest.raises(SubmitError) as info:
        ex.submit_batch([_sub(tmp_path, n) for n in "abc"])
    assert info.value.submitted == {0: "h1", 1: "h2"} and not info.value.permanent
    ex.answers["h1"] = ExecStatus(ExecState.RUNNING)
    clock.now += 1.0
    assert ex.poll(["h1"])["h1"].state is ExecState.RUNNING
    (record,) = [json.loads(line) for line in events.read_text().splitlines()]
    assert (record["event"], record["level"], record["executor"], record["submitted"], record["batch"]) == (
        "executor_submit_failed", "warning", "slurm", 2, 3)
    assert record["error"] == "the queue said no"


def test_poll__an_exception_in_the_query_is_an_error_event_then_raised(clock: _Clock, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    ex = _Scripted(raise_in_query=KeyError("jobs"))
    ex.use_events(EventLog(events))
    handle = ex.submit(_sub(tmp_path))
    clock.now += 1.0
    with pytest.raises(KeyError):
        ex.poll([handle])
    (record,) = [json.loads(line) for line in events.read_text().splitlines()]
    assert (record["event"], record["level"], record["handles"], record["error"]) == (
        "executor_query_error", "error", 1, "KeyError: 'jobs'")


def test_logs__tail_of_the_submissions_log(tmp_path: Path) -> None:
    ex = _Scripted()
    handle = ex.submit(_sub(tmp_path))
    (tmp_path / "j.log").write_text("".join(f"line {i}\n" for i in range(100)))
    assert ex.logs(handle, tail=2) == "line 98\nline 99"
    assert ex.logs(handle, tail=0) == "" and ex.logs("unknown") == ""


def _sleeper(marker: str) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, base.ATTEMPT_ENV: marker}
    proc = subprocess.Popen([sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(60)"],
                            env=env, start_new_session=True, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"  # running, its marker in place
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


@pytest.fixture
def marked_sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process in its own session carrying attempt 2 of job ``j`` of run ``stray-run``'s marker, as a dead
    driver's child would; killed at the end if the test left it running."""
    yield from _sleeper("stray-run:j:2")


@pytest.fixture
def attempt_21_sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """The same for attempt 21, whose marker starts with attempt 2's."""
    yield from _sleeper("stray-run:j:21")


@pytest.mark.parametrize("ran_on", [ExecutorKind.LOCAL, ExecutorKind.DRIVER])
def test_stop_strays__kills_what_a_local_or_driver_attempt_left_on_this_machine(
    marked_sleeper: subprocess.Popen[bytes], ran_on: ExecutorKind
) -> None:
    _Scripted().stop_strays("stray-run", "j", 2, ran_on.value)
    assert marked_sleeper.wait(timeout=10) == -9


@pytest.mark.parametrize(
    ("ran_on", "job_id", "attempt"),
    [(ExecutorKind.SLURM, "j", 2), (ExecutorKind.AWS_BATCH, "j", 2), (ExecutorKind.LOCAL, "j", 1),
     (ExecutorKind.LOCAL, "k", 2)],
)
def test_stop_strays__leaves_cluster_attempts_and_other_attempts_alone(
    marked_sleeper: subprocess.Popen[bytes], ran_on: ExecutorKind, job_id: str, attempt: int
) -> None:
    _Scripted().stop_strays("stray-run", job_id, attempt, ran_on.value)
    with pytest.raises(subprocess.TimeoutExpired):
        marked_sleeper.wait(timeout=0.5)


def test_stop_strays__attempt_2_is_not_attempt_21(attempt_21_sleeper: subprocess.Popen[bytes]) -> None:
    _Scripted().stop_strays("stray-run", "j", 2, ExecutorKind.LOCAL.value)
    with pytest.raises(subprocess.TimeoutExpired):
        attempt_21_sleeper.wait(timeout=0.5)
