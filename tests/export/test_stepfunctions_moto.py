"""The exported machine executed end to end by moto's Step Functions interpreter on a loopback server.

Executed by moto (``stepfunctions.execute_state_machine``): every state of the top-level machine
(Pass, Choice, Wait, Task, Fail, Succeed), the intrinsic functions (JsonMerge, MathAdd, Array,
ArrayContains, Format, JsonToString), Retry (the injected shard failure is submitted again) and
Catch; the Distributed Map reading ``shards.json`` from moto's S3 (``ItemReader``) and writing its
results manifest (``ResultWriter``; moto writes the manifest only, not the items' result files), its
item processor in child executions; ``batch:submitJob.sync`` against
moto's Docker-less Batch (SubmitJob, then DescribeJobs until the job ends); the failure record
(DynamoDB ``putItem``) and the final check's ``aws-sdk:dynamodb:query``; ``aws-sdk:fsx``
CreateFileSystem, DescribeFileSystems and DeleteFileSystem against moto's FSx; the run's own compute:
``aws-sdk:ec2`` CreateLaunchTemplate / DeleteLaunchTemplate (the user data, built with the
``States.Format`` and ``States.Base64Encode`` intrinsics, decoded and checked at each job's
submission) and ``aws-sdk:batch`` Create/Update/Delete/DescribeComputeEnvironment(s) and JobQueue(s)
against moto's EC2 and Batch, with AWS's delete rules (DISABLED first, no queue left) enforced by
:class:`moto_sfn.BatchShim`; every job is submitted to the run's queue.

Not executed as AWS would: the Batch jobs run nothing (moto marks them SUCCEEDED, or FAILED where
:func:`moto_sfn.fail_jobs` injects a failure), so the check, merge and report commands are tested
on their own in ``test_sfn_finish.py``; the FSx lifecycles and the association and export-task APIs
come from :class:`moto_sfn.FsxShim` (AWS-shaped responses; moto has none of them); moto's Batch
and SDK integrations need their request/response casing wired in
(:func:`moto_sfn.normalise_batch_integration`, :func:`moto_sfn.normalise_sdk_integration`); the
CREATING and DELETED statuses of a compute environment and a queue come from :class:`moto_sfn.BatchShim`
(moto has them VALID at once and forgets them when deleted); no EC2 host boots, so the user data's
``mount`` is checked as text, never run;
``MaxConcurrency`` and ``ToleratedFailurePercentage`` are parsed but not enforced by moto (moto says
so when it parses the latter), so their values are checked in the definition
(``test_stepfunctions.py``), as are IAM permissions, which moto does not evaluate.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from gwasflow.export.sfn.names import execution_name_problem
from tests.export import sfn_fixtures as fx
from tests.export.moto_sfn import deploy, entered, fail_jobs, file_systems, run_execution


def _failure_items(table: str, run_id: str) -> list[dict[str, Any]]:
    import boto3

    found = boto3.client("dynamodb").query(TableName=table, KeyConditionExpression="run_id = :r",
                                           ExpressionAttributeValues={":r": {"S": run_id}})  # fmt: skip
    return list(found["Items"])


def _squash(names: list[str]) -> list[str]:
    """States in order with each poll loop's repeats removed (``Wait<X>`` ... ``<X>Ready`` once per loop)."""
    out: list[str] = []
    for name in names:
        if name not in out[-4:]:
            out.append(name)
    return out


_CREATE = ["Configure", "Config", "CheckName", "NameUsable", "CheckInput", "ChooseVersion", "Use_4_1_2",
           "CreateFileSystem", "WaitFileSystem", "DescribeFileSystem", "CountFileSystem", "FileSystemReady",
           "KeepMountNames", "CreateAssociation", "WaitAssociation", "DescribeAssociation", "CountAssociation",
           "AssociationReady", "MountCommand", "CreateLaunchTemplate", "CreateComputeEnvironment",
           "WaitComputeEnvironment", "DescribeComputeEnvironment", "CountComputeEnvironment",
           "ComputeEnvironmentReady", "CreateJobQueue", "WaitJobQueue", "DescribeJobQueue", "CountJobQueue",
           "JobQueueReady"]  # fmt: skip
_CLEANUP = ["Cleanup", "DisableJobQueue", "DeleteJobQueue", "WaitJobQueueGone", "DescribeJobQueueGone",
            "CountJobQueueGone", "JobQueueGoneReady", "CleanupComputeEnvironment", "DisableComputeEnvironment",
            "DeleteComputeEnvironment", "WaitComputeEnvironmentGone", "DescribeComputeEnvironmentGone",
            "CountComputeEnvironmentGone", "ComputeEnvironmentGoneReady", "CleanupLaunchTemplate",
            "DeleteLaunchTemplate", "CleanupFileSystem", "DeleteAssociation",
            "WaitAssociationGone", "DescribeAssociationGone", "CountAssociationGone", "AssociationGoneReady",
            "DeleteFileSystem", "Finish"]  # fmt: skip
_MADE_AND_DELETED = ["CreateLaunchTemplate", "CreateComputeEnvironment", "CreateJobQueue", "DeleteJobQueue",
                     "DeleteComputeEnvironment", "DeleteLaunchTemplate"]  # fmt: skip


def _file_system_id(events: list[dict[str, Any]]) -> str:
    made = next(e for e in events if e.get("stateExitedEventDetails", {}).get("name") == "CreateFileSystem")
    return str(json.loads(made["stateExitedEventDetails"]["output"])["fsx"]["id"])


def _assert_run_compute(aws: dict[str, Any], execution: str, events: list[dict[str, Any]]) -> None:
    """Every job went to the run's own queue while it, its compute environment and the launch template that
    mounts the run's file system existed; at the end all three are deleted, queue first."""
    import boto3

    name = f"gwasflow-{execution}"
    assert aws["batch"].calls == [(call, name) for call in _MADE_AND_DELETED]
    fs = _file_system_id(events)
    mount = f"- mount -t lustre -o relatime,flock {fs}.fsx.us-east-1.amazonaws.com@tcp:/{fs[-8:]} /fsx\n"
    submitted = aws["batch"].submitted
    assert submitted
    for job in submitted:
        assert (job["queue"], job["queue_state"], job["environment"], job["environment_state"], job["template"]) == (
            name, "ENABLED", name, "ENABLED", name), job["job"]  # fmt: skip
        assert job["environment_type"] == "EC2"
        assert job["user_data"].startswith('MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="')
        assert "Content-Type: text/cloud-config" in job["user_data"] and mount in job["user_data"]
    names = entered(events)
    assert names.count("DescribeComputeEnvironment") == 2 and names.count("DescribeJobQueue") == 2  # CREATING, VALID
    for loop in ("JobQueueGoneReady", "ComputeEnvironmentGoneReady"):  # described once more, DELETED: gone
        seen = [json.loads(e["stateEnteredEventDetails"]["input"])["lifecycle"] for e in events
                if e.get("stateEnteredEventDetails", {}).get("name") == loop]  # fmt: skip
        assert seen == [{"listed": 1, "deleted": True}], loop
    batch = boto3.client("batch")
    assert batch.describe_job_queues(jobQueues=[name])["jobQueues"] == []
    assert batch.describe_compute_environments(computeEnvironments=[name])["computeEnvironments"] == []
    templates = boto3.client("ec2").describe_launch_templates()["LaunchTemplates"]
    assert name not in [t["LaunchTemplateName"] for t in templates]


def test_export_stepfunctions__executed_run_succeeds_and_deletes_the_file_system(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    export, arn = deploy(aws)
    finished = fail_jobs(monkeypatch, lambda name: False)
    import boto3

    described, events = run_execution(boto3.client("stepfunctions"), arn, {"poll_seconds": 0}, name="ok-run")
    assert described["status"] == "SUCCEEDED", described.get("cause")
    names = entered(events)
    assert _squash(names) == [*_CREATE, "Step1OrSkip", "Step1", "Step2", "CountFailures", "FailuresPending",
                              "CheckOutputs", "Merge", "Report", "ExportResults", "WaitExport", "DescribeExport",
                              "CountExport", "ExportReady", *_CLEANUP, "RunSucceeded"]  # fmt: skip
    assert names.count("DescribeFileSystem") == 2  # CREATING, then AVAILABLE
    shards = [s["job_name"] for s in export.manifest.shards]
    assert sorted(n for n in finished if "step2" in n) == sorted(shards)  # every shard ran once, through the Map
    assert {"biobank-step1", "biobank-check", "biobank-merge", "biobank-report"} <= set(finished)
    assert _failure_items(aws["table"], "ok-run") == []
    calls = [c for c, _ in aws["fsx"].calls]
    assert calls == ["CreateDataRepositoryAssociation", "CreateDataRepositoryTask", "DeleteDataRepositoryAssociation"]
    assert aws["fsx"].calls[1][1] == '["data/out"]'  # the outdir, relative to the file system root
    assert file_systems() == []
    _assert_run_compute(aws, "ok-run", events)
    step2 = next(e for e in events if e.get("stateExitedEventDetails", {}).get("name") == "Step2")
    written = json.loads(step2["stateExitedEventDetails"]["output"])["step2"]["ResultWriterDetails"]
    assert written["Bucket"] == aws["bucket"] and written["Key"].startswith("biobank/manifest/results/")
    boto3.client("s3").head_object(Bucket=written["Bucket"], Key=written["Key"])  # the Map's results manifest


def test_export_stepfunctions__executed_shard_failure_is_recorded_and_fails_the_run(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    export, arn = deploy(aws, retry={"max_attempts": 2, "backoff_s": 1, "max_backoff_s": 1})
    bad = export.manifest.shards[1]
    finished = fail_jobs(monkeypatch, lambda name: name == bad["job_name"])
    import boto3

    described, events = run_execution(boto3.client("stepfunctions"), arn, {"poll_seconds": 0}, name="bad-run")
    assert described["status"] == "FAILED"
    assert described["error"] == "gwasflow.RunFailed"
    assert described["cause"].startswith("gwasflow.ShardsFailed: ") and aws["table"] in described["cause"]
    assert _squash(entered(events)) == [*_CREATE, "Step1OrSkip", "Step1", "Step2", "CountFailures", "FailuresPending",
                                        "ShardsFailed", *_CLEANUP, "Failed", "RunFailed"]  # fmt: skip
    assert finished.count(bad["job_name"]) == 2  # retried once (max_attempts 2), then caught
    assert all(finished.count(s["job_name"]) == 1 for s in export.manifest.shards if s is not bad)
    items = _failure_items(aws["table"], "bad-run")
    assert len(items) == 1
    item = items[0]
    assert item["job_id"] == {"S": bad["job_id"]} and item["failure_id"] == {"S": f"{bad['job_id']}#2"}
    assert item["error_type"] == {"S": "States.TaskFailed"} and item["action"] == {"S": "none"}
    assert json.loads(item["reason"]["S"])["JobName"] == bad["job_name"]  # the cause: the failed job, described
    assert file_systems() == []
    _assert_run_compute(aws, "bad-run", events)
    assert ("DeleteDataRepositoryAssociation" in [c for c, _ in aws["fsx"].calls])
    payloads = [d.get("input") or d.get("output") or "" for e in events
                for d in (e.get("stateEnteredEventDetails"), e.get("stateExitedEventDetails")) if d]  # fmt: skip
    assert max(len(p.encode()) for p in payloads) < 16 * 1024  # far below the 256 KiB state payload limit


def test_export_stepfunctions__executed_step1_failure_is_caught_and_cleans_up(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, arn = deploy(aws, retry={"max_attempts": 1})
    finished = fail_jobs(monkeypatch, lambda name: name == "biobank-step1")
    import boto3

    described, events = run_execution(boto3.client("stepfunctions"), arn, {"poll_seconds": 0}, name="step1-run")
    assert described["status"] == "FAILED" and described["error"] == "gwasflow.RunFailed"
    assert described["cause"].startswith("States.TaskFailed: ")
    assert _squash(entered(events)) == [*_CREATE, "Step1OrSkip", "Step1", "RecordStep1Failure", *_CLEANUP,
                                        "Failed", "RunFailed"]  # fmt: skip
    assert not [n for n in finished if "step2" in n]
    assert [i["job_id"]["S"] for i in _failure_items(aws["table"], "step1-run")] == ["step1"]
    assert file_systems() == []
    _assert_run_compute(aws, "step1-run", events)


def test_export_stepfunctions__executed_with_skip_step1_and_one_dataset(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    export, arn = deploy(aws)
    finished = fail_jobs(monkeypatch, lambda name: False)
    import boto3

    payload = {"poll_seconds": 0, "skip_step1": True, "predictions": "/fsx/data/old/fit_pred.list", "datasets": ["b"]}
    described, events = run_execution(boto3.client("stepfunctions"), arn, payload, name="skip-run")
    assert described["status"] == "SUCCEEDED", described.get("cause")
    names = entered(events)
    assert "Step1" not in names
    b_shards = {s["job_name"] for s in export.manifest.shards if s["dataset"] == "b"}
    assert b_shards and {n for n in finished if "step2" in n} == b_shards
    assert names[names.index("Step1OrSkip") + 1:names.index("Step2")] == ["UsePredictions"]
    command = next(j["command"] for j in aws["batch"].submitted if j["job"] == "biobank-use-predictions")
    assert command[3:] == ["predictions", "--from", "/fsx/data/old/fit_pred.list", "--to",
                           "/fsx/work/step1/biobank_pred.list"]  # fmt: skip
    check = next(e for e in events if e.get("stateEnteredEventDetails", {}).get("name") == "CheckOutputs")
    assert '"datasets":["b"]' in check["stateEnteredEventDetails"]["input"].replace(" ", "")


def test_export_stepfunctions__executed_bad_input_stops_before_any_resource(aws: dict[str, Any]) -> None:
    _, arn = deploy(aws)
    import boto3

    sfn = boto3.client("stepfunctions")
    described, events = run_execution(sfn, arn, {"skip_step1": True}, name="no-pred")
    assert described["status"] == "FAILED" and described["error"] == "gwasflow.BadInput"
    described, events = run_execution(sfn, arn, {"regenie_version": "9.9"}, name="bad-version")
    assert described["status"] == "FAILED" and "known: 4.1.2" in described["cause"]
    assert "CreateFileSystem" not in entered(events) and file_systems() == []


@pytest.mark.parametrize("name", ["run.1", "run+1", "a=b", "me@lab", "h\u00f6he", "run-", "run_", "Run_2-b9"])
def test_check_states__executed_name_check_agrees_with_execution_name_problem(aws: dict[str, Any], name: str) -> None:
    """Step Functions accepts each of these names; the machine refuses exactly those Batch cannot take, before
    anything is made (the valid one goes on, and stops at the bad version given with it)."""
    _, arn = deploy(aws)
    import boto3

    described, events = run_execution(boto3.client("stepfunctions"), arn, {"regenie_version": "9.9"}, name=name)
    names = entered(events)
    assert described["status"] == "FAILED" and described["error"] == "gwasflow.BadInput"
    assert ("BadName" in names) == (execution_name_problem(name) is not None), names
    assert ("UnknownVersion" in names) == (execution_name_problem(name) is None), names
    if "BadName" in names:
        assert described["cause"].startswith("execution name: use letters, digits, - and _ only")
    assert "CreateFileSystem" not in names and file_systems() == [] and aws["batch"].calls == []


def test_export_stepfunctions__executed_file_system_timeout_still_deletes_it(aws: dict[str, Any]) -> None:
    _, arn = deploy(aws)
    aws["fsx"].fs_lifecycle = ["CREATING"]  # never AVAILABLE
    import boto3

    payload = {"poll_seconds": 0, "max_polls": 2}
    described, events = run_execution(boto3.client("stepfunctions"), arn, payload, name="slow-fs")
    assert described["status"] == "FAILED"
    assert described["cause"].startswith("gwasflow.Timeout: the FSx file system was not AVAILABLE")
    names = entered(events)
    assert names.count("DescribeFileSystem") == 2 and "CreateAssociation" not in names
    assert names[names.index("FileSystemTimedOut"):] == [
        "FileSystemTimedOut", "Cleanup", "CleanupComputeEnvironment", "CleanupLaunchTemplate", "CleanupFileSystem",
        "DeleteFileSystem", "Finish", "Failed", "RunFailed"]  # fmt: skip
    assert file_systems() == [] and aws["batch"].calls == []  # nothing of Batch was made, nor deleted


def test_export_stepfunctions__biobank_definition_parses_in_moto(aws: dict[str, Any]) -> None:
    import boto3

    from tests.export.test_stepfunctions_limits import _biobank

    run, graph = _biobank()
    export = fx.export_graph(run, graph)
    text = json.dumps(export.definition)
    sfn = boto3.client("stepfunctions")
    arn = sfn.create_state_machine(name=f"gwasflow-big-{uuid.uuid4().hex[:8]}", roleArn=aws["role"],
                                   definition=text)["stateMachineArn"]  # fmt: skip
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == export.definition
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="ASLParserException"):  # the parser is on: a broken definition is refused
        sfn.create_state_machine(name=f"gwasflow-bad-{uuid.uuid4().hex[:8]}", roleArn=aws["role"],
                                 definition=text.replace('"Type": "Choice"', '"Type": "Chose"', 1))  # fmt: skip


def test_export_stepfunctions__executed_compute_environment_refused_deletes_template_and_file_system(
    aws: dict[str, Any],
) -> None:
    """A caught error after the launch template exists: CreateComputeEnvironment refused (no such instance
    profile). The cleanup deletes the launch template, then the association and the file system."""
    _, arn = deploy(aws, settings={"instance_profile": "arn:aws:iam::123456789012:instance-profile/missing"})
    import boto3

    described, events = run_execution(boto3.client("stepfunctions"), arn, {"poll_seconds": 0}, name="no-profile")
    assert described["status"] == "FAILED" and described["error"] == "gwasflow.RunFailed"
    assert "could not find instanceRole" in described["cause"]
    names = _squash(entered(events))
    assert names[names.index("CreateComputeEnvironment"):] == [
        "CreateComputeEnvironment", "Cleanup", "CleanupComputeEnvironment", "CleanupLaunchTemplate",
        "DeleteLaunchTemplate", *_CLEANUP[_CLEANUP.index("CleanupFileSystem"):],
        "Failed", "RunFailed"]  # fmt: skip
    name = "gwasflow-no-profile"
    assert aws["batch"].calls == [("CreateLaunchTemplate", name), ("CreateComputeEnvironment", name),
                                  ("DeleteLaunchTemplate", name)]  # fmt: skip
    assert aws["batch"].submitted == [] and file_systems() == []
    templates = boto3.client("ec2").describe_launch_templates()["LaunchTemplates"]
    assert name not in [t["LaunchTemplateName"] for t in templates]
