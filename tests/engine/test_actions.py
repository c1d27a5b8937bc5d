"""The cleanup action deletes the run's own workspace and nothing else."""

from __future__ import annotations

from pathlib import Path

from gwasflow.core.rundir import RunDir
from gwasflow.core.states import Step
from gwasflow.engine.actions import ActionContext, run_action
from gwasflow.plan.model import Job, JobGraph, JobKind
from gwasflow.storage.ownership import claim_workspace
from gwasflow.store import MemoryStore

CLEANUP = Job(id="cleanup", step=Step.CLEANUP, kind=JobKind.INTERNAL, action="cleanup")


def _cleanup(ws: Path, rundir: RunDir, run_id: str) -> str:
    ctx = ActionContext.create(JobGraph([CLEANUP]), rundir, ws, False, MemoryStore(), run_id)
    return run_action(CLEANUP, ctx)


def test_cleanup__deletes_the_runs_own_workspace(tmp_path: Path) -> None:
    rundir = RunDir(tmp_path / "out").for_run("r-1")
    with claim_workspace(tmp_path / "ws", rundir, new_run=True):
        (tmp_path / "ws" / "step1").mkdir()
        message = _cleanup(tmp_path / "ws", RunDir(tmp_path / "out"), "r-1")
    assert message.startswith("workspace deleted") and not (tmp_path / "ws").exists()


def test_cleanup__leaves_a_workspace_that_the_results_reach_through_a_symlink(tmp_path: Path) -> None:
    ws, out = tmp_path / "ws", tmp_path / "out"
    rundir = RunDir(out).for_run("r-1")
    with claim_workspace(ws, rundir, new_run=True):
        (ws / "res").mkdir()
        (ws / "res" / "Y1.regenie.gz").write_bytes(b"rows")
        out.mkdir()
        (out / "results").symlink_to(ws / "res")
        message = _cleanup(ws, RunDir(out), "r-1")
    assert message.startswith("workspace left (holds the run's output")
    assert (out / "results" / "Y1.regenie.gz").read_bytes() == b"rows"


def test_cleanup__leaves_another_runs_workspace(tmp_path: Path) -> None:
    with claim_workspace(tmp_path / "ws", RunDir(tmp_path / "a").for_run("a-1"), new_run=True):
        pass
    message = _cleanup(tmp_path / "ws", RunDir(tmp_path / "b"), "b-1")
    assert "belongs to run a-1" in message and (tmp_path / "ws").is_dir()
