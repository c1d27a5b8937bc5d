"""``gwasflow status``: job states per step of a run, read from its store."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gwasflow.engine.rundir import RunDir
from gwasflow.engine.states import JobState
from gwasflow.engine.store import SQLiteStore
from gwasflow.errors import StoreError
from gwasflow.plan.model import Step

__all__ = ["find_rundir", "print_status"]


def find_rundir(path: Path | None) -> RunDir:
    """The run folder given, or the current folder; a clear error when there is no run there."""
    rundir = RunDir.find(path)
    if rundir is None:
        where = path or Path.cwd()
        raise StoreError(f"no gwasflow run in {where} (expected {RunDir(where).store_path})")
    return rundir


def print_status(path: Path | None, *, as_json: bool = False) -> int:
    rundir = find_rundir(path)
    store = SQLiteStore(rundir.store_path)
    try:
        run = store.latest_run()
        if run is None:
            raise StoreError(f"{rundir.store_path} holds no run")
        counts: dict[str, dict[str, int]] = {}
        for job in store.list_jobs(run.run_id):
            per_step = counts.setdefault(job.step, {})
            per_step[job.state.value] = per_step.get(job.state.value, 0) + 1
    finally:
        store.close()
    order = [s.value for s in Step]
    steps = sorted(counts, key=lambda s: order.index(s) if s in order else len(order))
    if as_json:
        print(json.dumps({"run_id": run.run_id, "state": run.state.value, "message": run.message,
                          "steps": {s: counts[s] for s in steps}}, indent=2))
        return 0
    states = [s.value for s in JobState]
    console = Console(file=sys.stdout)
    console.print(f"run {run.run_id}: [bold]{run.state.value}[/bold]" + (f" ({run.message})" if run.message else ""))
    table = Table()
    table.add_column("step")
    shown = [s for s in states if any(s in counts[step] for step in steps)]
    for state in shown:
        table.add_column(state, justify="right")
    table.add_column("total", justify="right")
    for step in steps:
        row = counts[step]
        table.add_row(step, *[str(row.get(s, 0)) for s in shown], str(sum(row.values())))
    console.print(table)
    return 0
