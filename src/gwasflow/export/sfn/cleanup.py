"""The cleanup state machine: deletes what an execution of the run machine left when it ended without
its own cleanup (stopped by hand with StopExecution, timed out, or failed by Step Functions itself).

An EventBridge rule on "Step Functions Execution Status Change" of the run machine, status ABORTED,
TIMED_OUT or FAILED, starts this machine with the event as input (``$.detail.name`` is the execution's
name; see ``cloudformation.py``). It finds the execution's resources by name and tag and goes into the
run machine's own cleanup states (``compute.cleanup_states``, ``fsx.cleanup_states``) with what it
found::

    Configure                  $.run_id = $.detail.name; names, poll settings, loop counters
    CheckName, NameUsable      a name Batch cannot take made nothing: NothingMade (Succeed)
    FindJobQueue ...           batch:DescribeJobQueues by name -> $.queue {arn, status}
    FindComputeEnvironment ... batch:DescribeComputeEnvironments by name -> $.ce {arn, status}
    FindLaunchTemplate ...     ec2:DescribeLaunchTemplates by name and gwasflow:execution tag -> $.lt {id}
    FindFileSystem ...         fsx:DescribeFileSystems, each checked for the tag gwasflow:execution = the
                               name (FSx has no tag filter) -> $.fsx {id, lifecycle}
    FindAssociation ...        fsx:DescribeDataRepositoryAssociations of that file system -> $.dra
    Cleanup ... Finish         the run machine's states: each found resource deleted in order (queue,
                               compute environment, launch template, association, file system), one
                               already DELETING waited for, one DELETED or not found skipped

Idempotent: nothing found is success, and a second run finds nothing. A describe call that fails
(after its retries) is kept in ``$.outcome``; the cleanup goes on with what it found, and the
execution ends in ``gwasflow.RunFailed`` naming that error, so a cleanup that could not look is seen.
The file systems are read in one DescribeFileSystems page (AWS returns up to 2,147,483,647 per page
when no MaxResults is given).
"""

from __future__ import annotations

from typing import Any

from gwasflow.export.sfn import compute, names
from gwasflow.export.sfn.asl import State, api_retry, intrinsic_str, sdk
from gwasflow.export.sfn.fsx import LOOPS as FSX_LOOPS
from gwasflow.export.sfn.fsx import cleanup_states as fsx_cleanup

__all__ = ["EVENT_DETAIL_TYPE", "STOPPED_STATUSES", "cleanup_definition"]

#: What the EventBridge rule matches: the run machine's executions that ended without their own cleanup.
EVENT_DETAIL_TYPE = "Step Functions Execution Status Change"
STOPPED_STATUSES = ("ABORTED", "TIMED_OUT", "FAILED")
_TAG = "gwasflow:execution"


def _find(name: str, *, describe: State, items: str, keep: dict[str, str], into: str,
          then: str) -> dict[str, State]:  # fmt: skip
    """``Find<name>`` (a describe), ``<name>Found`` (any?), ``Pick<name>`` (the first), ``Keep<name>`` (its
    fields ``keep`` into ``into``), then ``then``. An error of the describe is kept in ``$.outcome``."""
    task = dict(describe)
    task.update(Type="Task", ResultSelector={"n.$": f"States.ArrayLength({items})", "all.$": items},
                ResultPath="$.found", Retry=api_retry(), Next=f"{name}Found",
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.outcome", "Next": then}])  # fmt: skip
    return {
        f"Find{name}": task,
        f"{name}Found": {"Type": "Choice", "Default": f"Pick{name}",
                         "Choices": [{"Variable": "$.found.n", "NumericEquals": 0, "Next": then}]},
        f"Pick{name}": {"Type": "Pass", "Parameters": {"item.$": "States.ArrayGetItem($.found.all, 0)"},
                        "ResultPath": "$.found", "Next": f"Keep{name}"},
        f"Keep{name}": {"Type": "Pass", "Parameters": {f"{k}.$": f"$.found.item.{v}" for k, v in keep.items()},
                        "ResultPath": into, "Next": then},
    }  # fmt: skip


def _batch_finds(then: str) -> dict[str, State]:
    states = _find("JobQueue", describe={"Resource": sdk("batch", "describeJobQueues"),
                                         "Parameters": {"JobQueues.$": f"States.Array({compute.NAME_PATH})"}},
                   items="$.JobQueues", keep={"arn": "JobQueueArn", "status": "Status"}, into="$.queue",
                   then="FindComputeEnvironment")  # fmt: skip
    states |= _find(
        "ComputeEnvironment", describe={"Resource": sdk("batch", "describeComputeEnvironments"),
                                        "Parameters": {"ComputeEnvironments.$": f"States.Array({compute.NAME_PATH})"}},
        items="$.ComputeEnvironments", keep={"arn": "ComputeEnvironmentArn", "status": "Status"}, into="$.ce",
        then="FindLaunchTemplate")  # fmt: skip
    filters = [{"Name": "launch-template-name", "Values.$": f"States.Array({compute.NAME_PATH})"},
               {"Name": f"tag:{_TAG}", "Values.$": "States.Array($.run_id)"}]  # fmt: skip
    states |= _find("LaunchTemplate", describe={"Resource": sdk("ec2", "describeLaunchTemplates"),
                                                "Parameters": {"Filters": filters}},
                    items="$.LaunchTemplates", keep={"id": "LaunchTemplateId"}, into="$.lt", then=then)  # fmt: skip
    return states


def _file_system_finds(then: str) -> dict[str, State]:
    """``FindFileSystem``: every file system, read one by one (``$.fslist.i``) until one is tagged with the
    execution's name; then its association. No file system: ``then``."""
    listed = {"n.$": "States.ArrayLength($.FileSystems)", "all.$": "$.FileSystems", "i": 0}
    step = {"n.$": "$.fslist.n", "all.$": "$.fslist.all", "i.$": "States.MathAdd($.fslist.i, 1)"}
    want = {"Key": _TAG, "Value.$": "$.run_id"}
    states: dict[str, State] = {
        "FindFileSystem": {"Type": "Task", "Resource": sdk("fsx", "describeFileSystems"), "Parameters": {},
                           "ResultSelector": listed, "ResultPath": "$.fslist", "Retry": api_retry(),
                           "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.outcome", "Next": then}],
                           "Next": "MoreFileSystems"},
        "MoreFileSystems": {"Type": "Choice", "Default": "ReadFileSystem", "Choices": [
            {"Variable": "$.fslist.i", "NumericGreaterThanEqualsPath": "$.fslist.n", "Next": then}]},
        "ReadFileSystem": {"Type": "Pass", "ResultPath": "$.fsitem", "Next": "FileSystemTagged",
                           "Parameters": {"item.$": "States.ArrayGetItem($.fslist.all, $.fslist.i)", "want": want}},
        "FileSystemTagged": {"Type": "Choice", "Default": "NextFileSystem", "Choices": [
            {"Variable": "$.fsitem.item.Tags", "IsPresent": True, "Next": "MatchFileSystem"}]},
        "MatchFileSystem": {"Type": "Pass", "ResultPath": "$.fsmatch", "Next": "FileSystemOurs",
                            "Parameters": {"ours.$": "States.ArrayContains($.fsitem.item.Tags, $.fsitem.want)"}},
        "FileSystemOurs": {"Type": "Choice", "Default": "NextFileSystem", "Choices": [
            {"Variable": "$.fsmatch.ours", "BooleanEquals": True, "Next": "KeepFileSystem"}]},
        "NextFileSystem": {"Type": "Pass", "Parameters": step, "ResultPath": "$.fslist", "Next": "MoreFileSystems"},
        "KeepFileSystem": {"Type": "Pass", "ResultPath": "$.fsx", "Next": "FindAssociation",
                           "Parameters": {"id.$": "$.fsitem.item.FileSystemId",
                                          "lifecycle.$": "$.fsitem.item.Lifecycle"}},
    }  # fmt: skip
    of_fs = [{"Name": "file-system-id", "Values.$": "States.Array($.fsx.id)"}]
    states |= _find("Association", describe={"Resource": sdk("fsx", "describeDataRepositoryAssociations"),
                                             "Parameters": {"Filters": of_fs}},
                    items="$.Associations", keep={"id": "AssociationId", "lifecycle": "Lifecycle"}, into="$.dra",
                    then=then)  # fmt: skip
    return states


def cleanup_definition(*, prefix: str, poll_seconds: int, max_polls: int) -> dict[str, Any]:
    """The cleanup machine for a run machine exported with ``prefix`` (``--job-definition-prefix``)."""
    loops = (*compute.LOOPS, *FSX_LOOPS)
    configure = {
        "run_id.$": "$.detail.name", "names": {"compute.$": _name_of_event(prefix)},
        "config": {"poll_seconds": poll_seconds, "max_polls": max_polls},
        "polls": {name: {"n": 0} for name in loops},
    }  # fmt: skip
    states: dict[str, State] = {
        "Configure": {"Type": "Pass", "Parameters": configure, "Next": "CheckName"},
        **names.check_states(then="FindJobQueue", bad="NothingMade"),
        "NothingMade": {"Type": "Succeed", "Comment": "the run machine refuses this name before it creates anything"},
        **_batch_finds(then="FindFileSystem"),
        **_file_system_finds(then="Cleanup"),
        **compute.cleanup_states(then="CleanupFileSystem"),
        **fsx_cleanup(),
    }  # fmt: skip
    return {
        "Comment": f"gwasflow cleanup: deletes what a stopped, timed-out or failed execution of the run machine "
                   f"left (resources named {prefix}-<execution name> or tagged {_TAG}); input: the EventBridge "
                   f"'{EVENT_DETAIL_TYPE}' event",
        "StartAt": "Configure",
        "States": states,
    }  # fmt: skip


def _name_of_event(prefix: str) -> str:
    return "States.Format(" + intrinsic_str(prefix + "-")[:-1] + "{}', $.detail.name)"
