"""Pick a run up where a dead orchestrator left it.

The store says which attempts were in flight when the previous driver
stopped (killed, crashed, node rebooted). For each:

* the executor can still track it (a Slurm or Batch job lives on in the
  cluster): it is re-attached, not resubmitted;
* otherwise (a local child, or an attempt whose submission was never
  confirmed): its stray processes are killed, the attempt is recorded as
  ``lost`` (which does not count against the retry budget) and the job goes
  back to PENDING to run again.

Jobs recorded as succeeded are set back to PENDING (checked against the
size, time and SHA-256 recorded when they succeeded) when:

* their outputs are still needed (a dependent has not succeeded) but have
  since disappeared or changed;
* they publish results (merge, report) and those are lost or damaged: a
  deleted, edited or truncated merged result is rebuilt by its merge job, not
  by the whole run;
* a job set back to PENDING needs their outputs and those are gone (shards
  deleted with the workspace): the step 2 jobs that wrote them run again, and
  so on up the graph as far as outputs are missing.

The report and cleanup jobs after anything re-opened run again too. Cancelled
jobs are re-opened, since resuming a cancelled run means carrying on with it,
and so are failed jobs whose last attempt the executor did not take
(``submit_failed``, ``submit_refused``): they never ran.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gwasflow.core.states import SUBMIT_ERROR_TYPES, AttemptState, JobState, Step
from gwasflow.engine.outputs import unchanged
from gwasflow.executors.base import Executor
from gwasflow.plan.model import Job, JobGraph, JobKind
from gwasflow.store import OutputRecord, Store

__all__ = ["Reattached", "initial_states", "recover_attempts", "stale_jobs"]

# Steps whose outputs are the run's results: lost or damaged, they are rebuilt even when nothing waits on them.
_PUBLISHING = frozenset({Step.MERGE, Step.REPORT})
_FINISHING = frozenset({Step.REPORT, Step.CLEANUP})


@dataclass(frozen=True)
class Reattached:
    handle: str
    job_id: str
    attempt: int
    log_path: Path
    started: bool


def initial_states(store: Store, run_id: str, graph: JobGraph) -> dict[str, JobState]:
    """Job states to start the scheduler from: the store's, with lost outputs and cancellations re-opened."""
    states = {rec.job_id: rec.state for rec in store.list_jobs(run_id)}
    reopened = stale_jobs(store, run_id, graph, states)
    reopened |= {job.id for job in graph if states.get(job.id) is JobState.CANCELLED}
    reopened |= _never_submitted(store, run_id, states)
    for job in graph:  # dependents that only failed because of a cancelled job run again too
        if states.get(job.id) is JobState.UPSTREAM_FAILED and any(d in reopened for d in job.deps):
            reopened.add(job.id)
    changes = [(job.id, JobState.PENDING) for job in graph if job.id in reopened]
    if changes:
        store.set_job_states(run_id, changes)
        states.update(changes)
    return states


def _never_submitted(store: Store, run_id: str, states: Mapping[str, JobState]) -> set[str]:
    """Failed jobs whose last attempt the executor did not take (sbatch down or refusing): resume tries them again."""
    last: dict[str, str | None] = {}
    for attempt in store.list_attempts(run_id):
        last[attempt.job_id] = attempt.error_type
    return {j for j, s in states.items() if s is JobState.FAILED and last.get(j) in SUBMIT_ERROR_TYPES}


def stale_jobs(store: Store, run_id: str, graph: JobGraph, states: Mapping[str, JobState]) -> set[str]:
    """Succeeded jobs that must run again because outputs are lost or changed (see the module docstring)."""
    recorded: dict[str, list[OutputRecord]] = {}
    for record in store.list_outputs(run_id):
        recorded.setdefault(record.job_id, []).append(record)
    memo: dict[str, bool] = {}

    def lost(job: Job) -> bool:
        if job.id not in memo:
            memo[job.id] = not _outputs_intact(job, recorded.get(job.id))
        return memo[job.id]

    succeeded = {j for j, s in states.items() if s is JobState.SUCCEEDED and j in graph}
    stale: set[str] = set()
    for job_id in succeeded:
        job = graph[job_id]
        needed = job.step in _PUBLISHING or any(d not in succeeded for d in graph.dependents(job_id))
        if needed and lost(job):
            stale.add(job_id)
    todo = list(stale)
    while todo:  # what a re-opened job reads must be there, else it is made again
        for dep in graph[todo.pop()].deps:
            if dep in succeeded and dep not in stale and lost(graph[dep]):
                stale.add(dep)
                todo.append(dep)
    return stale | _finishing_after(graph, stale, succeeded)


def _finishing_after(graph: JobGraph, reopened: set[str], succeeded: set[str]) -> set[str]:
    """Succeeded report and cleanup jobs downstream of re-opened jobs."""
    seen: set[str] = set()
    todo = list(reopened)
    while todo:
        for child in graph.dependents(todo.pop()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return {j for j in seen if j in succeeded and graph[j].step in _FINISHING}


def _outputs_intact(job: Job, records: list[OutputRecord] | None) -> bool:
    if records is not None:
        return all(unchanged(r) for r in records)
    return job.kind is not JobKind.COMMAND or all(Path(p).exists() for p in job.outputs)


def recover_attempts(store: Store, run_id: str, executor: Executor) -> tuple[list[Reattached], list[str]]:
    """Re-attach what the executor still tracks; mark the rest lost. Returns (re-attached, job ids to re-run)."""
    active = store.active_attempts(run_id)
    ours = [a for a in active if a.executor == executor.name and a.handle]
    tracked = set(executor.reattach([a.handle for a in ours if a.handle])) if ours else set()
    reattached: list[Reattached] = []
    rerun: list[str] = []
    for att in active:
        if att.handle in tracked and att.executor == executor.name:
            reattached.append(
                Reattached(str(att.handle), att.job_id, att.attempt, Path(att.log_path), att.started_at is not None)
            )
            continue
        executor.stop_strays(run_id, att.job_id, att.attempt, att.executor)
        store.finish_attempt(
            run_id, att.job_id, att.attempt, state=AttemptState.LOST, exit_code=None, signal=None,
            error_type=None, reason="orchestrator stopped while the attempt was in flight", log_tail="",
            ended_at=time.time(),
        )
        rerun.append(att.job_id)
    return reattached, rerun
