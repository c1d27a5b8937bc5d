"""AWS Batch's words -> gwasflow's typed statuses: the one place Batch states and reasons are read.

``Job attempt duration exceeded timeout`` is TIMEOUT, a container ``OutOfMemoryError`` is OUT_OF_MEMORY,
``Host EC2 (...) terminated`` (spot reclaim, scale-in) is INTERRUPTED. A job terminated or cancelled by someone
else (its ``statusReason`` is not Batch's own words, nor the last attempt's, nor gwasflow's cancel reason)
FAILS with cause CANCELLED_EXTERNALLY.

A container that never started:

* the host or its agent failed to start it (``Task failed to start``, ``ResourceInitializationError``,
  ``DockerTimeoutError``/``ContainerRuntimeTimeoutError``, a ``CannotPullContainerError`` that timed out or was
  throttled) is INTERRUPTED: the infrastructure's fault, retried on the interruption budget;
* its image is not there or not ours to pull (``CannotPullContainerError`` with the registry's ``not found``,
  ``manifest unknown``, ``repository does not exist``, ``pull access denied``), or gwasflow's job wrapper
  could not enter the working directory (exit :data:`WORKDIR_EXIT`: ``workdir`` not mounted in the container),
  is BAD_CONFIG: no retry fixes it, the attempt fails with one line saying what to fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from gwasflow.core.states import ExecCause, ExecState
from gwasflow.executors.base import ExecStatus

__all__ = ["CANCEL_REASON", "WORKDIR_EXIT", "parent_answer", "status_from_batch"]

#: the reason gwasflow gives TerminateJob (a FAILED job with it was cancelled by gwasflow)
CANCEL_REASON = "gwasflow: cancelled"
_QUEUED = frozenset({"SUBMITTED", "PENDING", "RUNNABLE", "STARTING"})
_TIMEOUT = re.compile(r"^Job attempt duration exceeded timeout", re.IGNORECASE)
_OOM = re.compile(r"^OutOfMemoryError\b", re.IGNORECASE)
_HOST_LOST = re.compile(r"^Host EC2 \(instance [^)]*\) terminated", re.IGNORECASE)
# statusReason words that Batch itself writes on a FAILED job (any other text was given to TerminateJob/CancelJob)
_BATCH_OWN = re.compile(
    r"^(Essential container in task exited|Host EC2 |Job attempt duration exceeded timeout|Dependent Job failed"
    r"|Array Child Job failed|Task failed to start|[A-Za-z]+Error\b)",
    re.IGNORECASE,
)
#: exit status of gwasflow's job wrapper (``aws_batch.CWD_SCRIPT``, ``ARRAY_SCRIPT``) when the container cannot
#: enter the working directory (sysexits' EX_CONFIG; regenie, the built-in engine and gwasflow never exit 78)
WORKDIR_EXIT = 78
# the host or its container agent could not start the container (ECS stopped-task error prefixes)
_START_FAILED = re.compile(
    r"^(Task failed to start|ResourceInitializationError\b|DockerTimeoutError\b|ContainerRuntimeTimeoutError\b)",
    re.IGNORECASE,
)
_PULL_FAILED = re.compile(r"^CannotPullContainerError\b", re.IGNORECASE)
# what a registry answers for an image that is not there, or that these credentials may not pull
_IMAGE_MISSING = re.compile(
    r"not found|manifest unknown|repository does not exist|pull access denied|access ?denied|name unknown"
    r"|invalid reference format",
    re.IGNORECASE,
)
_CAUSE_WORDS = {
    ExecCause.TIMEOUT: "timeout",
    ExecCause.OUT_OF_MEMORY: "out of memory",
    ExecCause.INTERRUPTED: "interrupted (spot reclaim or host lost)",
}
_NOT_STARTED = "interrupted (the host could not start the container)"
_NO_IMAGE = "bad config (the image cannot be pulled: is its name and tag right, may the hosts pull it?)"
_NO_WORKDIR = (f"bad config (exit {WORKDIR_EXIT}: the container cannot enter the working directory: is workdir "
               "mounted at the same path in the containers?)")


def status_from_batch(job: Mapping[str, Any]) -> ExecStatus:
    """Map one ``DescribeJobs`` entry to an :class:`ExecStatus` (the only place Batch words are read)."""
    state = str(job.get("status", ""))
    container: Mapping[str, Any] = job.get("container") or {}
    attempts: Sequence[Mapping[str, Any]] = job.get("attempts") or []
    last: Mapping[str, Any] = attempts[-1] if attempts else {}
    last_container: Mapping[str, Any] = last.get("container") or {}
    exit_code = container.get("exitCode", last_container.get("exitCode"))
    if state in _QUEUED:
        return ExecStatus(ExecState.PENDING, reason=str(job.get("statusReason") or ""))
    if state == "RUNNING":
        return ExecStatus(ExecState.RUNNING)
    if state == "SUCCEEDED":
        return ExecStatus(ExecState.SUCCEEDED, exit_code=0 if exit_code is None else int(exit_code))
    if state != "FAILED":
        return ExecStatus(ExecState.PENDING, reason=f"unknown Batch status {state!r}")
    texts = [job.get("statusReason"), container.get("reason"), last.get("statusReason"), last_container.get("reason")]
    text = "; ".join(dict.fromkeys(str(t) for t in texts if t))
    code = None if exit_code is None else int(exit_code)
    sig = code - 128 if code is not None and 128 < code <= 128 + 64 else None
    if text.startswith(CANCEL_REASON):
        return ExecStatus(ExecState.CANCELLED, code, sig, "cancelled")
    cause, words = _failure_cause(job, container, last, last_container, code)
    if cause is ExecCause.CANCELLED_EXTERNALLY:
        reason = f"cancelled outside gwasflow: {text}"
    elif cause is not None:
        reason = f"{words}: {text}"
    elif code is not None:
        reason = f"exit code {code}" + (f" (signal {sig})" if sig else "") + (f": {text}" if text else "")
    else:
        reason = text or "failed without exit code"
    return ExecStatus(ExecState.FAILED, code, sig, reason, cause=cause)


def _failure_cause(job: Mapping[str, Any], container: Mapping[str, Any], last: Mapping[str, Any],
                   last_container: Mapping[str, Any], code: int | None) -> tuple[ExecCause | None, str]:
    """The typed cause of a FAILED job and its words, from Batch's own reason fields and the wrapper's exit status;
    None for a plain non-zero exit."""
    job_reason = str(job.get("statusReason") or "")
    attempt_reason = str(last.get("statusReason") or "")
    if job_reason and job_reason != attempt_reason and not _BATCH_OWN.match(job_reason):
        return ExecCause.CANCELLED_EXTERNALLY, ""  # TerminateJob/CancelJob's reason replaced Batch's words
    reasons = [job_reason, attempt_reason]
    container_reasons = [str(c.get("reason") or "") for c in (container, last_container)]
    for cause, pattern, fields in ((ExecCause.TIMEOUT, _TIMEOUT, reasons),
                                   (ExecCause.OUT_OF_MEMORY, _OOM, container_reasons),
                                   (ExecCause.INTERRUPTED, _HOST_LOST, reasons)):  # fmt: skip
        if any(pattern.match(r) for r in fields):
            return cause, _CAUSE_WORDS[cause]
    pulls = [r for r in container_reasons + reasons if _PULL_FAILED.match(r)]
    if pulls:
        missing = any(_IMAGE_MISSING.search(r) for r in pulls)
        return (ExecCause.BAD_CONFIG, _NO_IMAGE) if missing else (ExecCause.INTERRUPTED, _NOT_STARTED)
    if any(_START_FAILED.match(r) for r in container_reasons + reasons):
        return ExecCause.INTERRUPTED, _NOT_STARTED
    if code == WORKDIR_EXIT:
        return ExecCause.BAD_CONFIG, _NO_WORKDIR
    return None, ""


def parent_answer(parent: Mapping[str, Any]) -> ExecStatus | None:
    """What an array parent says of all its children, or None when they must be described one by one."""
    if parent.get("status") == "SUCCEEDED":
        return ExecStatus(ExecState.SUCCEEDED, exit_code=0)
    summary: Mapping[str, int] = (parent.get("arrayProperties") or {}).get("statusSummary") or {}
    if summary and parent.get("status") != "FAILED" and all(n == 0 for s, n in summary.items() if s not in _QUEUED):
        return ExecStatus(ExecState.PENDING)
    return None
