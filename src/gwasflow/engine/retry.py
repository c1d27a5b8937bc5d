"""The retry policy: whether a failed attempt is tried again, when, and with what resources.

The decision depends only on the job's history of error types (from the
store) and the spec's :class:`~gwasflow.spec.model.RetrySpec`:

* ``bad_input`` is never retried (the same input fails the same way), nor
  ``bad_config`` (the executor cannot start the command: an image that is not
  found, a working directory not mounted in the container);
  a job the run cancelled never reaches the policy, and one that someone
  cancelled outside gwasflow (``cancelled_externally``: ``scancel``, Batch
  TerminateJob) is not retried by itself: it ends failed, so that
  ``gwasflow failures`` lists it and ``gwasflow retry`` re-runs it;
* ``interrupted`` (node lost, spot reclaim, preemption) draws on its own
  budget, ``max_interruptions``, and does not use up ``max_attempts``;
* every other type may be retried while the job's non-interruption failures
  are below the type's limit (``per_error_type``, else ``max_attempts``);
* ``out_of_memory`` multiplies memory by ``memory_factor`` (capped at
  ``max_memory_mb``), ``timeout`` multiplies the time limit by
  ``time_factor`` (capped at ``max_time_s``);
* back-off: ``backoff_s * 2**(n-1)`` seconds before the n-th retry, capped;
* a submission the executor did not take never ran and has its own budget:
  ``submit_refused`` (invalid partition, memory no node has) is never
  retried; ``submit_failed`` (controller down, timeout) is tried again
  while the job's failed submissions in a row are below
  ``submit_attempts``, ``submit_backoff_s * 2**(n-1)`` seconds after the
  n-th (default: 5 tries over about a minute). Neither counts against
  ``max_attempts``, and a submission that goes through starts a new row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gwasflow.core.states import SUBMIT_ERROR_TYPES, ErrorType
from gwasflow.plan.model import Resources
from gwasflow.spec.model import RetrySpec

__all__ = ["RetryDecision", "decide"]

_NEVER = frozenset(
    {ErrorType.BAD_INPUT, ErrorType.BAD_CONFIG, ErrorType.CANCELLED_EXTERNALLY, ErrorType.SUBMIT_REFUSED}
)


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    resources: Resources
    delay_s: float
    why: str


def decide(policy: RetrySpec, history: Sequence[ErrorType], resources: Resources) -> RetryDecision:
    """Decide after the last failure in ``history`` (every failed attempt's type, oldest first)."""
    if not history:
        raise ValueError("decide() needs at least one failure")
    last = history[-1]
    if last in _NEVER:
        return RetryDecision(False, resources, 0.0, f"{last.value} is never retried")
    if last is ErrorType.SUBMIT_FAILED:
        return _resubmit(policy, history, resources)
    history = [e for e in history if e not in SUBMIT_ERROR_TYPES]
    interruptions = sum(1 for e in history if e is ErrorType.INTERRUPTED)
    failures = len(history) - interruptions
    if last is ErrorType.INTERRUPTED:
        if interruptions > policy.max_interruptions:
            why = f"{interruptions} interruptions, budget {policy.max_interruptions}"
            return RetryDecision(False, resources, 0.0, why)
    else:
        limit = policy.per_error_type.get(last.value, policy.max_attempts)
        if failures >= limit:
            return RetryDecision(False, resources, 0.0, f"{failures} failed attempts, limit {limit} for {last.value}")
    retries = len(history)
    delay = min(policy.max_backoff_s, policy.backoff_s * 2 ** (retries - 1)) if policy.backoff_s else 0.0
    return RetryDecision(True, _escalate(policy, last, resources), delay, f"retry {retries} after {last.value}")


def _resubmit(policy: RetrySpec, history: Sequence[ErrorType], resources: Resources) -> RetryDecision:
    """After a failed submission: try again while the failures in a row are below ``submit_attempts``."""
    in_a_row = 0
    for error in reversed(history):
        if error is not ErrorType.SUBMIT_FAILED:
            break
        in_a_row += 1
    if in_a_row >= policy.submit_attempts:
        return RetryDecision(False, resources, 0.0, f"{in_a_row} failed submissions, limit {policy.submit_attempts}")
    delay = min(policy.max_backoff_s, policy.submit_backoff_s * 2 ** (in_a_row - 1))
    return RetryDecision(True, resources, delay, f"submission {in_a_row + 1} after {in_a_row} failed")


def _escalate(policy: RetrySpec, error: ErrorType, resources: Resources) -> Resources:
    if error is ErrorType.OUT_OF_MEMORY:
        memory = min(policy.max_memory_mb, int(resources.memory_mb * policy.memory_factor))
        return Resources(resources.cpus, max(memory, resources.memory_mb), resources.time_s)
    if error is ErrorType.TIMEOUT:
        time_s = min(policy.max_time_s, int(resources.time_s * policy.time_factor))
        return Resources(resources.cpus, resources.memory_mb, max(time_s, resources.time_s))
    return resources
