"""The cleanup machine executed by moto: a run machine stopped by hand mid-run leaves its resources, and
the cleanup machine, started with the EventBridge event AWS sends for that stop, deletes every one.

moto's EventBridge does not deliver "Step Functions Execution Status Change" events (moto's Step Functions
emits none), so the tests start the cleanup machine themselves with an event of AWS's shape built from
the stopped execution; the rule's pattern and target are checked in the template
(``tests/deploy/test_cloudformation.py``). The FSx and Batch gaps of moto are filled as for the run machine
(``moto_sfn.py``); the run is held in DescribeJobQueues (the ``hold`` fixture) and stopped there, when its
file system, association, launch template, compute environment and queue all exist.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from gwasflow.export.sfn.cleanup import EVENT_DETAIL_TYPE
from tests.export.moto_sfn import deploy, entered, file_systems, history, run_execution


@pytest.fixture
def hold(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """DescribeJobQueues waits until the event is set (set at teardown whatever happens): the run is held
    while its queue is being described, when everything it makes exists. (Not a Batch job: moto's
    ``.sync`` waiter fails on a job that does not end at once.)"""
    from moto.batch.models import BatchBackend

    release = threading.Event()
    describe = BatchBackend.describe_job_queues  # the BatchShim's, installed by the aws fixture

    def held(backend: Any, *args: Any, **kwargs: Any) -> Any:
        release.wait(60)
        return describe(backend, *args, **kwargs)

    monkeypatch.setattr(BatchBackend, "describe_job_queues", held)
    try:
        yield release
    finally:
        release.set()


def _event(described: dict[str, Any]) -> dict[str, Any]:
    """The EventBridge event AWS sends when an execution of a machine stops (its documented shape)."""
    def ms(when: Any) -> int | None:
        return None if when is None else int(when.timestamp() * 1000)

    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": EVENT_DETAIL_TYPE, "source": "aws.states",
        "account": "123456789012", "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1",
        "resources": [described["executionArn"]],
        "detail": {"executionArn": described["executionArn"], "stateMachineArn": described["stateMachineArn"],
                   "name": described["name"], "status": described["status"], "startDate": ms(described["startDate"]),
                   "stopDate": ms(described.get("stopDate")), "input": described.get("input", "{}"),
                   "inputDetails": {"included": True}, "output": None, "outputDetails": None,
                   "error": described.get("error"), "cause": described.get("cause")},
    }  # fmt: skip


def _cleanup_machine(aws: dict[str, Any], export: Any) -> str:
    import boto3

    sfn = boto3.client("stepfunctions")
    return str(sfn.create_state_machine(name=f"gwasflow-cleanup-{uuid.uuid4().hex[:8]}", roleArn=aws["role"],
                                        definition=json.dumps(export.cleanup))["stateMachineArn"])  # fmt: skip


def _left(name: str) -> dict[str, list[str]]:
    """What exists of the run ``name``'s resources: queue, compute environment, launch template, file system."""
    import boto3

    batch, ec2 = boto3.client("batch"), boto3.client("ec2")
    queues = [q["jobQueueName"] for q in batch.describe_job_queues(jobQueues=[f"gwasflow-{name}"])["jobQueues"]
              if q["status"] != "DELETED"]  # fmt: skip
    envs = [e["computeEnvironmentName"] for e in batch.describe_compute_environments(
        computeEnvironments=[f"gwasflow-{name}"])["computeEnvironments"] if e["status"] != "DELETED"]  # fmt: skip
    templates = [t["LaunchTemplateName"] for t in ec2.describe_launch_templates()["LaunchTemplates"]
                 if t["LaunchTemplateName"] == f"gwasflow-{name}"]  # fmt: skip
    tagged = [fs["FileSystemId"] for fs in file_systems()
              if {"Key": "gwasflow:execution", "Value": name} in fs.get("Tags", [])]  # fmt: skip
    return {"queue": queues, "environment": envs, "template": templates, "file system": tagged}


def _stop_mid_run(aws: dict[str, Any], arn: str, name: str, hold: threading.Event) -> dict[str, Any]:
    """Start the run machine, stop it (StopExecution) while it describes its new job queue."""
    import boto3

    sfn = boto3.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps({"poll_seconds": 0}))
    deadline = time.monotonic() + 60
    while "DescribeJobQueue" not in entered(history(sfn, execution["executionArn"])):
        assert time.monotonic() < deadline, "the run never reached DescribeJobQueue"
        time.sleep(0.2)
    sfn.stop_execution(executionArn=execution["executionArn"], error="Operator", cause="stopped by hand")
    hold.set()
    time.sleep(3)  # time for the run to go on, if it wrongly did
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    assert described["status"] == "ABORTED"
    return dict(described)


def test_cleanup_definition__executed_after_stop_execution_deletes_every_resource(
    aws: dict[str, Any], hold: threading.Event
) -> None:
    import boto3

    export, arn = deploy(aws)
    stopped = _stop_mid_run(aws, arn, "stopped-run", hold)
    left = _left("stopped-run")
    assert all(len(found) == 1 for found in left.values()), left  # the stop left every resource behind
    assert [c for c, _ in aws["fsx"].calls] == ["CreateDataRepositoryAssociation"]
    cleanup = _cleanup_machine(aws, export)
    sfn = boto3.client("stepfunctions")
    described, events = run_execution(sfn, cleanup, _event(stopped), name="clean-stopped-run")
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert _left("stopped-run") == {"queue": [], "environment": [], "template": [], "file system": []}
    name = "gwasflow-stopped-run"
    assert aws["batch"].calls[-3:] == [("DeleteJobQueue", name), ("DeleteComputeEnvironment", name),
                                       ("DeleteLaunchTemplate", name)]  # fmt: skip
    assert [c for c, _ in aws["fsx"].calls] == ["CreateDataRepositoryAssociation", "DeleteDataRepositoryAssociation"]
    names = entered(events)
    assert names.index("DeleteJobQueue") < names.index("DeleteComputeEnvironment") < names.index(
        "DeleteLaunchTemplate") < names.index("DeleteAssociation") < names.index("DeleteFileSystem")  # fmt: skip
    again, events = run_execution(sfn, cleanup, _event(stopped), name="clean-stopped-run-again")
    assert again["status"] == "SUCCEEDED", again.get("cause")  # idempotent: nothing found, nothing deleted
    names = entered(events)
    assert not [n for n in names if n.startswith(("Delete", "Disable"))] and names[-1] == "RunSucceeded"
    assert "ReadFileSystem" not in names  # no file system left to read


def test_cleanup_definition__executed_on_a_name_that_made_nothing(aws: dict[str, Any]) -> None:
    """Another run's resources are left alone: the cleanup of a name that made nothing finds nothing."""
    import boto3

    export, _ = deploy(aws)
    fsx = boto3.client("fsx")
    tags = [{"Key": "gwasflow:execution", "Value": "other-run"}]
    other = fsx.create_file_system(FileSystemType="LUSTRE", StorageCapacity=1200, SubnetIds=[aws["subnet"]],
                                   Tags=tags)["FileSystem"]  # fmt: skip
    try:
        _clean_nothing(aws, export, other["FileSystemId"])
    finally:  # the server outlives the test: leave no file system to the other tests
        fsx.delete_file_system(FileSystemId=other["FileSystemId"])


def _clean_nothing(aws: dict[str, Any], export: Any, other: str) -> None:
    import boto3

    cleanup = _cleanup_machine(aws, export)
    sfn = boto3.client("stepfunctions")
    event = _event({"executionArn": "arn:aws:states:us-east-1:123456789012:execution:gwasflow:never-ran",
                    "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:gwasflow",
                    "name": "never-ran", "status": "TIMED_OUT", "startDate": datetime.now(UTC)})  # fmt: skip
    described, events = run_execution(sfn, cleanup, event, name="clean-never-ran")
    assert described["status"] == "SUCCEEDED", described.get("cause")
    names = entered(events)
    assert names.count("ReadFileSystem") == 1 and "KeepFileSystem" not in names  # read, not ours
    assert not [n for n in names if n.startswith(("Delete", "Disable"))]
    assert [fs["FileSystemId"] for fs in file_systems()] == [other]
    event["detail"]["name"] = "bad.name"  # the run machine refuses such a name before it makes anything
    described, events = run_execution(sfn, cleanup, event, name="clean-bad-name")
    assert described["status"] == "SUCCEEDED" and entered(events)[-1] == "NothingMade"


def test_cleanup_definition__executed_waits_for_an_association_already_deleting(
    aws: dict[str, Any], hold: threading.Event
) -> None:
    """Someone began deleting the association by hand: the cleanup waits for it instead of deleting it again."""
    import boto3

    export, arn = deploy(aws)
    stopped = _stop_mid_run(aws, arn, "half-clean", hold)
    (association,) = aws["fsx"].associations
    boto3.client("fsx").delete_data_repository_association(AssociationId=association, DeleteDataInFileSystem=False)
    sfn = boto3.client("stepfunctions")
    described, events = run_execution(sfn, _cleanup_machine(aws, export), _event(stopped), name="clean-half")
    assert described["status"] == "SUCCEEDED", described.get("cause")
    names = entered(events)
    assert "WaitAssociationGone" in names and "DeleteAssociation" not in names
    assert names.index("DescribeAssociationGone") < names.index("DeleteFileSystem")  # then not found: gone
    assert [c for c, _ in aws["fsx"].calls].count("DeleteDataRepositoryAssociation") == 1  # the hand's only
    assert _left("half-clean") == {"queue": [], "environment": [], "template": [], "file system": []}


def test_cleanup_definition__executed_describe_refused_goes_on_then_fails(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A describe that fails (here Batch refuses DescribeComputeEnvironments) does not stop the search for the
    rest, and the cleanup ends failed naming it, so a cleanup that could not look is seen."""
    import boto3
    from moto.batch.exceptions import ClientException
    from moto.batch.models import BatchBackend

    export, _ = deploy(aws)

    def refuse(backend: Any, *args: Any, **kwargs: Any) -> Any:
        raise ClientException("not authorized to describe compute environments")

    monkeypatch.setattr(BatchBackend, "describe_compute_environments", refuse)
    event = _event({"executionArn": "arn:aws:states:us-east-1:123456789012:execution:gwasflow:refused",
                    "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:gwasflow",
                    "name": "refused", "status": "ABORTED", "startDate": datetime.now(UTC)})  # fmt: skip
    sfn = boto3.client("stepfunctions")
    described, events = run_execution(sfn, _cleanup_machine(aws, export), event, name="clean-refused")
    assert described["status"] == "FAILED" and described["error"] == "gwasflow.RunFailed"
    assert described["cause"].startswith("Batch.ClientException: ") and "not authorized" in described["cause"]
    names = entered(events)
    assert names.index("FindComputeEnvironment") < names.index("FindLaunchTemplate") < names.index("FindFileSystem")
