"""The Step Functions export's definition: its states, the paths through them, and the export command.

The machine is executed in ``test_stepfunctions_moto.py``; here every path is checked on the
definition itself, including what moto does not enforce (MaxConcurrency, ToleratedFailurePercentage,
every path to an end deleting the file system).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from gwasflow.core.states import Step
from gwasflow.engine.failure_log import DynamoDBSink, FailureRecord
from gwasflow.export.sfn.batch import BATCH_SYNC, DYNAMODB_PUT
from gwasflow.export.sfn.names import execution_name_problem
from gwasflow.export.stepfunctions import ExportOptions, main_export
from tests.export import sfn_fixtures as fx


def _all_states(states: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], str, dict[str, Any]]]:
    """(the States block it is in, name, state) for every state, Map processors included."""
    for name, state in states.items():
        yield states, name, state
        if state["Type"] == "Map":
            yield from _all_states(state["ItemProcessor"]["States"])


def _targets(state: Mapping[str, Any]) -> set[str]:
    found = {state.get("Next"), state.get("Default")}
    found |= {c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])}
    return {t for t in found if t}


def test_export_stepfunctions__every_next_is_defined_and_every_state_reached() -> None:
    definition = fx.export().definition
    for block, name, state in _all_states(definition["States"]):
        for target in _targets(state):
            assert target in block, f"{name} -> {target}"
        assert state.get("End") or state.get("Next") or state["Type"] in ("Choice", "Succeed", "Fail"), name
    reached = {"Configure"}
    for _, _, state in _all_states(definition["States"]):
        reached |= _targets(state)
    assert set(definition["States"]) <= reached


def _before(states: Mapping[str, Any], start: str, stop: str, made: set[str]) -> set[str]:
    """States reachable from ``start`` without entering ``stop``. ``Cleanup`` and the guards after it choose by
    what exists at run time; here each follows the first of its choices whose variable is in ``made``
    (``$.queue.arn`` ...); the status branches (``And``) are the cleanup machine's, never taken by a run."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or name == stop:
            continue
        seen.add(name)
        state = states[name]
        if name in ("Cleanup", "CleanupComputeEnvironment", "CleanupLaunchTemplate"):
            todo.append(next((c["Next"] for c in state["Choices"] if c.get("Variable") in made), state["Default"]))
        elif name == "CleanupFileSystem":  # the file system exists; the DELETING (And) branches serve cleanup.py
            todo += sorted({c["Next"] for c in state["Choices"] if "Variable" in c} | {state["Default"]})
        else:
            todo += sorted(_targets(state))
    return seen


def test_export_stepfunctions__every_path_after_creation_deletes_the_file_system() -> None:
    states = fx.export().definition["States"]
    seen = _before(states, "WaitFileSystem", "DeleteFileSystem", set())  # from here on the file system exists
    assert not [n for n in seen if states[n]["Type"] in ("Succeed", "Fail")]  # no end without DeleteFileSystem
    assert {"Step1", "Step2", "Merge", "Report", "ShardsFailed", "FileSystemTimedOut", "ExportResults"} <= seen
    assert states["CreateFileSystem"]["Catch"][0]["Next"] == "Finish"  # nothing created, nothing to delete


@pytest.mark.parametrize(("start", "made", "delete", "before"), [
    ("CreateComputeEnvironment", {"$.lt.id"}, "DeleteLaunchTemplate", "CleanupFileSystem"),
    ("WaitComputeEnvironment", {"$.lt.id", "$.ce.arn"}, "DeleteComputeEnvironment", "DeleteLaunchTemplate"),
    ("WaitJobQueue", {"$.lt.id", "$.ce.arn", "$.queue.arn"}, "DeleteJobQueue", "DisableComputeEnvironment"),
])  # fmt: skip
def test_export_stepfunctions__every_path_after_creation_deletes_the_run_compute(
    start: str, made: set[str], delete: str, before: str
) -> None:
    """Once the launch template, compute environment or queue exists (``start`` follows its creation), every
    path deletes it, and does so before the cleanup of what it depends on (queue, then environment, then
    launch template, then the file system)."""
    states = fx.export().definition["States"]
    seen = _before(states, start, delete, made)
    assert not [n for n in seen if states[n]["Type"] in ("Succeed", "Fail")], start
    assert before not in seen and "DeleteFileSystem" not in seen
    assert "Cleanup" in seen
    after = _before(states, delete, "DeleteFileSystem", made)
    assert before in after  # the chain goes on to the next resource, then the file system
    for name in ("DeleteJobQueue", "DeleteComputeEnvironment"):  # Batch refuses while the disable is under way
        assert {"ErrorEquals": ["Batch.ClientException"], "IntervalSeconds": 10, "BackoffRate": 1.5,
                "MaxAttempts": 8} in states[name]["Retry"]  # fmt: skip


def test_export_stepfunctions__jobs_run_on_the_run_compute_that_mounts_the_file_system() -> None:
    states = fx.export().definition["States"]
    assert states["Step1"]["Parameters"]["JobQueue.$"] == "$.queue.arn"
    assert states["Step2"]["ItemSelector"]["queue.$"] == "$.queue.arn"
    assert states["Step2"]["ItemProcessor"]["States"]["Shard"]["Parameters"]["JobQueue.$"] == "$.queue"
    resources = states["CreateComputeEnvironment"]["Parameters"]["ComputeResources"]
    assert resources["Subnets"] == fx.FSX["subnet_ids"] and resources["SecurityGroupIds"] == ["sg-0abc"]
    assert resources["LaunchTemplate"] == {"LaunchTemplateId.$": "$.lt.id"}
    assert resources["InstanceRole"] == "${InstanceProfileArn}"  # the template substitutes its instance profile
    head = states["MountCommand"]["Result"]["head"]
    assert head.startswith('MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="==GWASFLOW=="\n')
    assert head.endswith("- mkdir -p /fsx\n- mount -t lustre -o relatime,flock ")
    assert states["Configure"]["Parameters"]["defaults"]["max_vcpus"] == 50  # max_parallel 50 x a shard's 1 vCPU
    big = fx.export(fx.spec(step1={"resources": {"cpus": 64, "memory_mb": 8000, "time_s": 3600}},
                            executor={"kind": "local", "max_parallel": 8}))  # fmt: skip
    assert big.definition["States"]["Configure"]["Parameters"]["defaults"]["max_vcpus"] == 64  # step 1 alone
    assert states["Config"]["Parameters"]["names"] == {"compute.$": "States.Format('gwasflow-{}', $$.Execution.Name)"}


def test_export_stepfunctions__step2_is_a_distributed_map_over_the_manifest_in_s3() -> None:
    export = fx.export()
    step2 = export.definition["States"]["Step2"]
    reader = {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
              "Parameters": {"Bucket": "gwas-runs", "Key": "biobank/manifest/shards.json"}}  # fmt: skip
    assert step2["ItemReader"] == reader
    assert step2["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert step2["MaxConcurrency"] == 50 and step2["ToleratedFailurePercentage"] == 0
    assert "ItemsPath" not in step2 and "job_id" not in json.dumps(step2["ItemSelector"])  # no inline list
    shard = step2["ItemProcessor"]["States"]["Shard"]
    assert shard["Resource"] == BATCH_SYNC and "Parameters" not in shard["Parameters"]
    assert shard["Parameters"]["ContainerOverrides"]["Command.$"] == "$.item.command"
    assert shard["Parameters"]["JobDefinition.$"] == "$.jobdef"
    assert shard["Catch"][0]["Next"] == "RecordShardFailure"


def test_export_stepfunctions__retry_and_catch_on_every_batch_task() -> None:
    tasks = [(n, s) for _, n, s in _all_states(fx.export().definition["States"]) if s.get("Resource") == BATCH_SYNC]
    assert {n for n, _ in tasks} == {"Step1", "UsePredictions", "Shard", "CheckOutputs", "Merge", "Report"}
    for name, task in tasks:
        failed = [r for r in task["Retry"] if r["ErrorEquals"] == ["States.TaskFailed"]]
        assert failed == [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 10, "BackoffRate": 2.0,
                           "MaxAttempts": 3, "MaxDelaySeconds": 300}], name  # fmt: skip
        assert any("Batch.TooManyRequestsException" in r["ErrorEquals"] for r in task["Retry"])
        assert task["Catch"][0]["ErrorEquals"] == ["States.ALL"] and "Failure" in task["Catch"][0]["Next"]
        strategy = task["Parameters"]["RetryStrategy"]
        assert strategy["Attempts"] == 4  # 1 + max_interruptions: spot reclaims retried by Batch itself
        assert strategy["EvaluateOnExit"][0] == {"OnStatusReason": "Host EC2*", "Action": "RETRY"}


def test_failure_record__has_every_attribute_of_the_failure_log_layout() -> None:
    processor = fx.export().definition["States"]["Step2"]["ItemProcessor"]["States"]
    record = processor["RecordShardFailure"]
    assert record["Resource"] == DYNAMODB_PUT and record["Parameters"]["TableName"] == "gwas-failures"
    item = record["Parameters"]["Item"]
    written = {}

    class _Db:
        def put_item(self, TableName: str, Item: dict[str, Any]) -> None:
            written.update(Item)

    sink = DynamoDBSink.__new__(DynamoDBSink)
    sink.table, sink._db = "t", _Db()
    sink.record(FailureRecord("r", "j", 1, "failed", None, None, "why", "tail", {"cpus": 1}, 0.0))
    assert set(written) - {"recorded_at"} <= {k for k in item} and "recorded_time" in item
    assert item["failure_id"] == {"S.$": "States.Format('{}#4', $.item.job_id)"} and item["attempt"] == {"N": "4"}
    assert item["run_id"] == {"S.$": "$.run_id"} and item["error_type"] == {"S.$": "$.error.Error"}


def test_export_stepfunctions__skip_step1_copies_the_given_predictions_where_step2_reads_them() -> None:
    states = fx.export().definition["States"]
    assert states["Step1OrSkip"]["Choices"][0] == {"Variable": "$.config.skip_step1", "BooleanEquals": True,
                                                   "Next": "UsePredictions"}  # fmt: skip
    use = states["UsePredictions"]
    assert use["Next"] == "Step2" and use["Catch"][0]["Next"] == "RecordUsePredictionsFailure"
    command = use["Parameters"]["ContainerOverrides"]["Command.$"]
    assert command == ("States.Array('python3', '-m', 'gwasflow.export.sfn.finish', 'predictions', '--from', "
                       "$.config.predictions, '--to', '/fsx/work/step1/biobank_pred.list')")  # fmt: skip


def test_export_stepfunctions__qc_job_runs_before_step1_in_the_gwasflow_image() -> None:
    run = fx.spec(step1={"qc": {"maf": 0.01}})
    export = fx.export(run)
    states = export.definition["States"]
    assert states["Step1OrSkip"]["Default"] == "QC" and states["QC"]["Next"] == "Step1"
    qc = fx.graph(run).by_step(Step.QC)[0]
    assert states["QC"]["Parameters"]["ContainerOverrides"]["Command"] == list(qc.argv)
    assert states["QC"]["Parameters"]["JobDefinition"] == export.job_definitions.qc
    assert str(export.job_definitions.qc).startswith("gwasflow-gwasflow-1-0-")


def test_export_stepfunctions__one_set_of_job_definitions_per_regenie_version() -> None:
    export = fx.export(regenie_versions=("3.6",))
    choose = export.definition["States"]["ChooseVersion"]
    assert [c["StringEquals"] for c in choose["Choices"]] == ["4.1.2", "3.6"]
    images = {d["image"] for d in export.job_definitions.needed}
    assert images == {f"{fx.IMAGE}:v4.1.2", f"{fx.IMAGE}:v3.6", fx.GWASFLOW_IMAGE}
    assert export.definition["States"]["Use_3_6"]["Result"] == export.job_definitions.by_version["3.6"]
    assert export.definition["States"]["Configure"]["Parameters"]["defaults"]["regenie_version"] == "4.1.2"


def test_export_stepfunctions__builtin_engine_runs_both_steps_in_the_gwasflow_image() -> None:
    export = fx.export(fx.spec(engine={"kind": "builtin"}))
    assert list(export.job_definitions.by_version) == ["builtin"]
    with pytest.raises(ValueError, match=r"^no gwasflow container image"):
        fx.export(image=None)


def test_export_stepfunctions__spec_step1_skip_starts_at_step2() -> None:
    export = fx.export(fx.spec(step1={"skip": True, "predictions": "/fsx/data/fit/pred.list"}))
    states = export.definition["States"]
    assert "Step1" not in states and "UsePredictions" not in states
    other = states["CheckInput"]["Choices"][0]  # the commands read the spec's list: no other one is accepted
    assert other == {"Not": {"Variable": "$.config.predictions", "StringEquals": "/fsx/data/fit/pred.list"},
                     "Next": "BadInput"}  # fmt: skip
    assert states["AssociationReady"]["Choices"][0]["Next"] == "MountCommand"
    assert states["JobQueueReady"]["Choices"][0]["Next"] == "Step2"
    assert states["Configure"]["Parameters"]["defaults"]["predictions"] == "/fsx/data/fit/pred.list"


@pytest.mark.parametrize(("fields", "message"), [
    ({"workspace": {"kind": "local"}}, r"^workspace: the Step Functions export runs on a transient FSx"),
    ({"outdir": "/fsx/out"}, r"^outdir: /fsx/out is not under /fsx/data"),
    ({"workspace": {"kind": "fsx", "fsx": {**fx.FSX, "security_group_ids": []}}},
     r"^workspace.fsx.security_group_ids: the run's Batch hosts and its file system need a security group"),
    ({"phenotypes": {"file": "/home/me/p.txt", "columns": ["Y1"]}}, r"^job step1: /home/me/p.txt is not on the FSx"),
])  # fmt: skip
def test_export_stepfunctions__refuses_paths_off_the_file_system(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fx.export(fx.spec(**fields))


def test_build_manifest__items_and_job_counts() -> None:
    export = fx.export()
    items = export.manifest.shards
    assert [i["dataset"] for i in items] == ["a"] * 5 + ["b"]
    shards = fx.graph(fx.spec()).by_step(Step.STEP2)
    assert [i["command"] for i in items] == [list(j.argv) for j in shards]
    assert [i["job_name"] for i in items] == [f"biobank-{j.id}" for j in shards]
    summary = export.manifest.summary
    assert summary["jobs"] == {"step1": 1, "step2": 6, "merge": 2, "report": 1, "cleanup": 1}
    assert summary["step2"] == {"variants_per_job": 2, "phenotypes_per_job": 2, "variant_chunks": 6,
                                "phenotype_groups": 1, "shards": 6}  # fmt: skip
    grouped = fx.export(fx.spec(step2={"variants_per_job": 3, "phenotypes_per_job": 1})).manifest.summary
    # chunks of <= 3: a's chromosome 1 (5 variants) 2, chromosome 2 (4) 2, b's chromosome 3 (2) 1; x 2 groups of 1
    assert grouped["step2"] == {"variants_per_job": 3, "phenotypes_per_job": 1, "variant_chunks": 5,
                                "phenotype_groups": 2, "shards": 10}  # fmt: skip
    assert grouped["jobs"]["step2"] == 10


def _spec_file(tmp_path: Path, regenie_example: Path) -> Path:
    inputs = tmp_path / "fsx" / "data" / "in"
    shutil.copytree(regenie_example / "inputs", inputs)
    fsx = {**fx.FSX, "mount_path": str(tmp_path / "fsx")}
    spec = {
        "name": "example",
        "datasets": [{"bed": str(inputs / "example")}],
        "phenotypes": {"file": str(inputs / "phenotype.txt"), "columns": ["Y1", "Y2"]},
        "step2": {"variants_per_job": 250},
        "engine": {"kind": "regenie", "image": fx.IMAGE, "version": "4.1.2"},
        "executor": {"kind": "local", "settings": {}},
        "failure_log": "dynamodb:gwas-failures",
        "workspace": {"kind": "fsx", "fsx": fsx},
        "workdir": str(tmp_path / "fsx" / "work"),
        "outdir": str(tmp_path / "fsx" / "data" / "out"),
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    return path


def test_main_export__writes_definition_and_manifest(aws_endpoint: str, regenie_example: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    import boto3

    boto3.client("s3").create_bucket(Bucket="gwas-export-test")
    path, out = _spec_file(tmp_path, regenie_example), tmp_path / "machine.json"
    options = ExportOptions(image=fx.GWASFLOW_IMAGE, manifest="s3://gwas-export-test/run1")
    assert main_export(path, "stepfunctions", out, options) == 0
    definition = json.loads(out.read_text())
    assert definition["States"]["Step2"]["ItemReader"]["Parameters"]["Key"] == "run1/shards.json"
    body = boto3.client("s3").get_object(Bucket="gwas-export-test", Key="run1/shards.json")["Body"].read()
    assert len(json.loads(body)) == 4  # 1,000 variants in chunks of 250
    summary = json.loads(
        boto3.client("s3").get_object(Bucket="gwas-export-test", Key="run1/manifest.json")["Body"].read()
    )
    assert summary["jobs"]["step2"] == 4 and summary["step2"]["variants_per_job"] == 250
    err = capsys.readouterr().err
    assert "job definition gwasflow-regenie-v4-1-2-1c-2048m-" in err and "step2 4" in err
    assert "4 variant chunks of <= 250 variants x 1 phenotype groups" in err
    assert ("placeholders: ${InstanceProfileArn} (--instance-profile-arn) and ${BatchServiceRoleArn} "
            "(--batch-service-role-arn): python -m gwasflow.export.cloudformation fills them") in err
    assert "cleanup machine (deletes what a stopped, timed-out or failed execution left): not written; " in err


def test_main_export__bad_settings_exit_2_and_write_nothing(regenie_example: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    path, out = _spec_file(tmp_path, regenie_example), tmp_path / "machine.json"
    assert main_export(path, "stepfunctions", out, ExportOptions(manifest="s3://b/p")) == 2
    assert capsys.readouterr().err.strip() == ("gwasflow export: no gwasflow container image: pass --image or set "
                                               "executor.settings.image (it runs the check, merge and report jobs)")
    assert main_export(path, "stepfunctions", out, ExportOptions()) == 2
    assert "no manifest location" in capsys.readouterr().err
    assert main_export(path, "airflow", out, ExportOptions()) == 2
    assert not out.exists()


@pytest.mark.parametrize(("options", "message"), [
    ({"job_queue": "gwas-spot"}, "gwasflow export: --job-queue: each execution makes its own job queue "
                                 "(<job-definition-prefix>-<execution name>); drop the option "
                                 "(--job-definition-prefix names the queue)"),
    ({"instance_profile_arn": "arn:aws:iam::123456789012:role/host"},
     "gwasflow export: --instance-profile-arn: 'arn:aws:iam::123456789012:role/host' is not an IAM instance-profile "
     "ARN (arn:aws:iam::<account>:instance-profile/<name>)"),
    ({"batch_service_role_arn": "AWSBatchServiceRole"},
     "gwasflow export: --batch-service-role-arn: 'AWSBatchServiceRole' is not an IAM role ARN "
     "(arn:aws:iam::<account>:role/<name>)"),
    ({"batch_service_role_arn": "arn:aws:iam::123456789012:role/batch\n"},
     "gwasflow export: --batch-service-role-arn: "),
    ({"job_definition_prefix": "gwas.flow"}, "gwasflow export: --job-definition-prefix: 'gwas.flow' is not 1-40 "
                                             "letters, digits, - or _ starting with a letter or digit"),
])  # fmt: skip
def test_main_export__refused_option_exits_2_in_one_line_and_writes_nothing(
    options: dict[str, Any], message: str, regenie_example: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, out = _spec_file(tmp_path, regenie_example), tmp_path / "machine.json"
    given = ExportOptions(image=fx.GWASFLOW_IMAGE, manifest="s3://b/p", **options)
    assert main_export(path, "stepfunctions", out, given) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith(message) and not out.exists()


def test_cli_export__options_reach_the_machine(aws_endpoint: str, regenie_example: Path, tmp_path: Path) -> None:
    import boto3

    from gwasflow.cli import main as cli_main

    boto3.client("s3").create_bucket(Bucket="gwas-export-cli")
    path, out = _spec_file(tmp_path, regenie_example), tmp_path / "machine.json"
    profile, role = "arn:aws:iam::123456789012:instance-profile/gwas-host", "arn:aws:iam::123456789012:role/batch"
    argv = ["export", str(path), "--image", fx.GWASFLOW_IMAGE, "--manifest", "s3://gwas-export-cli/run2",
            "--regenie-version", "3.6", "--failure-table", "other-table", "-o", str(out),
            "--instance-profile-arn", profile, "--batch-service-role-arn", role,
            "--cleanup-out", str(tmp_path / "cleanup.json")]
    assert cli_main(argv) == 0
    cleanup = json.loads((tmp_path / "cleanup.json").read_text())
    assert cleanup["StartAt"] == "Configure" and "FindFileSystem" in cleanup["States"]
    assert cleanup["States"]["Configure"]["Parameters"]["names"] == {
        "compute.$": "States.Format('gwasflow-{}', $.detail.name)"}  # the run machine's names, from the event
    states = json.loads(out.read_text())["States"]
    assert [c["StringEquals"] for c in states["ChooseVersion"]["Choices"]] == ["4.1.2", "3.6"]
    assert states["CountFailures"]["Parameters"]["TableName"] == "other-table"  # the option beats failure_log
    assert states["Step1"]["Parameters"]["JobQueue.$"] == "$.queue.arn"  # the run makes its own queue
    created = states["CreateComputeEnvironment"]["Parameters"]
    assert (created["ComputeResources"]["InstanceRole"], created["ServiceRole"]) == (profile, role)
    assert "${" not in out.read_text().replace("${!", "")  # no placeholder left: usable without the template
    assert cli_main([*argv, "--job-queue", "gwas-spot"]) == 2
    assert states["CreateAssociation"]["Parameters"]["DataRepositoryPath"] == fx.FSX["data_repository"]


def test_main_export__manifest_refused_by_s3_writes_no_definition(aws_endpoint: str, regenie_example: Path,
                                                                  tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                                  ) -> None:  # fmt: skip
    path, out = _spec_file(tmp_path, regenie_example), tmp_path / "machine.json"
    options = ExportOptions(image=fx.GWASFLOW_IMAGE, manifest="s3://no-such-bucket-here/run")
    assert main_export(path, "stepfunctions", out, options) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("gwasflow export: writing the manifest to s3://no-such-bucket-here/run: ")
    assert "NoSuchBucket" in err[0] and not out.exists()
    assert main_export(path, "stepfunctions", tmp_path / "nowhere" / "m.json", options) == 2
    assert capsys.readouterr().err.strip() == f"gwasflow export: --out: no folder {tmp_path / 'nowhere'}"


@pytest.mark.parametrize(("name", "usable"), [
    ("height-1700000000", True), ("Run_2-b9", True), ("a", True), ("x" * 80, True), ("x" * 81, False),
    ("run.1", False), ("run-", False), ("run_", False), ("h\u00f6he", False), ("", False), ("a b", False),
])  # fmt: skip
def test_execution_name_problem__batch_safe_names_only(name: str, usable: bool) -> None:
    problem = execution_name_problem(name)
    assert (problem is None) == usable
    if problem is not None:
        assert problem.startswith(f"execution name {name!r}: use letters, digits, - and _ only, ending in a letter")


def test_export_stepfunctions__name_is_checked_before_anything_is_made() -> None:
    states = fx.export().definition["States"]
    assert states["Config"]["Next"] == "CheckName" and states["NameUsable"]["Default"] == "CheckInput"
    split = states["CheckName"]["Parameters"]["other.$"]
    assert split.startswith("States.ArrayLength(States.StringSplit($.run_id, 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJ")
    assert states["BadName"]["Type"] == "Fail" and states["BadName"]["Error"] == "gwasflow.BadInput"
