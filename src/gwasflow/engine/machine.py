"""The scheduler: which jobs of a graph can run next. No I/O, no executors.

The driver asks :meth:`Scheduler.runnable`, submits some of those jobs, and
reports every state change back with :meth:`Scheduler.set_state`. Each call
that changes anything returns the full list of ``(job_id, new_state)``
changes (including failures propagated downstream), which the driver
persists in one store transaction.

Invariants kept by every method (given consistent initial states):

* a job only becomes QUEUED, RUNNING, RETRY_WAIT or SUCCEEDED when all its
  dependencies are SUCCEEDED;
* no job waiting or active (PENDING, RETRY_WAIT, QUEUED, RUNNING) has a
  dependency that is FAILED, CANCELLED or UPSTREAM_FAILED: when a job fails
  or is cancelled, every transitive dependent not yet finished becomes
  UPSTREAM_FAILED in the same call;
* SUCCEEDED is final; FAILED, CANCELLED and UPSTREAM_FAILED are final until
  :meth:`Scheduler.reopen`.

Cost: each dependency edge is visited a constant number of times per state
change of its job (counters of unmet dependencies), so driving a graph of
100,000 shards costs O(jobs + edges) overall, not O(jobs) per call.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from gwasflow.core.states import FINISHED_JOB_STATES, JobState
from gwasflow.plan.model import Job, JobGraph

__all__ = ["Change", "Scheduler"]

Change = tuple[str, JobState]

_S = JobState
_WAITING = frozenset({_S.PENDING, _S.RETRY_WAIT})
_BROKEN = frozenset({_S.FAILED, _S.CANCELLED, _S.UPSTREAM_FAILED})
_NEEDS_DEPS = frozenset({_S.QUEUED, _S.RUNNING, _S.SUCCEEDED, _S.RETRY_WAIT})

# Transitions the driver may ask for with set_state (same-state calls are no-ops).
_ALLOWED: dict[JobState, frozenset[JobState]] = {
    _S.PENDING: frozenset({_S.QUEUED, _S.RUNNING, _S.SUCCEEDED, _S.FAILED, _S.RETRY_WAIT, _S.CANCELLED}),
    _S.RETRY_WAIT: frozenset({_S.PENDING, _S.QUEUED, _S.RUNNING, _S.SUCCEEDED, _S.FAILED, _S.CANCELLED}),
    _S.QUEUED: frozenset({_S.PENDING, _S.RUNNING, _S.SUCCEEDED, _S.FAILED, _S.RETRY_WAIT, _S.CANCELLED}),
    _S.RUNNING: frozenset({_S.PENDING, _S.QUEUED, _S.SUCCEEDED, _S.FAILED, _S.RETRY_WAIT, _S.CANCELLED}),
    _S.SUCCEEDED: frozenset(),
    _S.FAILED: frozenset({_S.PENDING}),
    _S.CANCELLED: frozenset({_S.PENDING}),
    _S.UPSTREAM_FAILED: frozenset({_S.PENDING}),
}


class Scheduler:
    """Tracks the state of every job of a :class:`JobGraph` and what can run next.

    ``states`` are the initial states (from the store on resume); jobs not
    named start PENDING. QUEUED and RUNNING jobs are kept as given: the driver
    re-attaches to them or resets them to PENDING.
    """

    def __init__(self, graph: JobGraph, states: Mapping[str, JobState] | None = None) -> None:
        self._graph = graph
        self._order: dict[str, int] = {}
        self._deps: dict[str, tuple[str, ...]] = {}
        self._dependents: dict[str, list[str]] = {}
        for index, job in enumerate(graph):
            self._order[job.id] = index
            self._deps[job.id] = tuple(dict.fromkeys(job.deps))
            self._dependents[job.id] = []
            for dep in self._deps[job.id]:
                self._dependents[dep].append(job.id)
        given = dict(states or {})
        unknown = sorted(set(given) - set(self._order))
        if unknown:
            raise ValueError(f"states given for jobs not in the graph: {unknown[:5]!r}")
        self._state: dict[str, JobState] = {jid: JobState(given.get(jid, _S.PENDING)) for jid in self._order}
        self._unmet: dict[str, int] = {
            jid: sum(self._state[d] is not _S.SUCCEEDED for d in deps) for jid, deps in self._deps.items()
        }
        self._counts: dict[JobState, int] = dict.fromkeys(JobState, 0)
        self._step_counts: dict[str, dict[JobState, int]] = {}
        for job in graph:
            self._counts[self._state[job.id]] += 1
            per_step = self._step_counts.setdefault(job.step.value, dict.fromkeys(JobState, 0))
            per_step[self._state[job.id]] += 1
        self._finished = sum(self._counts[s] for s in FINISHED_JOB_STATES)
        self._ready: set[str] = set()
        self._heap: list[tuple[int, str]] = []
        for jid in self._order:
            self._refresh_ready(jid)

    # queries -----------------------------------------------------------

    def state(self, job_id: str) -> JobState:
        """The current state of one job (``KeyError`` if unknown)."""
        return self._state[job_id]

    def states(self) -> dict[str, JobState]:
        """A copy of every job's state, in graph order."""
        return dict(self._state)

    def runnable(self, limit: int | None = None) -> list[Job]:
        """Jobs PENDING or RETRY_WAIT whose dependencies all SUCCEEDED, in graph order.

        ``limit`` returns only the first ``limit`` of them, at a cost of
        O(limit log n) rather than sorting every ready job: use it when
        only a few slots are free and thousands of shards are ready.
        """
        if limit is None:
            ids = sorted(self._ready, key=self._order.__getitem__)
            self._heap = [(self._order[jid], jid) for jid in ids]  # sorted list is a valid heap
            return [self._graph[jid] for jid in ids]
        taken: list[tuple[int, str]] = []
        seen: set[str] = set()
        while self._heap and len(taken) < limit:
            entry = heapq.heappop(self._heap)
            if entry[1] in self._ready and entry[1] not in seen:  # else stale or duplicate
                seen.add(entry[1])
                taken.append(entry)
        for entry in taken:
            heapq.heappush(self._heap, entry)
        return [self._graph[jid] for _, jid in taken]

    def done(self) -> bool:
        """True when every job is SUCCEEDED, FAILED, CANCELLED or UPSTREAM_FAILED."""
        return self._finished == len(self._state)

    def counts(self) -> dict[JobState, int]:
        """Number of jobs in each state (every state present, zeros included)."""
        return dict(self._counts)

    def counts_by_step(self) -> dict[str, dict[JobState, int]]:
        """Per step (``Step`` value), the number of jobs in each state."""
        return {step: dict(c) for step, c in self._step_counts.items()}

    # changes -----------------------------------------------------------

    def set_state(self, job_id: str, state: JobState) -> list[Change]:
        """Move one job to ``state``; return every change made, propagated ones included.

        Raises ``KeyError`` for an unknown job and ``ValueError`` for an
        impossible transition (from SUCCEEDED, to UPSTREAM_FAILED, starting a
        job whose dependencies have not all succeeded). Moving a finished
        failure back to PENDING is :meth:`reopen`. Same state: no change.
        """
        state = JobState(state)
        old = self._state[job_id]
        if state is old:
            return []
        if state not in _ALLOWED[old]:
            raise ValueError(f"job {job_id!r}: impossible transition {old.value} -> {state.value}")
        if old in _BROKEN:
            return self.reopen([job_id])
        if state in _NEEDS_DEPS and self._unmet[job_id]:
            raise ValueError(
                f"job {job_id!r}: cannot become {state.value}, {self._unmet[job_id]} dependencies unfinished"
            )
        self._apply(job_id, state)
        changes: list[Change] = [(job_id, state)]
        if state is _S.SUCCEEDED:
            for child in self._dependents[job_id]:
                self._unmet[child] -= 1
                self._refresh_ready(child)
        elif state in (_S.FAILED, _S.CANCELLED):
            changes.extend(self._propagate_failure(job_id))
        return changes

    def reopen(self, job_ids: Iterable[str]) -> list[Change]:
        """Put failed, cancelled or upstream-failed jobs back to PENDING (a manual retry).

        Their transitive dependents that are UPSTREAM_FAILED are re-opened too,
        unless another of their dependencies is still failed. Raises
        ``ValueError`` (changing nothing) if a job named is not FAILED,
        CANCELLED or UPSTREAM_FAILED, or has a failed dependency not re-opened
        in the same call.
        """
        named = set(job_ids)
        for jid in named:
            if self._state[jid] not in _BROKEN:
                raise ValueError(
                    f"job {jid!r} is {self._state[jid].value}, only failed jobs can be re-opened"
                )
        chosen: set[str] = set()
        heap = [(self._order[jid], jid) for jid in named]
        heapq.heapify(heap)
        while heap:  # graph order: a job's dependencies are decided before it is
            _, jid = heapq.heappop(heap)
            if jid in chosen:
                continue
            blocked = [d for d in self._deps[jid] if self._state[d] in _BROKEN and d not in chosen]
            if blocked:
                if jid in named:
                    dep = blocked[0]
                    raise ValueError(
                        f"job {jid!r} cannot be re-opened: dependency {dep!r} is {self._state[dep].value}"
                    )
                continue
            chosen.add(jid)
            for child in self._dependents[jid]:
                if self._state[child] is _S.UPSTREAM_FAILED and child not in chosen:
                    heapq.heappush(heap, (self._order[child], child))
        ordered = sorted(chosen, key=self._order.__getitem__)
        for jid in ordered:
            self._apply(jid, _S.PENDING)
        return [(jid, _S.PENDING) for jid in ordered]

    def cancel_all(self) -> list[Change]:
        """Mark every job not finished CANCELLED (the run is being cancelled); return the changes.

        The driver cancels the QUEUED/RUNNING ones on the executor first.
        """
        ids = [jid for jid, s in self._state.items() if s not in FINISHED_JOB_STATES]
        for jid in ids:
            self._apply(jid, _S.CANCELLED)
        return [(jid, _S.CANCELLED) for jid in ids]

    # internals ---------------------------------------------------------

    def _propagate_failure(self, job_id: str) -> list[Change]:
        changes: list[Change] = []
        stack = list(self._dependents[job_id])
        while stack:
            jid = stack.pop()
            if self._state[jid] in FINISHED_JOB_STATES:
                continue  # already failed downstream, or (inconsistent input) succeeded
            self._apply(jid, _S.UPSTREAM_FAILED)
            changes.append((jid, _S.UPSTREAM_FAILED))
            stack.extend(self._dependents[jid])
        changes.sort(key=lambda c: self._order[c[0]])
        return changes

    def _apply(self, job_id: str, state: JobState) -> None:
        old = self._state[job_id]
        self._state[job_id] = state
        self._counts[old] -= 1
        self._counts[state] += 1
        per_step = self._step_counts[self._graph[job_id].step.value]
        per_step[old] -= 1
        per_step[state] += 1
        self._finished += (state in FINISHED_JOB_STATES) - (old in FINISHED_JOB_STATES)
        self._refresh_ready(job_id)

    def _refresh_ready(self, job_id: str) -> None:
        if self._state[job_id] in _WAITING and self._unmet[job_id] == 0:
            if job_id not in self._ready:
                self._ready.add(job_id)
                heapq.heappush(self._heap, (self._order[job_id], job_id))
        else:
            self._ready.discard(job_id)
