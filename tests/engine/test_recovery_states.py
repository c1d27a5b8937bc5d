"""Which finished jobs a resumed run keeps: outputs checked against what was recorded at success."""

from __future__ import annotations

import os
from pathlib import Path

from gwasflow.core.states import JobState, Step
from gwasflow.engine.outputs import fingerprint, unchanged
from gwasflow.engine.recovery import initial_states
from gwasflow.plan.model import Job, JobGraph, JobKind
from gwasflow.store import MemoryStore


def _setup(tmp_path: Path, child_state: JobState) -> tuple[MemoryStore, JobGraph, Path]:
    out = tmp_path / "a.txt"
    out.write_text("result\n")
    graph = JobGraph([
        Job(id="a", step=Step.STEP1, kind=JobKind.COMMAND, outputs=(str(out),)),
        Job(id="b", step=Step.STEP2, kind=JobKind.COMMAND, deps=("a",)),
    ])
    store = MemoryStore()
    store.create_run("r", "t", "{}", "{}")
    store.add_jobs("r", [("a", "step1"), ("b", "step2")])
    store.set_job_states("r", [("a", JobState.SUCCEEDED), ("b", child_state)])
    store.record_outputs("r", "a", [fingerprint("a", out)])
    return store, graph, out


def test_unchanged__same_bytes_new_time_is_unchanged_other_bytes_are_not(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_text("abc")
    record = fingerprint("j", path)
    os.utime(path, ns=(record.mtime_ns + 10**9, record.mtime_ns + 10**9))
    assert unchanged(record)
    path.write_text("abd")
    assert not unchanged(record)
    path.unlink()
    assert not unchanged(record)


def test_initial_states__changed_output_still_needed_runs_again(tmp_path: Path) -> None:
    store, graph, out = _setup(tmp_path, JobState.PENDING)
    out.write_text("tampered\n")
    assert initial_states(store, "r", graph)["a"] is JobState.PENDING
    assert store.get_job("r", "a").state is JobState.PENDING


def test_initial_states__intact_output_is_kept(tmp_path: Path) -> None:
    store, graph, _ = _setup(tmp_path, JobState.PENDING)
    assert initial_states(store, "r", graph)["a"] is JobState.SUCCEEDED


def test_initial_states__output_no_longer_needed_is_not_rerun(tmp_path: Path) -> None:
    store, graph, out = _setup(tmp_path, JobState.SUCCEEDED)
    out.unlink()  # e.g. the workspace was cleaned up after every dependent finished
    assert initial_states(store, "r", graph)["a"] is JobState.SUCCEEDED


def _finished_run(tmp_path: Path) -> tuple[MemoryStore, JobGraph, dict[str, Path]]:
    """step1 -> two step 2 shards -> one merge each -> report -> cleanup, all succeeded, outputs recorded."""
    files = {name: tmp_path / name for name in ("pred", "shard1", "shard2", "Y1", "Y2", "summary")}
    for path in files.values():
        path.write_text(f"{path.name}\n")
    graph = JobGraph([
        Job(id="step1", step=Step.STEP1, kind=JobKind.COMMAND, outputs=(str(files["pred"]),)),
        Job(id="s1", step=Step.STEP2, kind=JobKind.COMMAND, deps=("step1",), outputs=(str(files["shard1"]),)),
        Job(id="s2", step=Step.STEP2, kind=JobKind.COMMAND, deps=("step1",), outputs=(str(files["shard2"]),)),
        Job(id="merge-Y1", step=Step.MERGE, kind=JobKind.INTERNAL, deps=("s1",), outputs=(str(files["Y1"]),)),
        Job(id="merge-Y2", step=Step.MERGE, kind=JobKind.INTERNAL, deps=("s2",), outputs=(str(files["Y2"]),)),
        Job(id="report", step=Step.REPORT, kind=JobKind.INTERNAL, deps=("merge-Y1", "merge-Y2"),
            outputs=(str(files["summary"]),)),
        Job(id="cleanup", step=Step.CLEANUP, kind=JobKind.INTERNAL, deps=("report",)),
    ])
    store = MemoryStore()
    store.create_run("r", "t", "{}", "{}")
    store.add_jobs("r", [(job.id, job.step.value) for job in graph])
    store.set_job_states("r", [(job.id, JobState.SUCCEEDED) for job in graph])
    for job in graph:
        store.record_outputs("r", job.id, [fingerprint(job.id, Path(p)) for p in job.outputs])
    return store, graph, files


def _reopened(store: MemoryStore, graph: JobGraph) -> list[str]:
    return [j for j, s in initial_states(store, "r", graph).items() if s is JobState.PENDING]


def test_initial_states__finished_run_with_workspace_gone_reruns_nothing(tmp_path: Path) -> None:
    store, graph, files = _finished_run(tmp_path)
    for name in ("pred", "shard1", "shard2"):
        files[name].unlink()
    assert _reopened(store, graph) == []


def test_initial_states__lost_merged_result_with_kept_shard_reopens_only_its_merge_and_the_end(
    tmp_path: Path,
) -> None:
    store, graph, files = _finished_run(tmp_path)
    files["Y1"].unlink()
    assert _reopened(store, graph) == ["merge-Y1", "report", "cleanup"]
    assert store.get_job("r", "merge-Y2").state is JobState.SUCCEEDED


def test_initial_states__damaged_merged_result_is_rebuilt(tmp_path: Path) -> None:
    store, graph, files = _finished_run(tmp_path)
    files["Y2"].write_text("Y9\n")  # same size, other bytes
    assert _reopened(store, graph) == ["merge-Y2", "report", "cleanup"]


def test_initial_states__lost_result_and_shards_reopen_the_jobs_that_wrote_them(tmp_path: Path) -> None:
    store, graph, files = _finished_run(tmp_path)
    for name in ("pred", "shard1", "shard2", "Y1"):
        files[name].unlink()
    assert _reopened(store, graph) == ["step1", "s1", "merge-Y1", "report", "cleanup"]
