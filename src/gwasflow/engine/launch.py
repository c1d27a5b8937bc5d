"""Start a run from a validated spec: plan it, record it, drive it."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from gwasflow.engine.driver import Driver, RunOutcome
from gwasflow.engine.progress import ProgressSink
from gwasflow.engine.rundir import RunDir, prepare_workspace, write_atomic
from gwasflow.engine.store import SQLiteStore
from gwasflow.executors.registry import make_executor
from gwasflow.plan.build import build_graph
from gwasflow.plan.meta import DatasetMeta
from gwasflow.spec.model import RunSpec

__all__ = ["new_run_id", "start_run"]


def new_run_id(name: str) -> str:
    """``<name>-<UTC timestamp>``: unique per second and readable."""
    return f"{name}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"


def start_run(
    spec: RunSpec,
    datasets: list[DatasetMeta],
    *,
    progress: ProgressSink | None = None,
    python: str = sys.executable,
) -> RunOutcome:
    """Plan ``spec`` (already validated), record the run in its store and drive it to the end."""
    graph = build_graph(spec, datasets, python=python)
    rundir = RunDir(Path(spec.outdir))
    workspace = Path(spec.workdir)
    prepare_workspace(workspace)
    rundir.create()
    write_atomic(rundir.spec_path, spec.model_dump_json(indent=2))
    store = SQLiteStore(rundir.store_path)
    executor = make_executor(
        spec.executor.kind, max_parallel=spec.executor.max_parallel, **spec.executor.settings
    )
    try:
        run_id = new_run_id(spec.name)
        store.create_run(run_id, spec.name, spec.model_dump_json(), json.dumps(graph.to_dict()))
        store.add_jobs(run_id, [(job.id, job.step.value) for job in graph])
        driver = Driver(
            run_id=run_id,
            graph=graph,
            store=store,
            executor=executor,
            rundir=rundir,
            workspace=workspace,
            keep_workspace=spec.keep_workspace,
            poll_interval_s=spec.executor.poll_interval_s,
            progress=progress,
        )
        return driver.run()
    finally:
        executor.close()
        store.close()
