"""Resume and retry hold the run's own workspace before they change anything."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from gwasflow.commands.launch import retry_run
from gwasflow.core.rundir import RunDir
from gwasflow.core.states import JobState, RunState, Step
from gwasflow.errors import SpecError
from gwasflow.plan.model import Job, JobGraph, JobKind
from gwasflow.spec.model import RunSpec
from gwasflow.storage.ownership import claim_workspace
from gwasflow.store import SQLiteStore


def _failed_run(tmp_path: Path) -> RunDir:
    """Run ``a-1`` in ``tmp_path/a``, its one job failed, its workspace ``tmp_path/ws`` kept."""
    spec = RunSpec.model_validate({
        "name": "a", "datasets": [{"bed": str(tmp_path / "c")}], "phenotypes": {"file": "p", "columns": ["Y"]},
        "workdir": str(tmp_path / "ws"), "outdir": str(tmp_path / "a"),
    })
    graph = JobGraph([Job(id="j", step=Step.STEP2, kind=JobKind.COMMAND, argv=(sys.executable, "-c", "pass"))])
    rundir = RunDir(tmp_path / "a")
    store = SQLiteStore(rundir.store_path)
    try:
        store.create_run("a-1", "a", spec.model_dump_json(), json.dumps(graph.to_dict()))
        store.add_jobs("a-1", [("j", "step2")])
        store.set_job_states("a-1", [("j", JobState.FAILED)])
        store.set_run_state("a-1", RunState.FAILED, "1 failed")
    finally:
        store.close()
    return rundir


def _states(rundir: RunDir) -> tuple[RunState, list[JobState]]:
    store = SQLiteStore(rundir.store_path)
    try:
        return store.get_run("a-1").state, [j.state for j in store.list_jobs("a-1")]
    finally:
        store.close()


def test_retry_run__refused_workspace_leaves_the_store_unchanged(tmp_path: Path) -> None:
    rundir = _failed_run(tmp_path)
    other = RunDir(tmp_path / "b").for_run("b-1")
    other.create()
    other.store_path.write_text("")
    with claim_workspace(tmp_path / "ws", other, new_run=True):
        pass  # the workspace now belongs to run b-1, whose folder can still resume it
    with pytest.raises(SpecError, match="belongs to run b-1"):
        retry_run(rundir)
    assert _states(rundir) == (RunState.FAILED, [JobState.FAILED])


def test_retry_run__own_workspace_is_claimed_and_the_job_re_run(tmp_path: Path) -> None:
    rundir = _failed_run(tmp_path)
    chosen, outcome = retry_run(rundir)
    assert chosen == ["j"] and outcome is not None and outcome.state is RunState.SUCCEEDED
    assert json.loads((tmp_path / "ws" / ".gwasflow-workspace").read_text())["run_id"] == "a-1"
    assert (rundir.state_dir / "runs" / "a-1" / "logs" / "j.1.log").exists()


def test_job_python__aws_batch_jobs_name_the_images_interpreter(regenie_example: Path) -> None:
    from gwasflow.commands.launch import CONTAINER_PYTHON, job_python

    inputs = regenie_example / "inputs"
    data = {"name": "b", "datasets": [{"bed": str(inputs / "example")}],
            "phenotypes": {"file": str(inputs / "phenotype.txt"), "columns": ["Y1"]},
            "executor": {"kind": "aws_batch", "settings": {"job_queue": "q", "image": "img"}},
            "workdir": "/tmp/w", "outdir": "/tmp/o"}
    batch = RunSpec.model_validate(data)
    local = RunSpec.model_validate({**data, "executor": {"kind": "local"}})
    assert job_python(batch, sys.executable) == CONTAINER_PYTHON == "python3"
    assert job_python(batch, "/opt/py/bin/python") == "/opt/py/bin/python"
    assert job_python(local, sys.executable) == sys.executable
