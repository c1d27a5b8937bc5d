"""``MemoryStore``: the run store as plain dicts, with the SQLite store's behaviour, for unit tests."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import replace

from gwasflow.core.states import ACTIVE_ATTEMPT_STATES, AttemptState, JobState, RunState
from gwasflow.errors import StoreError
from gwasflow.store.records import (
    AttemptRecord,
    JobRecord,
    OutputRecord,
    RetryRequest,
    RunRecord,
)

__all__ = ["MemoryStore"]


class MemoryStore:
    """The in-memory twin of :class:`SQLiteStore` (same behaviour, no persistence)."""

    def __init__(self) -> None:
        self._runs: dict[str, RunRecord] = {}
        self._jobs: dict[str, dict[str, JobRecord]] = {}
        self._attempts: dict[str, dict[tuple[str, int], AttemptRecord]] = {}
        self._retry_requests: list[tuple[RetryRequest, bool]] = []  # (request, taken)
        self._outputs: dict[str, dict[str, list[OutputRecord]]] = {}

    def create_run(self, run_id: str, name: str, spec_json: str, graph_json: str) -> None:
        if run_id in self._runs:
            raise StoreError(f"run {run_id!r} already exists")
        now = time.time()
        self._runs[run_id] = RunRecord(run_id, name, RunState.CREATED, spec_json, graph_json, now, now, "")
        self._jobs[run_id] = {}
        self._attempts[run_id] = {}

    def get_run(self, run_id: str) -> RunRecord:
        try:
            return self._runs[run_id]
        except KeyError:
            raise StoreError(f"unknown run {run_id!r}") from None

    def latest_run(self) -> RunRecord | None:
        return next(reversed(self._runs.values()), None)

    def list_runs(self) -> list[RunRecord]:
        return list(self._runs.values())

    def set_run_state(self, run_id: str, state: RunState, message: str = "") -> None:
        run = self.get_run(run_id)
        self._runs[run_id] = replace(run, state=RunState(state), message=message, updated_at=time.time())

    def add_jobs(self, run_id: str, jobs: Sequence[tuple[str, str]]) -> None:
        table = self._run_jobs(run_id)
        ids = [job_id for job_id, _ in jobs]
        if len(set(ids)) != len(ids) or any(i in table for i in ids):
            raise StoreError(f"run {run_id!r}: duplicate job ids")
        now = time.time()
        for job_id, step in jobs:
            table[job_id] = JobRecord(run_id, job_id, step, JobState.PENDING, 0, now, None, None)

    def set_job_state(self, run_id: str, job_id: str, state: JobState) -> None:
        self.set_job_states(run_id, [(job_id, state)])

    def set_job_states(self, run_id: str, changes: Sequence[tuple[str, JobState]]) -> None:
        table = self._run_jobs(run_id)
        missing = [job_id for job_id, _ in changes if job_id not in table]
        if missing:
            raise StoreError(f"run {run_id!r}: unknown jobs {missing[:5]!r}")
        now = time.time()
        for job_id, state in changes:
            table[job_id] = replace(table[job_id], state=JobState(state), updated_at=now)

    def get_job(self, run_id: str, job_id: str) -> JobRecord:
        try:
            return self._run_jobs(run_id)[job_id]
        except KeyError:
            raise StoreError(f"run {run_id!r}: unknown job {job_id!r}") from None

    def list_jobs(
        self, run_id: str, *, step: str | None = None, states: Collection[JobState] | None = None
    ) -> list[JobRecord]:
        wanted = None if states is None else {JobState(s) for s in states}
        return [
            j
            for j in self._run_jobs(run_id).values()
            if (step is None or j.step == step) and (wanted is None or j.state in wanted)
        ]

    def set_job_overrides(
        self, run_id: str, job_id: str, *, memory_mb: int | None, time_s: int | None
    ) -> None:
        job = self.get_job(run_id, job_id)
        self._jobs[run_id][job_id] = replace(job, memory_mb=memory_mb, time_s=time_s, updated_at=time.time())

    def new_attempt(
        self, run_id: str, job_id: str, *, executor: str, log_path: str, resources_json: str
    ) -> int:
        job = self.get_job(run_id, job_id)
        number = job.attempts + 1
        now = time.time()
        self._jobs[run_id][job_id] = replace(job, attempts=number, updated_at=now)
        self._attempts[run_id][(job_id, number)] = AttemptRecord(
            run_id, job_id, number, AttemptState.SUBMITTING, executor, None, log_path, resources_json,
            now, None, None, None, None, None, "", "",
        )  # fmt: skip
        return number

    def set_attempt_handle(self, run_id: str, job_id: str, attempt: int, handle: str) -> None:
        rec = self._attempt(run_id, job_id, attempt)
        self._attempts[run_id][(job_id, attempt)] = replace(rec, handle=handle, state=AttemptState.SUBMITTED)

    def mark_attempt_running(self, run_id: str, job_id: str, attempt: int, started_at: float) -> None:
        rec = self._attempt(run_id, job_id, attempt)
        if rec.state in ACTIVE_ATTEMPT_STATES:
            rec = replace(rec, state=AttemptState.RUNNING, started_at=started_at)
            self._attempts[run_id][(job_id, attempt)] = rec

    def finish_attempt(
        self,
        run_id: str,
        job_id: str,
        attempt: int,
        *,
        state: AttemptState,
        exit_code: int | None,
        signal: int | None,
        error_type: str | None,
        reason: str,
        log_tail: str,
        ended_at: float,
        peak_memory_mb: float | None = None,
        cpu_time_s: float | None = None,
    ) -> None:
        rec = self._attempt(run_id, job_id, attempt)
        self._attempts[run_id][(job_id, attempt)] = replace(
            rec, state=AttemptState(state), exit_code=exit_code, signal=signal, error_type=error_type,
            reason=reason, log_tail=log_tail, ended_at=ended_at, peak_memory_mb=peak_memory_mb,
            cpu_time_s=cpu_time_s,
        )  # fmt: skip

    def list_attempts(self, run_id: str, job_id: str | None = None) -> list[AttemptRecord]:
        self.get_run(run_id)
        return [a for a in self._attempts[run_id].values() if job_id is None or a.job_id == job_id]

    def active_attempts(self, run_id: str) -> list[AttemptRecord]:
        return [a for a in self.list_attempts(run_id) if a.state in ACTIVE_ATTEMPT_STATES]

    def add_retry_request(
        self, run_id: str, job_id: str, *, memory_mb: int | None, time_s: int | None, source: str
    ) -> int:
        self.get_job(run_id, job_id)  # raises for an unknown job
        number = len(self._retry_requests) + 1
        request = RetryRequest(run_id, number, job_id, memory_mb, time_s, source, time.time())
        self._retry_requests.append((request, False))
        return number

    def take_retry_requests(self, run_id: str) -> list[RetryRequest]:
        taken = []
        for i, (request, done) in enumerate(self._retry_requests):
            if request.run_id == run_id and not done:
                self._retry_requests[i] = (request, True)
                taken.append(request)
        return taken

    def record_outputs(self, run_id: str, job_id: str, outputs: Sequence[OutputRecord]) -> None:
        self.get_job(run_id, job_id)
        self._outputs.setdefault(run_id, {})[job_id] = list(outputs)

    def list_outputs(self, run_id: str) -> list[OutputRecord]:
        self.get_run(run_id)
        return [o for records in self._outputs.get(run_id, {}).values() for o in records]

    def close(self) -> None:
        """Nothing to release; kept for the protocol."""

    def _run_jobs(self, run_id: str) -> dict[str, JobRecord]:
        self.get_run(run_id)
        return self._jobs[run_id]

    def _attempt(self, run_id: str, job_id: str, attempt: int) -> AttemptRecord:
        self.get_job(run_id, job_id)
        try:
            return self._attempts[run_id][(job_id, attempt)]
        except KeyError:
            raise StoreError(f"run {run_id!r}: job {job_id!r} has no attempt {attempt}") from None


# --------------------------------------------------------------------------- SQLite
