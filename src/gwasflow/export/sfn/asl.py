"""Small builders of Amazon States Language pieces shared by the machine's parts.

Every builder returns plain dicts (``State`` is ``dict[str, Any]``) so a part of the machine is a
``dict[str, State]`` of named states, merged by :mod:`gwasflow.export.sfn.machine`.

Conventions of the machine's data (the state input, at ``$``):

* ``$.config``: the execution input merged over the export's defaults (see ``machine.py``);
* ``$.run_id``: the execution's name, the ``run_id`` of every failure record;
* ``$.outcome``: present once something failed, as ``{"Error": ..., "Cause": ...}`` (a Catch's
  error output, or a Pass that names the failure); the cleanup reads it to end in Fail or Succeed;
* ``$.polls.<loop>.n``: how many times a wait loop described its resource (its timeout).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "BATCH_API_ERRORS",
    "State",
    "api_retry",
    "fail_outcome",
    "gone_loop",
    "intrinsic_str",
    "poll_loop",
    "sdk",
]

State = dict[str, Any]

#: Errors of an AWS API call itself (throttling, a 5xx), retried with back-off wherever a call is made.
BATCH_API_ERRORS = ["Batch.AWSBatchException", "Batch.TooManyRequestsException", "Batch.ServerException"]
_SDK_TRANSIENT = ["States.Timeout", *BATCH_API_ERRORS, "Fsx.InternalServerErrorException",
                  "Fsx.ServiceLimitExceededException", "DynamoDb.ProvisionedThroughputExceededException",
                  "DynamoDb.ThrottlingException", "DynamoDb.InternalServerErrorException"]  # fmt: skip
_SPECIAL = re.compile(r"([\\'{}])")


def sdk(service: str, action: str) -> str:
    """The resource ARN of an AWS SDK integration, e.g. ``sdk("fsx", "createFileSystem")``."""
    return f"arn:aws:states:::aws-sdk:{service}:{action}"


def intrinsic_str(text: str) -> str:
    """``text`` as a quoted string argument of an intrinsic function (``'``, ``{``, ``}``, ``\\`` escaped)."""
    return "'" + _SPECIAL.sub(r"\\\1", text) + "'"


def api_retry() -> list[State]:
    """Retry of transient API errors of an SDK call (throttling, internal errors): 5 s, doubling, 6 times."""
    return [{"ErrorEquals": list(_SDK_TRANSIENT), "IntervalSeconds": 5, "BackoffRate": 2.0, "MaxAttempts": 6}]


def fail_outcome(error: str, cause: str, next_state: str) -> State:
    """A Pass that records a failure as ``$.outcome`` and goes on to ``next_state`` (the cleanup)."""
    return {"Type": "Pass", "Result": {"Error": error, "Cause": cause}, "ResultPath": "$.outcome", "Next": next_state}


def poll_loop(name: str, *, describe: State, item: str, ready: dict[str, str], failed: tuple[str, ...],
              on_failed: str, on_timeout: str, on_error: str,
              field: str = "Lifecycle") -> dict[str, State]:  # fmt: skip
    """A Wait / Describe / count / Choice loop until a resource's lifecycle is one of ``ready``.

    ``describe`` is the Describe Task (Resource and Parameters); ``item`` the JSONPath of the
    described resource in its response (``$.FileSystems[0]``), whose ``field`` (FSx's ``Lifecycle``,
    Batch's ``Status``) is tested: a path that ends at the array index, as a path with an index
    inside (``$.FileSystems[0].Lifecycle``) is a list in some interpreters (moto 5.2) and a string
    in others. ``ready`` maps a lifecycle to
    the state that follows; a lifecycle in ``failed`` goes to ``on_failed``; after
    ``$.config.max_polls`` describes the loop goes to ``on_timeout`` (so the timeout is
    ``poll_seconds * max_polls``); an error of the Describe call itself (after its retries) goes
    to ``on_error`` with the error in ``$.outcome``. States: ``Wait<name>``, ``Describe<name>``,
    ``Count<name>``, ``<name>Ready``.
    """
    counter = f"$.polls.{name}.n"
    variable = f"$.lifecycle.item.{field}"
    choices: list[State] = [{"Variable": variable, "StringEquals": value, "Next": target}
                            for value, target in ready.items()]  # fmt: skip
    choices += [{"Variable": variable, "StringEquals": value, "Next": on_failed} for value in failed]
    choices.append({"Variable": counter, "NumericGreaterThanEqualsPath": "$.config.max_polls", "Next": on_timeout})
    return _loop(name, describe, {"item.$": item}, choices, on_error=on_error, error_path="$.outcome")


def gone_loop(name: str, *, describe: State, items: str, then: str, field: str = "Status") -> dict[str, State]:
    """A Wait / Describe / count / Choice loop until a deleted resource is no longer listed, then ``then``.

    ``items`` is the JSONPath of the response's list (``$.JobQueues``): the resource is gone when the
    list is empty or its one entry's ``field`` is ``DELETED`` (FSx's ``Lifecycle`` never is: a deleted
    file system is not found, an error, which also ends the loop). A timeout or an error of the Describe
    call also goes on to ``then`` (the cleanup goes on; the error is kept in ``$.cleanup_error``,
    never in the run's ``$.outcome``). States as :func:`poll_loop`'s.
    """
    counter = f"$.polls.{name}.n"
    choices: list[State] = [
        {"Variable": "$.lifecycle.listed", "NumericEquals": 0, "Next": then},
        {"Variable": "$.lifecycle.deleted", "BooleanEquals": True, "Next": then},
        {"Variable": counter, "NumericGreaterThanEqualsPath": "$.config.max_polls", "Next": then},
    ]
    selector = {"listed.$": f"States.ArrayLength({items})",
                "deleted.$": f"States.ArrayContains({items}[*].{field}, 'DELETED')"}  # fmt: skip
    return _loop(name, describe, selector, choices, on_error=then, error_path="$.cleanup_error")


def _loop(name: str, describe: State, selector: State, choices: list[State], *, on_error: str,
          error_path: str) -> dict[str, State]:  # fmt: skip
    counter = f"$.polls.{name}.n"
    task = dict(describe)
    task.update(
        Type="Task", ResultSelector=selector, ResultPath="$.lifecycle", Retry=api_retry(),
        Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": error_path, "Next": on_error}], Next=f"Count{name}",
    )
    return {
        f"Wait{name}": {"Type": "Wait", "SecondsPath": "$.config.poll_seconds", "Next": f"Describe{name}"},
        f"Describe{name}": task,
        f"Count{name}": {
            "Type": "Pass", "Parameters": {"n.$": f"States.MathAdd({counter}, 1)"},
            "ResultPath": f"$.polls.{name}", "Next": f"{name}Ready",
        },
        f"{name}Ready": {"Type": "Choice", "Choices": choices, "Default": f"Wait{name}"},
    }
