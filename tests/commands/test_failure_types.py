"""Failure types as the driver records them, from real executors: what is retried, on which budget, and what not;
and ``gwasflow retry`` (``commands.launch.choose_failed``) re-running what failed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from gwasflow.commands.launch import choose_failed
from gwasflow.core.rundir import RunDir
from gwasflow.core.states import JobState, RunState, Step
from gwasflow.engine.driver import Driver
from gwasflow.engine.machine import Scheduler
from gwasflow.executors import slurm as slurm_module
from gwasflow.executors.base import Executor, Submission
from gwasflow.executors.local import LocalExecutor
from gwasflow.executors.slurm import SlurmExecutor
from gwasflow.plan.model import Job, JobGraph, JobKind, Resources
from gwasflow.spec.model import RetrySpec
from gwasflow.store import MemoryStore

PY = sys.executable


def _job(job_id: str, argv: Sequence[str], outputs: Sequence[Path] = ()) -> Job:
    return Job(id=job_id, step=Step.STEP2, kind=JobKind.COMMAND, argv=tuple(argv),
               outputs=tuple(str(p) for p in outputs), resources=Resources(time_s=60))  # fmt: skip


def _store(graph: JobGraph) -> MemoryStore:
    store = MemoryStore()
    store.create_run("r1", "t", "{}", "{}")
    store.add_jobs("r1", [(j.id, j.step.value) for j in graph])
    return store


def _drive(tmp_path: Path, graph: JobGraph, store: MemoryStore, executor: Executor, retry: RetrySpec) -> RunState:
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    driver = Driver(run_id="r1", graph=graph, store=store, executor=executor, rundir=RunDir(tmp_path / "out"),
                    workspace=ws, poll_interval_s=0.02, retry=retry)  # fmt: skip
    try:
        return driver.run().state
    finally:
        executor.close()


class _NodeLost(LocalExecutor):
    """A local executor whose first ``lose`` submissions vanish with their node: it never knows their handles."""

    def __init__(self, lose: int) -> None:
        super().__init__(max_parallel=1, kill_grace_s=0.5)
        self.lose = lose

    def submit_batch(self, submissions: Sequence[Submission]) -> list[str]:
        if self.lose <= 0:
            return super().submit_batch(submissions)
        self.lose -= len(submissions)
        return [f"local-vanished-{sub.job_id}-{sub.attempt}" for sub in submissions]


@pytest.mark.parametrize(("lost", "state", "attempts"), [(3, RunState.SUCCEEDED, 4), (4, RunState.FAILED, 4)])
def test_driver_run__lost_attempts_spend_max_interruptions_not_max_attempts(
    tmp_path: Path, lost: int, state: RunState, attempts: int
) -> None:
    out = tmp_path / "o.txt"
    graph = JobGraph([_job("j", [PY, "-c", f"open({str(out)!r}, 'w').write('ok')"], [out])])
    store = _store(graph)
    policy = RetrySpec(backoff_s=0, max_attempts=1, max_interruptions=3)
    assert _drive(tmp_path, graph, store, _NodeLost(lost), policy) is state
    recorded = store.list_attempts("r1", "j")
    assert len(recorded) == attempts
    assert [a.error_type for a in recorded[:3]] == ["interrupted"] * 3
    assert all("unknown to this local executor" in a.reason for a in recorded[:3])


def test_driver_run__bad_input_in_an_oom_kill_folder_is_bad_input_and_not_retried(tmp_path: Path) -> None:
    folder = tmp_path / "oom-kill"
    folder.mkdir()
    argv = [PY, "-m", "gwasflow", "regenie", "--step", "2", "--bed", str(folder / "geno"), "--phenoFile",
            str(folder / "none.txt"), "--ignore-pred", "--bsize", "10", "--out", str(folder / "o")]  # fmt: skip
    graph = JobGraph([_job("j", argv)])
    store = _store(graph)
    state = _drive(tmp_path, graph, store, LocalExecutor(max_parallel=1), RetrySpec(backoff_s=0, max_attempts=3))
    assert state is RunState.FAILED
    assert [(a.exit_code, a.error_type) for a in store.list_attempts("r1", "j")] == [(2, "bad_input")]


def test_driver_run__real_regenie_could_not_open_file_is_bad_input(tmp_path: Path, regenie_example: Path) -> None:
    folder = tmp_path / "oom-kill"
    folder.mkdir()
    (folder / "pred.list").write_text(f"Y1 {folder / 'never_1.loco'}\n")
    inputs = regenie_example / "inputs"
    argv = ["/work/shared/regenie-bin/regenie", "--step", "2", "--bed", str(inputs / "example"), "--phenoFile",
            str(inputs / "phenotype.txt"), "--phenoCol", "Y1", "--pred", str(folder / "pred.list"), "--bsize", "100",
            "--out", str(folder / "o")]  # fmt: skip
    graph = JobGraph([_job("j", argv)])
    store = _store(graph)
    _drive(tmp_path, graph, store, LocalExecutor(max_parallel=1), RetrySpec(backoff_s=0, max_attempts=3))
    assert [(a.exit_code, a.error_type) for a in store.list_attempts("r1", "j")] == [(1, "bad_input")]


def test_driver_run__job_killed_from_outside_is_a_failure_that_retry_reruns(tmp_path: Path) -> None:
    mark = tmp_path / "killed-once"
    code = (f"import os, signal\nif not os.path.exists({str(mark)!r}):\n"
            f"    open({str(mark)!r}, 'w').close(); os.kill(os.getpid(), signal.SIGKILL)\n")  # fmt: skip
    graph = JobGraph([_job("j", [PY, "-c", code])])
    store = _store(graph)
    policy = RetrySpec(backoff_s=0, max_attempts=1)
    assert _drive(tmp_path, graph, store, LocalExecutor(max_parallel=1), policy) is RunState.FAILED
    assert [(a.state, a.signal, a.error_type) for a in store.list_attempts("r1", "j")] == [("failed", 9, "killed")]
    _retry_and_drive(tmp_path, graph, store, LocalExecutor(max_parallel=1), policy)


def _retry_and_drive(tmp_path: Path, graph: JobGraph, store: MemoryStore, executor: Executor,
                     policy: RetrySpec) -> None:  # fmt: skip
    """What ``gwasflow retry`` does with a run whose driver has ended: re-open the failed jobs, drive again."""
    chosen = choose_failed(store, "r1", [], [])
    assert chosen == ["j"]
    store.set_job_states("r1", Scheduler(graph, {r.job_id: r.state for r in store.list_jobs("r1")}).reopen(chosen))
    assert _drive(tmp_path, graph, store, executor, policy) is RunState.SUCCEEDED
    assert store.get_job("r1", "j").state is JobState.SUCCEEDED


class _FakeSlurm:
    """The Slurm client commands at the process boundary: sbatch gives job ids, sacct says ``state`` of them all."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.next_id = 500

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        out = ""
        if argv[0] == "sbatch":
            self.next_id += 1
            out = f"{self.next_id}\n"
        elif argv[0] == "sacct":
            ids = argv[argv.index("-j") + 1].split(",")
            code = "0:0" if self.state == "COMPLETED" else "0:15"
            out = "".join(f"{i}|{self.state}|{code}||00:00:05|00:00:00\n" for i in ids)
        return subprocess.CompletedProcess(argv, 0, out, "")


def test_driver_run__scancel_by_hand_is_listed_as_failed_and_retry_reruns_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _FakeSlurm("CANCELLED by 1000")
    monkeypatch.setattr(slurm_module.subprocess, "run", fake)
    graph = JobGraph([_job("j", [PY, "-c", "pass"])])
    store = _store(graph)
    policy = RetrySpec(backoff_s=0, max_attempts=3)

    def slurm() -> SlurmExecutor:
        return SlurmExecutor(spool_dir=str(tmp_path / "spool"), poll_min_s=0.01, poll_max_s=0.01, max_array_size=10)

    assert _drive(tmp_path, graph, store, slurm(), policy) is RunState.FAILED
    attempts = store.list_attempts("r1", "j")
    assert [(a.state, a.error_type) for a in attempts] == [("failed", "cancelled_externally")]  # not retried by itself
    assert "cancelled outside gwasflow" in attempts[0].reason
    assert store.get_run("r1").state is RunState.FAILED  # the run itself was not cancelled
    fake.state = "COMPLETED"
    _retry_and_drive(tmp_path, graph, store, slurm(), policy)
