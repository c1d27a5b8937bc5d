"""Which finished jobs a resumed run keeps: outputs checked against what was recorded at success."""

from __future__ import annotations

import os
from pathlib import Path

from gwasflow.engine.outputs import fingerprint, unchanged
from gwasflow.engine.recovery import initial_states
from gwasflow.engine.states import JobState
from gwasflow.engine.store import MemoryStore
from gwasflow.plan.model import Job, JobGraph, JobKind, Step


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
