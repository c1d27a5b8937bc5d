"""Slurm's words -> gwasflow's typed statuses: the one place Slurm states are read (the Slurm executor's boundary).

TIMEOUT and DEADLINE (or the task runner's own time limit) are TIMEOUT, OUT_OF_MEMORY is OUT_OF_MEMORY,
NODE_FAIL, BOOT_FAIL and PREEMPTED are INTERRUPTED. A CANCELLED job that this executor did not ``scancel``
(someone ran ``scancel`` by hand) FAILS with cause CANCELLED_EXTERNALLY, so that the run records a failed attempt
instead of a cancel it never asked for. The reasons are words for people only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gwasflow.core.states import ExecCause, ExecState
from gwasflow.executors.base import ExecStatus

__all__ = ["is_active", "status_from_slurm"]

_PENDING = frozenset({"PENDING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD", "CONFIGURING",
                      "POWER_UP_NODE"})  # fmt: skip
_RUNNING = frozenset({"RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "SIGNALING", "STAGE_OUT", "RESIZING"})
_FAILED_REASONS = {
    "TIMEOUT": "timeout: Slurm time limit reached (TIMEOUT)",
    "DEADLINE": "timeout: Slurm deadline reached (DEADLINE)",
    "OUT_OF_MEMORY": "out of memory: over the job's --mem (OUT_OF_MEMORY)",
    "NODE_FAIL": "NODE_FAIL: the node running the job failed",
    "BOOT_FAIL": "NODE_FAIL: the node failed to boot (BOOT_FAIL)",
    "PREEMPTED": "preempted by Slurm (PREEMPTED)",
}
_CAUSES = {
    "TIMEOUT": ExecCause.TIMEOUT,
    "DEADLINE": ExecCause.TIMEOUT,
    "OUT_OF_MEMORY": ExecCause.OUT_OF_MEMORY,
    "NODE_FAIL": ExecCause.INTERRUPTED,
    "BOOT_FAIL": ExecCause.INTERRUPTED,
    "PREEMPTED": ExecCause.INTERRUPTED,
}


def is_active(state: str) -> bool:
    """Whether Slurm's state word says the job is still queued or running."""
    return state in _PENDING or state in _RUNNING


def status_from_slurm(
    state: str, detail: str = "", exit_code: int = 0, signal: int = 0, result: Mapping[str, Any] | None = None,
    *, max_rss_mb: float | None = None, cpu_s: float | None = None, cancelled_here: bool = False,
) -> ExecStatus:  # fmt: skip
    """Slurm's word for a job (``state`` plus ``detail``, e.g. ``CANCELLED`` ``by 0``) -> gwasflow's status.

    ``exit_code``/``signal`` are sacct's ExitCode halves; ``result`` is the task runner's result file, when it
    wrote one: it knows the command's own exit code, signal, usage and whether the runner stopped it at its time
    limit, which Slurm does not. ``cancelled_here``: this executor asked ``scancel`` for the job.
    """
    if state in _PENDING:
        return ExecStatus(ExecState.PENDING, reason=state)
    if state in _RUNNING:
        return ExecStatus(ExecState.RUNNING, reason=state)
    res = dict(result or {})
    peak = res.get("peak_memory_mb", max_rss_mb)
    cpu = res.get("cpu_s", cpu_s)
    if "exit_code" in res or "signal" in res:
        code, sig = res.get("exit_code"), res.get("signal")
    else:
        code, sig = (None, signal) if 0 < signal < 65 else (exit_code if signal == 0 else None, None)
    if state == "CANCELLED" and cancelled_here:
        return ExecStatus(ExecState.CANCELLED, code, sig, f"CANCELLED {detail}".strip(), peak, cpu)
    if state == "CANCELLED":
        reason = "cancelled outside gwasflow: " + f"CANCELLED {detail}".strip()
        return ExecStatus(ExecState.FAILED, code, sig, reason, peak, cpu, cause=ExecCause.CANCELLED_EXTERNALLY)
    if state == "COMPLETED" and code == 0 and sig is None:
        return ExecStatus(ExecState.SUCCEEDED, 0, None, "", peak, cpu)
    cause = _CAUSES.get(state)
    if state in _FAILED_REASONS:
        reason = _FAILED_REASONS[state]
    elif res.get("timed_out"):
        reason, cause = str(res.get("reason", "timeout: exceeded the time limit")), ExecCause.TIMEOUT
    elif res.get("error"):
        reason = str(res["error"])
    elif state in {"FAILED", "COMPLETED"}:
        reason = f"killed by signal {sig}" if sig else ""
    else:
        reason = f"Slurm state {state} {detail}".strip()
    return ExecStatus(ExecState.FAILED, code, sig, reason, peak, cpu, cause=cause)
