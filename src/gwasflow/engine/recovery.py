"""Pick a run up where a dead orchestrator left it.

The store says which attempts were in flight when the previous driver
stopped (killed, crashed, node rebooted). For each:

* the executor can still track it (a Slurm or Batch job lives on in the
  cluster): it is re-attached, not resubmitted;
* otherwise (a local child, or an attempt whose submission was never
  confirmed): its stray processes are killed, the attempt is recorded as
  ``lost`` (which does not count against the retry budget) and the job goes
  back to PENDING to run again.

Jobs recorded as succeeded whose outputs are still needed but have since
disappeared or changed (checked against the size, time and SHA-256 recorded
when they succeeded) are set back to PENDING too; cancelled jobs are re-opened, since
resuming a cancelled run means carrying on with it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from gwasflow.engine.outputs import unchanged
from gwasflow.engine.states import JobState
from gwasflow.engine.store import OutputRecord, Store
from gwasflow.executors.base import Executor
from gwasflow.executors.local import kill_strays
from gwasflow.plan.model import Job, JobGraph, JobKind

__all__ = ["Reattached", "initial_states", "recover_attempts"]


@dataclass(frozen=True)
class Reattached:
    handle: str
    job_id: str
    attempt: int
    log_path: Path
    started: bool


def initial_states(store: Store, run_id: str, graph: JobGraph) -> dict[str, JobState]:
    """Job states to start the scheduler from: the store's, with stale outputs and cancellations re-opened.

    A succeeded job runs again only when its outputs are still needed (a dependent has not succeeded)
    and they are gone or differ from what was recorded when it succeeded (size and time, else SHA-256).
    """
    states = {rec.job_id: rec.state for rec in store.list_jobs(run_id)}
    recorded: dict[str, list[OutputRecord]] = {}
    for record in store.list_outputs(run_id):
        recorded.setdefault(record.job_id, []).append(record)
    changes: list[tuple[str, JobState]] = []
    for job in graph:
        state = states.get(job.id, JobState.PENDING)
        needed = any(states.get(d) is not JobState.SUCCEEDED for d in graph.dependents(job.id))
        stale = state is JobState.SUCCEEDED and needed and not _outputs_intact(job, recorded.get(job.id))
        if stale or state is JobState.CANCELLED:
            changes.append((job.id, JobState.PENDING))
    reopened = {job_id for job_id, _ in changes}
    for job in graph:  # dependents that only failed because of a cancelled job run again too
        if states.get(job.id) is JobState.UPSTREAM_FAILED and any(d in reopened for d in job.deps):
            changes.append((job.id, JobState.PENDING))
            reopened.add(job.id)
    if changes:
        store.set_job_states(run_id, changes)
        states.update(changes)
    return states


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
        if att.executor in ("local", "driver"):
            kill_strays(f"{run_id}:{att.job_id}:{att.attempt}")
        store.finish_attempt(
            run_id, att.job_id, att.attempt, state="lost", exit_code=None, signal=None,
            error_type=None, reason="orchestrator stopped while the attempt was in flight", log_tail="",
            ended_at=time.time(),
        )
        rerun.append(att.job_id)
    return reattached, rerun
