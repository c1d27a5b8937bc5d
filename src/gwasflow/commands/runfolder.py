"""Read-only commands on a run folder: ``failures``, ``logs``, ``verify``.

Each takes the run folder (default: the current folder) and reads the run
store; none of them changes anything.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gwasflow.core.rundir import RunDir, find_rundir
from gwasflow.core.states import AttemptState
from gwasflow.engine.recovery import stale_jobs
from gwasflow.engine.verify import merge_records, verify_run
from gwasflow.errors import StoreError
from gwasflow.plan.model import JobGraph
from gwasflow.store import AttemptRecord, RunRecord, SQLiteStore

__all__ = ["lost_outputs", "print_failures", "print_logs", "print_metrics", "print_verify", "write_run_report"]


def _latest(rundir: RunDir) -> tuple[SQLiteStore, RunRecord]:
    store = SQLiteStore(rundir.store_path)
    run = store.latest_run()
    if run is None:
        store.close()
        raise StoreError(f"{rundir.store_path} holds no run")
    return store, run


def _failure_dict(att: AttemptRecord) -> dict[str, object]:
    data = asdict(att)
    data["resources"] = json.loads(att.resources_json or "{}")
    del data["resources_json"]
    return data


def print_failures(path: Path | None, *, as_json: bool = False) -> int:
    """Every failed attempt of the latest run: job, attempt, error type, exit code/signal, log tail."""
    store, run = _latest(find_rundir(path))
    try:
        failed = [a for a in store.list_attempts(run.run_id) if a.state is AttemptState.FAILED]
    finally:
        store.close()
    if as_json:
        print(json.dumps([_failure_dict(a) for a in failed], indent=2))
        return 0
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 160)
    if not failed:
        console.print(f"run {run.run_id}: no failed attempts")
        return 0
    table = Table(title=f"run {run.run_id}: {len(failed)} failed attempt(s)")
    for col in ("job", "attempt", "error type", "exit/signal", "reason"):
        table.add_column(col, overflow="fold")
    for a in failed:
        ending = f"signal {a.signal}" if a.signal else (str(a.exit_code) if a.exit_code is not None else "")
        table.add_row(a.job_id, str(a.attempt), a.error_type or "", ending, a.reason[:100])
    console.print(table)
    console.print("re-run with: gwasflow retry [--job ID ...] [--error-type T] [--mem 16G] [--time 2h]")
    return 0


def print_logs(path: Path | None, job_id: str, *, attempt: int | None = None) -> int:
    """The log of a job's latest (or given) attempt."""
    rundir = find_rundir(path)
    store, run = _latest(rundir)
    try:
        attempts = store.list_attempts(run.run_id, job_id)
    finally:
        store.close()
    if not attempts:
        raise StoreError(f"job {job_id!r} has no attempts in run {run.run_id}")
    chosen = attempts[-1] if attempt is None else next((a for a in attempts if a.attempt == attempt), None)
    if chosen is None:
        raise StoreError(f"job {job_id!r} has no attempt {attempt}")
    log = Path(chosen.log_path)
    text = log.read_text(errors="replace") if log.exists() else chosen.log_tail
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
    return 0


def print_verify(path: Path | None) -> int:
    """The final check (see ``engine/verify.py``); exit 0 when the run is complete, 1 otherwise.

    One ``FAIL <defect>: <subject>: <detail>`` line per problem, one ``WARN`` line per file the plan
    does not name, then a summary line.
    """
    store, run = _latest(find_rundir(path))
    try:
        graph = JobGraph.from_dict(json.loads(run.graph_json))
        states = {r.job_id: r.state for r in store.list_jobs(run.run_id)}
        merges = merge_records(graph, store.list_attempts(run.run_id))
        outputs = store.list_outputs(run.run_id)
    finally:
        store.close()
    verdict = verify_run(graph, states, merges, outputs)
    for problem in verdict.problems:
        print(f"FAIL {problem}")
    for warning in verdict.warnings:
        print(f"WARN {warning}")
    n = len(verdict.problems)
    outcome = "complete" if not n else f"{n} problem(s)"
    print(f"run {run.run_id}: {outcome}; {verdict.checked} planned trait result(s) checked")
    return 0 if not n else 1


def lost_outputs(rundir: RunDir) -> list[str]:
    """Succeeded jobs of the latest run that ``resume`` would run again because outputs are lost or damaged."""
    store, run = _latest(rundir)
    try:
        graph = JobGraph.from_dict(json.loads(run.graph_json))
        states = {r.job_id: r.state for r in store.list_jobs(run.run_id)}
        stale = stale_jobs(store, run.run_id, graph, states)
    finally:
        store.close()
    return [job.id for job in graph if job.id in stale]


def print_metrics(path: Path | None, *, fmt: str = "table") -> int:
    """Elapsed time, queue wait, attempts and failures per run, step and job (table, json or prometheus)."""
    from gwasflow.report.metrics import collect_metrics, format_json, format_prometheus, format_table

    store, run = _latest(find_rundir(path))
    try:
        metrics = collect_metrics(store, run.run_id)
    finally:
        store.close()
    formatter = {"table": format_table, "json": format_json, "prometheus": format_prometheus}[fmt]
    text = formatter(metrics)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def write_run_report(path: Path | None, *, out: Path | None = None, quiet: bool = False) -> int:
    """(Re)write the run's HTML report and its pages, with a progress display unless quiet; prints its path."""
    from gwasflow.report.html import write_report
    from gwasflow.report.loci.stage import loci_for_report
    from gwasflow.report.progress import make_item_progress

    rundir = find_rundir(path)
    store, run = _latest(rundir)
    try:
        graph = JobGraph.from_dict(json.loads(run.graph_json))
        loci = loci_for_report(rundir)
        if loci.problem is not None:
            print(loci.problem, file=sys.stderr)
        written = write_report(rundir=rundir, store=store, run_id=run.run_id, graph=graph, out=out,
                               genes=loci.genes, loci_html=loci.sections, progress=make_item_progress(quiet=quiet))
    finally:
        store.close()
    print(f"report: {written}")
    return 0
