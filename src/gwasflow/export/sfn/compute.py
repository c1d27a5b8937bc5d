"""The run's own Batch capacity: a launch template that mounts the run's file system, a managed compute
environment that uses it, and a job queue; all deleted on every path.

Why one per run: a Batch job reads the file system through its host (a job definition volume with
a host path), and an EC2 host mounts Lustre at boot, from its launch template's user data. The file
system exists only once this machine has created it, so the hosts that mount it must be launched
from a template written after that: a launch template per run, its own compute environment and a
job queue that only this run's jobs use (Fargate cannot mount Lustre at all). Batch wants user data
in a launch template as a MIME multi-part archive; cloud-init runs its ``runcmd`` on first boot.

Creation, after the association is AVAILABLE (``$.mount``: the file system's DNS and mount names,
kept by ``fsx.py`` when it became AVAILABLE)::

    MountCommand -> CreateLaunchTemplate (user data: install the Lustre client, mount
    <DNSName>@tcp:/<MountName> at mount_path) -> CreateComputeEnvironment (MANAGED, 0 to
    $.config.max_vcpus vCPUs, $.config.compute type and allocation strategy, the file system's
    subnets and security groups) -> [Wait/Describe]ComputeEnvironment until VALID
    -> CreateJobQueue -> [Wait/Describe]JobQueue until VALID -> (the jobs, on $.queue.arn)

Cleanup, the machine's ``Cleanup`` (entered from every path; each resource is deleted only if it exists,
waited for if it is already DELETING, skipped if DELETED; the cleanup machine, ``cleanup.py``, enters here
too with what it found)::

    Cleanup -> DisableJobQueue -> DeleteJobQueue -> [Wait/Describe]JobQueueGone
    -> CleanupComputeEnvironment -> DisableComputeEnvironment -> DeleteComputeEnvironment
    -> [Wait/Describe]ComputeEnvironmentGone -> CleanupLaunchTemplate -> DeleteLaunchTemplate
    -> CleanupFileSystem (fsx.py)

Deleting the queue terminates the jobs still in it (a failed run leaves none running); a compute
environment can only be deleted once DISABLED and in no queue, and its instances are terminated
before the launch template they were launched from is deleted. A step that fails is recorded in
``$.cleanup_error`` and the cleanup goes on, so the file system is deleted whatever happens here.
All three are named ``<prefix>-<execution name>`` and tagged ``gwasflow:run`` and ``gwasflow:execution``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gwasflow.export.sfn.asl import State, api_retry, fail_outcome, gone_loop, intrinsic_str, poll_loop, sdk

__all__ = ["LOOPS", "NAME_PATH", "Compute", "cleanup_states", "create_states", "name_parameter", "user_data"]

#: The JSONPath of the name the three resources share (set by the machine's ``Config`` state).
NAME_PATH = "$.names.compute"
LOOPS = ("ComputeEnvironment", "JobQueue", "JobQueueGone", "ComputeEnvironmentGone")
_BOUNDARY = "==GWASFLOW=="
_NOT_VALID = ("INVALID", "DELETING", "DELETED")
#: Batch refuses a delete while an update (the disable) is still running: a ClientException, retried.
_BUSY_RETRY = {"ErrorEquals": ["Batch.ClientException"], "IntervalSeconds": 10, "BackoffRate": 1.5, "MaxAttempts": 8}


@dataclass(frozen=True)
class Compute:
    """What the run's compute environment is made of (the rest comes from the execution's ``$.config``)."""

    prefix: str  # resource names: <prefix>-<execution name>
    instance_profile: str  # ARN of the hosts' instance profile (ECS agent)
    service_role: str  # ARN of Batch's service role
    subnet_ids: tuple[str, ...]  # the file system's subnets: hosts in its Availability Zone
    security_group_ids: tuple[str, ...]  # must let hosts reach Lustre (TCP 988, 1018-1023)
    mount_path: str  # where hosts mount the file system and jobs see it
    run_name: str  # the spec's name, tagged


def name_parameter(prefix: str) -> str:
    """The intrinsic call that names the run's resources ``<prefix>-<execution name>``."""
    return "States.Format(" + intrinsic_str(prefix + "-")[:-1] + "{}', $$.Execution.Name)"


def user_data(mount_path: str) -> tuple[str, str]:
    """The launch template's user data around ``<DNSName>@tcp:/<MountName>``: (before, after)."""
    head = (f'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="{_BOUNDARY}"\n\n--{_BOUNDARY}\n'
            'Content-Type: text/cloud-config; charset="us-ascii"\n\nruncmd:\n'
            "- dnf install -y lustre-client || amazon-linux-extras install -y lustre\n"
            f"- mkdir -p {mount_path}\n- mount -t lustre -o relatime,flock ")  # fmt: skip
    return head, f" {mount_path}\n\n--{_BOUNDARY}--\n"


def _tags(compute: Compute) -> dict[str, str]:
    return {"gwasflow:run": compute.run_name, "gwasflow:execution.$": "$.run_id"}


def _catch(next_state: str, path: str = "$.outcome") -> list[State]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": path, "Next": next_state}]


def _task(service: str, action: str, parameters: State, *, next_state: str, catch: str,
          selector: State | None = None, result: str | None = None, path: str = "$.outcome") -> State:  # fmt: skip
    task: State = {"Type": "Task", "Resource": sdk(service, action), "Parameters": parameters}
    if selector is not None:
        task["ResultSelector"] = selector
    task.update(ResultPath=result, Retry=api_retry(), Catch=_catch(catch, path), Next=next_state)
    return task


def _launch_template(compute: Compute) -> dict[str, State]:
    head, tail = user_data(compute.mount_path)
    text = "States.Format('{}{}@tcp:/{}{}', $.userdata.head, $.mount.dns, $.mount.name, $.userdata.tail)"
    tags = [{"Key": "gwasflow:run", "Value": compute.run_name}, {"Key": "gwasflow:execution", "Value.$": "$.run_id"}]
    params = {"LaunchTemplateName.$": NAME_PATH, "LaunchTemplateData": {"UserData.$": f"States.Base64Encode({text})"},
              "TagSpecifications": [{"ResourceType": "launch-template", "Tags": tags}]}  # fmt: skip
    return {
        "MountCommand": {"Type": "Pass", "Result": {"head": head, "tail": tail}, "ResultPath": "$.userdata",
                         "Next": "CreateLaunchTemplate"},
        "CreateLaunchTemplate": _task("ec2", "createLaunchTemplate", params, next_state="CreateComputeEnvironment",
                                      catch="Cleanup", selector={"id.$": "$.LaunchTemplate.LaunchTemplateId"},
                                      result="$.lt"),
    }  # fmt: skip


def _compute_environment(compute: Compute) -> State:
    resources = {
        "Type.$": "$.config.compute.type", "AllocationStrategy.$": "$.config.compute.allocation",
        "MinvCpus": 0, "MaxvCpus.$": "$.config.max_vcpus", "InstanceTypes": ["optimal"],
        "Subnets": list(compute.subnet_ids), "SecurityGroupIds": list(compute.security_group_ids),
        "InstanceRole": compute.instance_profile, "LaunchTemplate": {"LaunchTemplateId.$": "$.lt.id"},
        "Tags": {"gwasflow:run": compute.run_name},
    }  # fmt: skip
    params = {"ComputeEnvironmentName.$": NAME_PATH, "Type": "MANAGED", "State": "ENABLED",
              "ServiceRole": compute.service_role, "ComputeResources": resources, "Tags": _tags(compute)}  # fmt: skip
    return _task("batch", "createComputeEnvironment", params, next_state="WaitComputeEnvironment", catch="Cleanup",
                 selector={"arn.$": "$.ComputeEnvironmentArn"}, result="$.ce")  # fmt: skip


def create_states(compute: Compute, *, then: str) -> dict[str, State]:
    """From ``MountCommand`` to a VALID job queue, then ``then``."""
    states = _launch_template(compute)
    states["CreateComputeEnvironment"] = _compute_environment(compute)
    states |= poll_loop(
        "ComputeEnvironment", field="Status",
        describe={"Resource": sdk("batch", "describeComputeEnvironments"),
                  "Parameters": {"ComputeEnvironments.$": "States.Array($.ce.arn)"}},
        item="$.ComputeEnvironments[0]", ready={"VALID": "CreateJobQueue"}, failed=_NOT_VALID,
        on_failed="ComputeEnvironmentFailed", on_timeout="ComputeEnvironmentTimedOut", on_error="Cleanup",
    )  # fmt: skip
    states["ComputeEnvironmentFailed"] = fail_outcome(
        "gwasflow.ComputeEnvironmentFailed", "the run's Batch compute environment did not become VALID "
        "(see its statusReason: subnets, security groups, instance role)", "Cleanup")  # fmt: skip
    states["ComputeEnvironmentTimedOut"] = fail_outcome(
        "gwasflow.Timeout", "the run's Batch compute environment was not VALID after max_polls describes", "Cleanup")
    queue = {"JobQueueName.$": NAME_PATH, "State": "ENABLED", "Priority": 1, "Tags": _tags(compute),
             "ComputeEnvironmentOrder": [{"Order": 1, "ComputeEnvironment.$": "$.ce.arn"}]}  # fmt: skip
    states["CreateJobQueue"] = _task("batch", "createJobQueue", queue, next_state="WaitJobQueue", catch="Cleanup",
                                     selector={"arn.$": "$.JobQueueArn"}, result="$.queue")  # fmt: skip
    states |= poll_loop(
        "JobQueue", field="Status",
        describe={"Resource": sdk("batch", "describeJobQueues"),
                  "Parameters": {"JobQueues.$": "States.Array($.queue.arn)"}},
        item="$.JobQueues[0]", ready={"VALID": then}, failed=_NOT_VALID,
        on_failed="JobQueueFailed", on_timeout="JobQueueTimedOut", on_error="Cleanup",
    )  # fmt: skip
    states["JobQueueFailed"] = fail_outcome("gwasflow.JobQueueFailed", "the run's job queue did not become VALID",
                                            "Cleanup")  # fmt: skip
    states["JobQueueTimedOut"] = fail_outcome(
        "gwasflow.Timeout", "the run's job queue was not VALID after max_polls describes", "Cleanup")
    return states


def _guard(name: str, path: str, *, deleting: str, present: str, then: str) -> State:
    """A Choice before deleting ``path`` (``$.queue``...): gone (DELETED) or absent -> ``then``; already
    DELETING -> ``deleting`` (its gone-loop); else ``present``. The status is there only when the cleanup
    machine found the resource (``cleanup.py``); the run's own resources have only their id."""
    def status(value: str) -> State:
        return {"And": [{"Variable": f"{path}.status", "IsPresent": True},
                        {"Variable": f"{path}.status", "StringEquals": value}]}  # fmt: skip

    return {"Type": "Choice", "Default": then, "Choices": [
        {**status("DELETED"), "Next": then}, {**status("DELETING"), "Next": deleting},
        {"Variable": f"{path}.{name}", "IsPresent": True, "Next": present}]}  # fmt: skip


def cleanup_states(*, then: str) -> dict[str, State]:
    """``Cleanup``: delete what exists of the queue, compute environment and launch template, then ``then``."""
    err = "$.cleanup_error"
    states: dict[str, State] = {
        "Cleanup": _guard("arn", "$.queue", deleting="WaitJobQueueGone", present="DisableJobQueue",
                          then="CleanupComputeEnvironment"),
        "DisableJobQueue": _task("batch", "updateJobQueue", {"JobQueue.$": "$.queue.arn", "State": "DISABLED"},
                                 next_state="DeleteJobQueue", catch="DeleteJobQueue", path=err),
        "DeleteJobQueue": _task("batch", "deleteJobQueue", {"JobQueue.$": "$.queue.arn"},
                                next_state="WaitJobQueueGone", catch="CleanupComputeEnvironment", path=err),
        "CleanupComputeEnvironment": _guard("arn", "$.ce", deleting="WaitComputeEnvironmentGone",
                                            present="DisableComputeEnvironment", then="CleanupLaunchTemplate"),
        "DisableComputeEnvironment": _task(
            "batch", "updateComputeEnvironment", {"ComputeEnvironment.$": "$.ce.arn", "State": "DISABLED"},
            next_state="DeleteComputeEnvironment", catch="DeleteComputeEnvironment", path=err),
        "DeleteComputeEnvironment": _task(
            "batch", "deleteComputeEnvironment", {"ComputeEnvironment.$": "$.ce.arn"},
            next_state="WaitComputeEnvironmentGone", catch="CleanupLaunchTemplate", path=err),
        "CleanupLaunchTemplate": {"Type": "Choice", "Default": then, "Choices": [
            {"Variable": "$.lt.id", "IsPresent": True, "Next": "DeleteLaunchTemplate"}]},
        "DeleteLaunchTemplate": _task("ec2", "deleteLaunchTemplate", {"LaunchTemplateId.$": "$.lt.id"},
                                      next_state=then, catch=then, path=err),
    }  # fmt: skip
    for name in ("DeleteJobQueue", "DeleteComputeEnvironment"):
        states[name]["Retry"].append(dict(_BUSY_RETRY))
    states |= gone_loop(
        "JobQueueGone", describe={"Resource": sdk("batch", "describeJobQueues"),
                                  "Parameters": {"JobQueues.$": "States.Array($.queue.arn)"}},
        items="$.JobQueues", then="CleanupComputeEnvironment",
    )  # fmt: skip
    states |= gone_loop(
        "ComputeEnvironmentGone", describe={"Resource": sdk("batch", "describeComputeEnvironments"),
                                            "Parameters": {"ComputeEnvironments.$": "States.Array($.ce.arn)"}},
        items="$.ComputeEnvironments", then="CleanupLaunchTemplate",
    )  # fmt: skip
    return states
