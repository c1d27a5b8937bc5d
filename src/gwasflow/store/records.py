"""Records of the run store and the ``Store`` protocol every implementation follows."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from gwasflow.core.states import ACTIVE_ATTEMPT_STATES, AttemptState, JobState, RunState

__all__ = [
    "ACTIVE_ATTEMPT_STATES",
    "SCHEMA_VERSION",
    "AttemptRecord",
    "JobRecord",
    "OutputRecord",
    "RetryRequest",
    "RunRecord",
    "Store",
]

#: 2: attempts gained ``peak_memory_mb`` and ``cpu_time_s`` (a version 1 store is migrated when opened)
SCHEMA_VERSION = 2


@dataclass(frozen=True)

class RunRecord:
    """One run: its spec and graph as JSON, and where it stands."""

    run_id: str
    name: str
    state: RunState
    spec_json: str
    graph_json: str
    created_at: float
    updated_at: float
    message: str


@dataclass(frozen=True)
class JobRecord:
    """One job of a run. ``memory_mb`` / ``time_s`` override the plan's resources when set."""

    run_id: str
    job_id: str
    step: str
    state: JobState
    attempts: int
    updated_at: float
    memory_mb: int | None
    time_s: int | None


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt of one job on an executor (``attempt`` is 1-based).

    ``peak_memory_mb`` and ``cpu_time_s`` are what the executor measured of the attempt (None when it could not:
    attempts that never ran, executors that do not report usage, stores written before schema version 2).
    """

    run_id: str
    job_id: str
    attempt: int
    state: AttemptState
    executor: str
    handle: str | None
    log_path: str
    resources_json: str
    submitted_at: float
    started_at: float | None
    ended_at: float | None
    exit_code: int | None
    signal: int | None
    error_type: str | None
    reason: str
    log_tail: str
    peak_memory_mb: float | None = None
    cpu_time_s: float | None = None


@dataclass(frozen=True)
class RetryRequest:
    """A request to re-run a failed job (``gwasflow retry`` on a live run, an edited failure record)."""

    run_id: str
    request_id: int
    job_id: str
    memory_mb: int | None
    time_s: int | None
    source: str
    requested_at: float


@dataclass(frozen=True)
class OutputRecord:
    """A file a succeeded job left behind, as it was then: resume re-runs a job whose outputs changed."""

    job_id: str
    path: str
    size: int
    mtime_ns: int
    sha256: str


class Store(Protocol):
    """What the driver, CLI and dashboard need from a run store. Every method commits."""

    def create_run(self, run_id: str, name: str, spec_json: str, graph_json: str) -> None: ...
    def get_run(self, run_id: str) -> RunRecord: ...
    def latest_run(self) -> RunRecord | None: ...
    def list_runs(self) -> list[RunRecord]: ...
    def set_run_state(self, run_id: str, state: RunState, message: str = "") -> None: ...
    def add_jobs(self, run_id: str, jobs: Sequence[tuple[str, str]]) -> None: ...
    def set_job_state(self, run_id: str, job_id: str, state: JobState) -> None: ...
    def set_job_states(self, run_id: str, changes: Sequence[tuple[str, JobState]]) -> None: ...
    def get_job(self, run_id: str, job_id: str) -> JobRecord: ...
    def list_jobs(
        self, run_id: str, *, step: str | None = None, states: Collection[JobState] | None = None
    ) -> list[JobRecord]: ...
    def set_job_overrides(
        self, run_id: str, job_id: str, *, memory_mb: int | None, time_s: int | None
    ) -> None: ...
    def new_attempt(
        self, run_id: str, job_id: str, *, executor: str, log_path: str, resources_json: str
    ) -> int: ...
    def set_attempt_handle(self, run_id: str, job_id: str, attempt: int, handle: str) -> None: ...
    def mark_attempt_running(self, run_id: str, job_id: str, attempt: int, started_at: float) -> None: ...
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
    ) -> None: ...
    def list_attempts(self, run_id: str, job_id: str | None = None) -> list[AttemptRecord]: ...
    def active_attempts(self, run_id: str) -> list[AttemptRecord]: ...
    def add_retry_request(
        self, run_id: str, job_id: str, *, memory_mb: int | None, time_s: int | None, source: str
    ) -> int: ...
    def take_retry_requests(self, run_id: str) -> list[RetryRequest]: ...
    def record_outputs(self, run_id: str, job_id: str, outputs: Sequence[OutputRecord]) -> None: ...
    def list_outputs(self, run_id: str) -> list[OutputRecord]: ...
    def close(self) -> None: ...


# --------------------------------------------------------------------------- in memory
