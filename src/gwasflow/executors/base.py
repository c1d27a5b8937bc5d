"""The executor protocol: submit, batched poll, cancel, logs.

An executor runs argv lists somewhere (child processes, Slurm, AWS Batch). It
never reads the run spec and never touches the store; the driver calls it.
``poll`` takes *all* active handles at once so that a backend makes one status
call per poll interval (one ``sacct``, ``DescribeJobs`` in pages of 100).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from gwasflow.engine.states import ExecCause, ExecState
from gwasflow.plan.model import Resources

__all__ = ["ExecStatus", "Executor", "Submission"]


@dataclass(frozen=True)
class Submission:
    """One attempt of one job, as handed to an executor."""

    job_id: str
    attempt: int
    argv: tuple[str, ...]
    log_path: Path
    resources: Resources
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    image: str | None = None  # container image to run argv in (Batch); None: run argv as is


@dataclass(frozen=True)
class ExecStatus:
    """What the executor knows of one attempt.

    ``exit_code`` is set when the process exited; ``signal`` when it was
    killed by one; ``cause`` is what the executor itself knows of why it
    ended (its time limit, the cluster's OOM or node-failure verdict, a cancel
    by someone else), typed at the executor boundary: error classification
    reads ``cause``, never ``reason``. ``reason`` is the executor's own words
    (Slurm state, Batch ``statusReason``), for people.
    """

    state: ExecState
    exit_code: int | None = None
    signal: int | None = None
    reason: str = ""
    peak_memory_mb: float | None = None
    cpu_time_s: float | None = None
    cause: ExecCause | None = None


@runtime_checkable
class Executor(Protocol):
    """What the driver needs from a backend."""

    name: str

    def submit(self, submission: Submission) -> str:
        """Start an attempt; return the executor's handle (pid, Slurm id, Batch id)."""
        ...

    def submit_batch(self, submissions: Sequence[Submission]) -> list[str]:
        """Start many attempts at once (Slurm: job arrays, Batch: array jobs); handles in order."""
        ...

    def reattach(self, handles: Sequence[str]) -> list[str]:
        """Of these handles from an earlier orchestrator process, the ones this executor can still track.

        Slurm and Batch jobs live on in the cluster and are re-attached; local children are not.
        """
        ...

    def poll(self, handles: Sequence[str]) -> dict[str, ExecStatus]:
        """Status of every handle given, in one batched query."""
        ...

    def cancel(self, handles: Sequence[str]) -> None:
        """Cancel all these attempts (one call for many)."""
        ...

    def logs(self, handle: str, *, tail: int = 50) -> str:
        """The last ``tail`` lines of the attempt's log."""
        ...

    def close(self) -> None:
        """Release resources (reap children, close clients)."""
        ...
