"""The driver's in-process jobs: merge, report, cleanup.

Each action takes the job (its ``meta`` says what to do) and the run context,
and raises on failure; the driver records the outcome like any other job.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gwasflow.core.rundir import RunDir
from gwasflow.core.states import Step
from gwasflow.plan.model import Job, JobGraph
from gwasflow.report.html import write_report
from gwasflow.report.loci.stage import loci_for_report
from gwasflow.report.merge import ignored_low_mac, merge_phenotype
from gwasflow.report.qccounts import DATASET_QC_DIR, QC_TABLE_NAME, qc_event_fields, qc_rows, write_qc_table
from gwasflow.report.summary import summarize_results, write_summary
from gwasflow.storage.ownership import remove_workspace
from gwasflow.store import Store

__all__ = ["ACTIONS", "ActionContext", "merge_ignored", "run_action"]

_MERGE_MESSAGE = re.compile(r"^(\d+) rows \((\d+) ignored for low MAC\)")


def merge_ignored(message: str) -> int:
    """Variants ignored for low MAC, from the message a merge job recorded (0 if it says nothing)."""
    match = _MERGE_MESSAGE.match(message)
    return int(match.group(2)) if match else 0


@dataclass(frozen=True)
class ActionContext:
    graph: JobGraph
    rundir: RunDir
    workspace: Path
    keep_workspace: bool
    store: Store
    run_id: str
    shard_traits: dict[str, int] = field(default_factory=dict)

    @classmethod
    def create(
        cls, graph: JobGraph, rundir: RunDir, workspace: Path, keep_workspace: bool, store: Store, run_id: str
    ) -> ActionContext:
        """A context that knows, for every step 2 output file, how many traits its shard tests."""
        traits = {
            out: len(job.meta.get("phenotypes", ())) or 1 for job in graph.by_step(Step.STEP2) for out in job.outputs
        }
        return cls(graph, rundir, workspace, keep_workspace, store, run_id, traits)


def _merge(job: Job, ctx: ActionContext) -> str:
    shards = [Path(p) for p in job.meta["shards"]]
    logs = [Path(p) for p in job.meta["shard_logs"]]
    # regenie counts ignored *tests* (variant x trait); a shard tests all of its phenotypes on the
    # same samples' genotypes, so its ignored variants are its ignored tests over its trait count.
    per_shard = [ctx.shard_traits.get(str(s), 1) for s in shards]
    ignored = [ignored_low_mac(log) // n for log, n in zip(logs, per_shard, strict=True)]
    planned = job.meta.get("planned_rows")  # absent when variant filters make the row count unknowable
    result = merge_phenotype(
        shards, Path(job.outputs[0]), planned_rows=None if planned is None else int(planned), ignored_per_shard=ignored
    )
    return f"{result.rows} rows ({result.ignored} ignored for low MAC)"


def _write_qc_tables(job: Job, ctx: ActionContext, folder: Path) -> None:
    """``qc.tsv`` (step 1's QC) and ``qc/<file>.tsv`` (each dataset file's QC before step 2), with their events."""
    qc_json = job.meta.get("qc_json")
    if qc_json is not None:
        rows = qc_rows(Path(qc_json))
        write_qc_table(rows, folder / QC_TABLE_NAME)
        fields: dict[str, Any] = qc_event_fields(rows)
        ctx.rundir.event("qc_counts", **fields)
    for qc_job in ctx.graph.by_step(Step.QC):
        if qc_job.id == "qc":
            continue  # step 1's QC, above
        label = str(qc_job.meta["dataset"])
        rows = qc_rows(Path(str(qc_job.meta["qc_json"])))
        write_qc_table(rows, folder / DATASET_QC_DIR / f"{label}.tsv")
        counts: dict[str, Any] = qc_event_fields(rows)
        ctx.rundir.event("dataset_qc_counts", dataset=label, **counts)


def _report(job: Job, ctx: ActionContext) -> str:
    """``summary.tsv`` and the self-contained ``report.html`` (plots, loci, timeline, failures)."""
    summaries = {
        str(merge.meta["phenotype"]): summarize_results(Path(merge.outputs[0]), str(merge.meta["phenotype"]))
        for merge in ctx.graph.by_step(Step.MERGE)
    }
    summary_path = next((Path(p) for p in job.outputs if p.endswith(".tsv")), ctx.rundir.summary_path)
    write_summary(list(summaries.values()), summary_path)
    _write_qc_tables(job, ctx, summary_path.parent)
    html_path = next((Path(p) for p in job.outputs if p.endswith(".html")), None)
    loci = loci_for_report(ctx.rundir)
    if loci.problem is not None:
        ctx.rundir.event("loci_skipped", reason=loci.problem)
    write_report(rundir=ctx.rundir, store=ctx.store, run_id=ctx.run_id, graph=ctx.graph, out=html_path,
                 summaries=summaries, genes=loci.genes, loci_html=loci.sections)
    return "; ".join(
        f"{s.phenotype}: lambda_gc={s.lambda_gc:.3f} significant={s.n_significant}" for s in summaries.values()
    )


def _cleanup(job: Job, ctx: ActionContext) -> str:
    if ctx.keep_workspace:
        return f"workspace kept: {ctx.workspace}"
    kept = remove_workspace(ctx.workspace, ctx.rundir.for_run(ctx.run_id))
    return f"workspace deleted: {ctx.workspace}" if kept is None else f"workspace left ({kept}): {ctx.workspace}"


ACTIONS: dict[str, Callable[[Job, ActionContext], str]] = {
    "merge": _merge,
    "report": _report,
    "cleanup": _cleanup,
}


def run_action(job: Job, ctx: ActionContext) -> str:
    """Run an INTERNAL job; returns a one-line description of what it did."""
    try:
        action = ACTIONS[job.action]
    except KeyError:
        raise ValueError(f"job {job.id}: unknown action {job.action!r}") from None
    return action(job, ctx)
