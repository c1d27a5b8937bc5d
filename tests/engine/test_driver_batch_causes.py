"""Batch containers that never started, through the driver: captured DescribeJobs answers -> status -> classify
-> retry policy -> the store. A missing image is one failed attempt with one line; a host that could not start
the container spends the interruption budget, not ``max_attempts``."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gwasflow.core.rundir import RunDir
from gwasflow.core.states import AttemptState, ErrorType, ExecutorKind, JobState, RunState, Step
from gwasflow.engine.driver import Driver
from gwasflow.executors.aws_batch_status import status_from_batch
from gwasflow.executors.base import ExecStatus, ExecutorBase, Submission
from gwasflow.plan.model import Job, JobGraph, JobKind, Resources
from gwasflow.spec.model import RetrySpec
from gwasflow.store import MemoryStore

CAPTURED = Path(__file__).parents[1] / "executors" / "captured_batch" / "describe_jobs.json"


def _captured(name: str) -> dict[str, Any]:
    (job,) = [j for j in json.loads(CAPTURED.read_text())["jobs"] if j["jobName"] == name]
    return job


class _DescribedBatch(ExecutorBase):
    """A Batch stand-in at the DescribeJobs boundary: the n-th submission's job is described by ``answers[n]``
    (the last one repeats), read by the real mapping ``status_from_batch``."""

    name = ExecutorKind.AWS_BATCH

    def __init__(self, answers: Sequence[dict[str, Any]]) -> None:
        super().__init__(poll_min_s=0.01, poll_max_s=0.02, lost_after_s=60.0)
        self.answers = list(answers)
        self.jobs: dict[str, dict[str, Any]] = {}

    def _submit(self, submissions: Sequence[Submission], handles: dict[int, str]) -> None:
        for i, _ in enumerate(submissions):
            handle = f"batch-{len(self.jobs)}"
            self.jobs[handle] = copy.deepcopy(self.answers[min(len(self.jobs), len(self.answers) - 1)])
            handles[i] = handle

    def _query(self, handles: list[str], now: float) -> dict[str, ExecStatus] | None:
        return {h: status_from_batch(self.jobs[h]) for h in handles}

    def _cancel(self, handles: list[str]) -> None:
        return


def _drive(tmp_path: Path, executor: _DescribedBatch, retry: RetrySpec) -> tuple[RunState, MemoryStore]:
    graph = JobGraph([Job(id="s2", step=Step.STEP2, kind=JobKind.COMMAND, argv=("regenie", "--step", "2"),
                          resources=Resources(time_s=60))])  # fmt: skip
    store = MemoryStore()
    store.create_run("r1", "t", "{}", "{}")
    store.add_jobs("r1", [(j.id, j.step.value) for j in graph])
    ws = tmp_path / "ws"
    ws.mkdir()
    driver = Driver(run_id="r1", graph=graph, store=store, executor=executor, rundir=RunDir(tmp_path / "out"),
                    workspace=ws, poll_interval_s=0.01, retry=retry)  # fmt: skip
    return driver.run().state, store


def test_driver_run__a_batch_image_not_found_is_one_bad_config_attempt_with_one_line(tmp_path: Path) -> None:
    state, store = _drive(tmp_path, _DescribedBatch([_captured("pull_image_not_found")]),
                          RetrySpec(backoff_s=0, max_attempts=5, max_interruptions=5))  # fmt: skip
    assert state is RunState.FAILED
    (attempt,) = store.list_attempts("r1", "s2")
    assert (attempt.state, attempt.error_type) == (AttemptState.FAILED, ErrorType.BAD_CONFIG)
    assert attempt.reason.startswith("bad config (the image cannot be pulled") and "\n" not in attempt.reason
    assert "manifest unknown" in attempt.reason
    assert store.get_job("r1", "s2").state is JobState.FAILED


def test_driver_run__a_host_that_could_not_start_the_container_spends_max_interruptions(tmp_path: Path) -> None:
    answers = [_captured("task_failed_to_start"), _captured("resource_initialization"), _captured("succeeded")]
    state, store = _drive(tmp_path, _DescribedBatch(answers), RetrySpec(backoff_s=0, max_attempts=1,
                                                                          max_interruptions=2))  # fmt: skip
    assert state is RunState.SUCCEEDED
    assert [a.error_type for a in store.list_attempts("r1", "s2")] == [
        ErrorType.INTERRUPTED, ErrorType.INTERRUPTED, None]


def test_driver_run__start_failures_beyond_max_interruptions_fail_the_job(tmp_path: Path) -> None:
    state, store = _drive(tmp_path, _DescribedBatch([_captured("pull_timed_out")]),
                          RetrySpec(backoff_s=0, max_attempts=5, max_interruptions=1))  # fmt: skip
    assert state is RunState.FAILED
    assert [a.error_type for a in store.list_attempts("r1", "s2")] == [ErrorType.INTERRUPTED] * 2
