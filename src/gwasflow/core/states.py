"""State enums and their named groups, the steps of a run and the error types of attempts.

Raw executor strings (Slurm's ``OUT_OF_MEMORY``, Batch's ``RUNNABLE``) are
mapped to :class:`ExecState` and :class:`ExecCause` inside each executor and
nowhere else; the rest of gwasflow only ever compares these enums and groups.
"""

from __future__ import annotations

import enum

__all__ = [
    "ACTIVE_ATTEMPT_STATES",
    "ACTIVE_EXEC_STATES",
    "ACTIVE_JOB_STATES",
    "FINISHED_EXEC_STATES",
    "FINISHED_JOB_STATES",
    "FINISHED_RUN_STATES",
    "HOST_PROCESS_EXECUTORS",
    "SUBMIT_ERROR_TYPES",
    "AttemptState",
    "ErrorType",
    "ExecCause",
    "ExecState",
    "ExecutorKind",
    "JobState",
    "RunState",
    "Step",
]


class JobState(enum.StrEnum):
    """Where a job of the graph stands (persisted in the store)."""

    PENDING = "pending"  # waiting for its dependencies
    QUEUED = "queued"  # submitted to the executor, not yet running
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # out of attempts or not retryable
    RETRY_WAIT = "retry_wait"  # failed an attempt, will be resubmitted
    CANCELLED = "cancelled"
    UPSTREAM_FAILED = "upstream_failed"  # a dependency failed or was cancelled


ACTIVE_JOB_STATES = frozenset({JobState.QUEUED, JobState.RUNNING})
FINISHED_JOB_STATES = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.UPSTREAM_FAILED}
)


class AttemptState(enum.StrEnum):
    """Where one attempt of one job stands (persisted in the store as its value).

    The store itself writes the active ones (``submitting`` -> ``submitted`` -> ``running``); the driver,
    ``resume`` and ``cancel`` write how an attempt ended.
    """

    SUBMITTING = "submitting"  # recorded, not yet handed to the executor (or its handle not yet recorded)
    SUBMITTED = "submitted"  # the executor has it (handle recorded), not yet seen running
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # see the attempt's error type
    CANCELLED = "cancelled"
    LOST = "lost"  # in flight when its driver died, and no executor could re-attach to it


ACTIVE_ATTEMPT_STATES = frozenset({AttemptState.SUBMITTING, AttemptState.SUBMITTED, AttemptState.RUNNING})


class RunState(enum.StrEnum):
    """Where a whole run stands."""

    CREATED = "created"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED_RUN_STATES = frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED})


class ExecState(enum.StrEnum):
    """What an executor says of one submitted attempt."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # exit code 0
    FAILED = "failed"  # non-zero exit or killed by a signal
    CANCELLED = "cancelled"
    LOST = "lost"  # the executor no longer knows the attempt (node lost, orchestrator restarted)


ACTIVE_EXEC_STATES = frozenset({ExecState.PENDING, ExecState.RUNNING})
FINISHED_EXEC_STATES = frozenset(
    {ExecState.SUCCEEDED, ExecState.FAILED, ExecState.CANCELLED, ExecState.LOST}
)


class ExecutorKind(enum.StrEnum):
    """Who ran an attempt (persisted in the store as its value): an executor backend, or the driver itself."""

    LOCAL = "local"  # a child process of the driver
    SLURM = "slurm"
    AWS_BATCH = "aws_batch"
    DRIVER = "driver"  # the driver's in-process jobs (stage-in, merge, report, cleanup)


#: attempts that ran as processes on the driver's machine: what a dead driver left of them is found there
HOST_PROCESS_EXECUTORS = frozenset({ExecutorKind.LOCAL, ExecutorKind.DRIVER})


class ExecCause(enum.StrEnum):
    """Why an attempt ended, when the executor itself knows (set at the executor boundary, else None).

    Only what the executor observed is a cause: its own limits, the cluster's verdict, its own cancel.
    What the command printed is read by ``engine/classify.py``, from exact lines only.
    """

    OUT_OF_MEMORY = "out_of_memory"  # Slurm OUT_OF_MEMORY, Batch OutOfMemoryError, the kernel's OOM killer
    TIMEOUT = "timeout"  # the executor stopped the attempt at its time limit
    INTERRUPTED = "interrupted"  # node failure, preemption, spot reclaim, or the attempt is LOST
    CANCELLED_EXTERNALLY = "cancelled_externally"  # cancelled by someone else (scancel, TerminateJob)
    # the executor's setup cannot start the command: its image is not found, its working directory not mounted
    BAD_CONFIG = "bad_config"


class ErrorType(enum.StrEnum):
    """Why an attempt failed, as ``engine/classify.py`` decides it; the retry policy reads only this."""

    OUT_OF_MEMORY = "out_of_memory"
    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"  # node lost, spot reclaim, preemption: its own retry budget
    KILLED = "killed"  # ended by a signal nobody explained (a kill from outside, a crash of the host process)
    CANCELLED_EXTERNALLY = "cancelled_externally"  # scancel / TerminateJob by someone else: never retried by itself
    BAD_INPUT = "bad_input"
    BAD_CONFIG = "bad_config"  # the executor's setup cannot start it (image not found, workdir not mounted)
    MISSING_OUTPUT = "missing_output"
    TRUNCATED_OUTPUT = "truncated_output"
    CRASH = "crash"
    # the executor did not take the attempt (sbatch, SubmitJob failed): it never ran; typed from SubmitError
    SUBMIT_FAILED = "submit_failed"  # may pass (controller down, timeout): tried again with its own budget
    SUBMIT_REFUSED = "submit_refused"  # never accepted as it is (invalid partition, memory no node has)


#: error types of attempts that never reached the executor
SUBMIT_ERROR_TYPES = frozenset({ErrorType.SUBMIT_FAILED, ErrorType.SUBMIT_REFUSED})


class Step(enum.StrEnum):
    """The steps of a run, in the order they happen."""

    STAGE_IN = "stage_in"
    QC = "qc"  # variant and sample QC of the step 1 genotypes (step1.qc)
    STEP1 = "step1"
    STEP2 = "step2"
    MERGE = "merge"
    REPORT = "report"
    CLEANUP = "cleanup"
