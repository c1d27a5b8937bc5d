"""The cleanup half of gwasflow's CloudFormation template (see ``cloudformation.py``).

An execution of the run machine that is stopped by hand (StopExecution), times out, or is failed by
Step Functions itself runs none of its own cleanup states, so its file system, association, launch
template, compute environment and job queue would stay (and cost). The stack answers that the AWS
way::

    CleanupRule (EventBridge)          "Step Functions Execution Status Change" of StateMachine with
                                       status ABORTED, TIMED_OUT or FAILED -> starts CleanupStateMachine
                                       with the event as input (its detail.name: the execution's name)
    CleanupRuleRole                    events.amazonaws.com: states:StartExecution on CleanupStateMachine only
    CleanupStateMachine                sfn/cleanup.py: finds the execution's resources by name and tag and
                                       deletes them in order; idempotent (an execution that cleaned up after
                                       itself and then FAILED leaves nothing to find)
    CleanupStateMachineRole            describe, disable and delete only: no create, no iam:PassRole

The cleanup definition is read from ``--cleanup-definition`` (``gwasflow export --cleanup-out``), or
built from the run machine's own prefix and poll settings (:func:`cleanup_for`): the same builder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from gwasflow.export.cfn_iam import allow, arn, role
from gwasflow.export.sfn.cleanup import EVENT_DETAIL_TYPE, STOPPED_STATUSES, cleanup_definition

__all__ = ["cleanup_for", "cleanup_policy", "cleanup_resources", "event_pattern"]

Json = dict[str, Any]
_PREFIX = re.compile(r"^States\.Format\('([A-Za-z0-9_-]+)-\{\}', \$\$\.Execution\.Name\)$")
_TAGGED = {"Null": {"aws:ResourceTag/gwasflow:execution": "false"}}


def cleanup_for(definition: Mapping[str, Any]) -> Json:
    """The cleanup machine of a run machine ``definition`` (its prefix and poll settings); ValueError when the
    definition is not one gwasflow exported."""
    try:
        states = definition["States"]
        found = _PREFIX.match(states["Config"]["Parameters"]["names"]["compute.$"])
        defaults = states["Configure"]["Parameters"]["defaults"]
        poll, polls = int(defaults["poll_seconds"]), int(defaults["max_polls"])
    except (KeyError, TypeError, ValueError):
        found = None
    if found is None:
        raise ValueError("no gwasflow run names in the definition (Config, Configure states): pass "
                         "--cleanup-definition from gwasflow export --cleanup-out")  # fmt: skip
    return cleanup_definition(prefix=found.group(1), poll_seconds=poll, max_polls=polls)


def cleanup_policy() -> list[Json]:
    """What the cleanup machine calls: describe, and disable or delete what a run made (the run's prefix, or
    the ``gwasflow:execution`` tag); nothing is created or passed."""
    envs = arn("batch", "compute-environment/${JobDefinitionPrefix}-*")
    queues = arn("batch", "job-queue/${JobDefinitionPrefix}-*")
    return [
        allow(["batch:DescribeJobQueues", "batch:DescribeComputeEnvironments"], "*"),
        allow(["batch:UpdateJobQueue", "batch:DeleteJobQueue", "batch:UpdateComputeEnvironment",
               "batch:DeleteComputeEnvironment"], [envs, queues]),
        allow(["ec2:DescribeLaunchTemplates"], "*"),
        allow(["ec2:DeleteLaunchTemplate"], arn("ec2", "launch-template/*"), Condition=_TAGGED),
        allow(["fsx:DescribeFileSystems", "fsx:DescribeDataRepositoryAssociations"], "*"),
        allow(["fsx:DeleteFileSystem"], arn("fsx", "file-system/*"), Condition=_TAGGED),
        allow(["fsx:DeleteDataRepositoryAssociation"], [arn("fsx", "association/*/*"), arn("fsx", "file-system/*")]),
    ]  # fmt: skip


def event_pattern() -> Json:
    """The executions of the stack's run machine that ended without their own cleanup."""
    return {"source": ["aws.states"], "detail-type": [EVENT_DETAIL_TYPE],
            "detail": {"stateMachineArn": [{"Ref": "StateMachine"}], "status": list(STOPPED_STATUSES)}}  # fmt: skip


def cleanup_resources(cleanup: Mapping[str, Any]) -> Json:
    """The rule, its role, the cleanup machine and its role (see the module docstring)."""
    machine_role = role("states.amazonaws.com", cleanup_policy())
    machine_role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] = {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}  # fmt: skip
    return {
        "CleanupStateMachineRole": machine_role,
        "CleanupStateMachine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "StateMachineName": {"Fn::Sub": "${StateMachineName}-cleanup"},
            "StateMachineType": "STANDARD",
            "RoleArn": {"Fn::GetAtt": ["CleanupStateMachineRole", "Arn"]},
            "DefinitionString": json.dumps(cleanup, separators=(",", ":")),  # no placeholder: no Fn::Sub
        }},
        "CleanupRuleRole": role("events.amazonaws.com", [allow(["states:StartExecution"],
                                                               {"Ref": "CleanupStateMachine"})]),
        "CleanupRule": {"Type": "AWS::Events::Rule", "Properties": {
            "Description": "gwasflow: delete what a stopped, timed-out or failed run left",
            "State": "ENABLED",
            "EventPattern": event_pattern(),
            "Targets": [{"Id": "gwasflow-cleanup", "Arn": {"Ref": "CleanupStateMachine"},
                         "RoleArn": {"Fn::GetAtt": ["CleanupRuleRole", "Arn"]}}],
        }},
    }  # fmt: skip
