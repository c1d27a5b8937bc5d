"""The machine's AWS Batch jobs: ``submitJob.sync`` tasks, their Retry, and failure records.

* Every command runs as ``arn:aws:states:::batch:submitJob.sync`` (Step Functions waits for the job)
  with its argv as ``ContainerOverrides.Command`` (a list, never a shell string), vCPU and memory as
  resource overrides, the time limit as ``Timeout.AttemptDurationSeconds``.
* Retries: a failed Batch job surfaces as ``States.TaskFailed`` whatever the cause, so Step Functions
  cannot tell an out-of-memory kill from a crash. ``States.TaskFailed`` is retried
  ``retry.max_attempts - 1`` times with the spec's back-off; Batch API errors (throttling) have their
  own Retry; interruptions (spot reclaim: status reason ``Host EC2*``) are retried by Batch itself
  through the job's ``RetryStrategy`` (``1 + retry.max_interruptions`` attempts, at most 10). Memory
  and time escalation are not expressible and are not exported.
* A job that still fails is caught and its failure record written with DynamoDB ``putItem`` in the
  layout of ``engine/failure_log.py`` (partition key ``run_id`` = the execution's name, sort key
  ``failure_id`` = ``<job_id>#<attempt>``; ``attempt`` is ``retry.max_attempts``, the attempt the
  Catch follows; ``error_type`` is the Step Functions error name, ``reason`` its cause; the time is
  ``recorded_time``, ISO 8601, as Step Functions cannot compute the epoch seconds of ``recorded_at``).
"""

from __future__ import annotations

import json
from typing import Any

from gwasflow.export.sfn.asl import BATCH_API_ERRORS, State
from gwasflow.plan.model import Resources
from gwasflow.spec.model import RunSpec

__all__ = ["BATCH_SYNC", "DYNAMODB_PUT", "batch_task", "failure_record", "retry_rules"]

BATCH_SYNC = "arn:aws:states:::batch:submitJob.sync"
DYNAMODB_PUT = "arn:aws:states:::dynamodb:putItem"


def retry_rules(spec: RunSpec) -> list[State]:
    """Batch API errors: 5 s doubling, 6 times; ``States.TaskFailed``: the spec's retry policy."""
    policy = spec.retry
    rules: list[State] = [
        {"ErrorEquals": list(BATCH_API_ERRORS), "IntervalSeconds": 5, "BackoffRate": 2.0, "MaxAttempts": 6},
    ]
    if policy.max_attempts > 1:
        rules.append({
            "ErrorEquals": ["States.TaskFailed"],
            "IntervalSeconds": max(1, round(policy.backoff_s)),
            "BackoffRate": 2.0,
            "MaxAttempts": policy.max_attempts - 1,
            "MaxDelaySeconds": max(1, round(policy.max_backoff_s)),
        })  # fmt: skip
    return rules


def _value(key: str, value: Any) -> dict[str, Any]:
    """``{key: value}``, or ``{key.$: value}`` when ``value`` is a path or an intrinsic call (a ``$`` string)."""
    if isinstance(value, str) and value.startswith(("$", "States.")):
        return {f"{key}.$": value}
    return {key: value}


def batch_task(spec: RunSpec, *, queue: str, definition: str, job_name: str, command: list[str] | str,
               resources: Resources) -> State:  # fmt: skip
    """A ``submitJob.sync`` Task. ``queue``, ``definition``, ``job_name`` and ``command`` are values, or paths and
    intrinsic calls (strings starting with ``$`` or ``States.``) evaluated on the state input."""
    overrides: dict[str, Any] = {
        "ResourceRequirements": [
            {"Type": "VCPU", "Value": str(resources.cpus)},
            {"Type": "MEMORY", "Value": str(resources.memory_mb)},
        ],
        "Environment": [{"Name": f"{v}_NUM_THREADS", "Value": str(resources.cpus)} for v in ("OPENBLAS", "OMP", "MKL")],
        **_value("Command", command),
    }
    params: dict[str, Any] = {
        **_value("JobName", job_name),
        **_value("JobQueue", queue),
        **_value("JobDefinition", definition),
        "ContainerOverrides": overrides,
        "Timeout": {"AttemptDurationSeconds": max(60, resources.time_s)},
        "RetryStrategy": {
            "Attempts": min(10, 1 + spec.retry.max_interruptions),
            "EvaluateOnExit": [
                {"OnStatusReason": "Host EC2*", "Action": "RETRY"},
                {"OnReason": "*", "Action": "EXIT"},
            ],
        },
        "Tags": {"gwasflow:run": spec.name},
    }
    return {"Type": "Task", "Resource": BATCH_SYNC, "Parameters": params, "Retry": retry_rules(spec)}


def failure_record(spec: RunSpec, *, table: str, job_id: str, error: str, resources: Resources,
                   next_state: str) -> State:  # fmt: skip
    """A DynamoDB ``putItem`` of one failure record; ``job_id`` is a value or a ``$`` path, ``error``
    the path of the caught error (``{"Error", "Cause"}``). The state's output is its input."""
    attempt = spec.retry.max_attempts
    job = job_id if job_id.startswith("$") else None
    failure_id = (f"States.Format('{{}}#{attempt}', {job})" if job else f"{job_id}#{attempt}")
    item: dict[str, Any] = {
        "run_id": {"S.$": "$.run_id"},
        "failure_id": _value("S", failure_id),
        "job_id": _value("S", job_id),
        "attempt": {"N": str(attempt)},
        "error_type": {"S.$": f"{error}.Error"},
        "reason": {"S.$": f"{error}.Cause"},
        "log_tail": {"S": "-"},
        "resources": {"S": json.dumps(resources.to_dict())},
        "recorded_time": {"S.$": "$$.State.EnteredTime"},
        "action": {"S": "none"},
    }
    return {
        "Type": "Task", "Resource": DYNAMODB_PUT, "Parameters": {"TableName": table, "Item": item},
        "ResultPath": None, "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 3}],
        "Next": next_state,
    }  # fmt: skip
