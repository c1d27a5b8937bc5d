"""The final check of a run (``gwasflow verify``, also run at the end of every run).

A run is complete when every job succeeded, no failure is pending, and the
outputs it publishes are there with the rows the plan promised: each merged
result file holds the planned variants, less those its shards ignored for low
minor allele count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from gwasflow.engine.actions import merge_ignored
from gwasflow.engine.states import JobState
from gwasflow.engine.store import AttemptRecord
from gwasflow.plan.model import JobGraph, Step
from gwasflow.report.merge import open_text

__all__ = ["ignored_by_merge", "verify_run"]


def ignored_by_merge(graph: JobGraph, attempts: Iterable[AttemptRecord]) -> dict[str, int]:
    """Per merge job, the variants its shards ignored for low MAC, from the merge's recorded message."""
    return {
        a.job_id: merge_ignored(a.reason)
        for a in attempts
        if a.state == "succeeded" and a.job_id in graph and graph[a.job_id].step is Step.MERGE
    }


def _rows(path: Path) -> int:
    with open_text(path) as handle:
        handle.readline()
        return sum(1 for line in handle if line.strip())


def verify_run(
    graph: JobGraph, states: Mapping[str, JobState], ignored: Mapping[str, int], *, check_rows: bool = True
) -> list[str]:
    """Every problem found, one line each; an empty list means the run is complete.

    ``ignored`` gives, per merge job, the planned variants its shards skipped for low MAC (the merge
    recorded them; the shards' logs live in the workspace, which is gone by now).
    """
    problems: list[str] = []
    unfinished = sorted((j, s.value) for j, s in states.items() if s is not JobState.SUCCEEDED and j in graph)
    for job_id, state in unfinished[:10]:
        problems.append(f"job {job_id} is {state}")
    if len(unfinished) > 10:
        problems.append(f"... and {len(unfinished) - 10} more jobs not succeeded")
    for merge in graph.by_step(Step.MERGE):
        out = Path(merge.outputs[0])
        if not out.exists():
            problems.append(f"missing output {out}")
            continue
        if not check_rows or "planned_rows" not in merge.meta:
            continue
        skipped = ignored.get(merge.id, 0)
        rows, planned = _rows(out), int(merge.meta["planned_rows"])
        if rows + skipped != planned:
            problems.append(f"{out.name}: {rows} rows + {skipped} ignored for low MAC != {planned} planned")
    for job in graph.by_step(Step.REPORT):
        problems += [f"missing output {p}" for p in job.outputs if not Path(p).exists()]
    return problems
