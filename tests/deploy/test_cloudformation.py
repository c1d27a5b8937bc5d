"""The CloudFormation template: current on disk, cfn-lint clean, and deployed on a moto server on loopback.

moto creates every resource type the template uses (S3, DynamoDB, ECR, IAM roles and instance profile,
Batch compute environment, job queue and job definitions, Step Functions), with two quirks the
assertions allow for: it names a Batch compute environment, job queue and job definition after the
resource's logical id (it ignores ``JobQueueName`` and ``JobDefinitionName``), and it does not evaluate IAM
policies (cfn-lint checks their syntax; what each permission is for is in the README).
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import boto3
import cfnlint.api
import pytest
import yaml

from gwasflow.export.cfn_definition import definition_string, mount_path_of
from gwasflow.export.cloudformation import (
    BASE_TEMPLATE,
    JobDefinitionUse,
    build_template,
    job_definitions_of,
    main,
    render,
)
from gwasflow.export.sfn import Export
from tests.export import sfn_fixtures as fx

REPO_ROOT = Path(__file__).resolve().parents[2]
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gwasflow:latest"


def _export(**spec_fields: Any) -> Export:
    """The Step Functions export of the export tests' small FSx plan (table gwas-failures)."""
    return fx.export(fx.spec(**spec_fields), failure_table="gwas-failures", image=IMAGE)


@pytest.fixture(scope="module")
def machine() -> dict[str, Any]:
    """A definition as `gwasflow export --format stepfunctions` writes it, for the built-in engine."""
    return _export(engine={"kind": "builtin"}).definition


def _lint(template: dict[str, Any]) -> list[str]:
    return [str(m) for m in cfnlint.api.lint(render(template), regions=["us-east-1"])]


def test_render__committed_base_template_is_current() -> None:
    assert (REPO_ROOT / BASE_TEMPLATE).read_text() == render(build_template()), (
        "deploy/gwasflow.cfn.yaml is stale: python -m gwasflow.export.cloudformation -o deploy/gwasflow.cfn.yaml")


def test_build_template__cfn_lint_clean(machine: dict[str, Any]) -> None:
    assert _lint(build_template()) == []
    assert _lint(build_template(machine, image=IMAGE)) == []


def test_build_template__cfn_lint_catches_a_broken_template() -> None:
    broken = build_template()
    broken["Resources"]["JobQueue"]["Properties"]["Priority"] = "first"
    del broken["Resources"]["FailureTable"]["Properties"]["KeySchema"]
    assert len(_lint(broken)) >= 2


def test_build_template__embeds_the_exported_machine(machine: dict[str, Any]) -> None:
    template = build_template(machine, image=IMAGE)
    resources, params = template["Resources"], template["Parameters"]
    text = resources["StateMachine"]["Properties"]["DefinitionString"]["Fn::Sub"]
    assert json.loads(text.replace("${InstanceProfile.Arn}", "${InstanceProfileArn}").replace(
        "${BatchServiceRole.Arn}", "${BatchServiceRoleArn}")) == machine  # the placeholders: the stack's ARNs
    assert "${InstanceProfile.Arn}" in text and "${BatchServiceRole.Arn}" in text
    assert "Condition" not in resources["InstanceProfile"]  # each run's compute environment is EC2
    assert params["JobQueueName"]["Default"] == "gwasflow"  # the machine names no queue: each run makes its own
    assert params["FailureTableName"]["Default"] == "gwas-failures"
    assert params["ImageUri"]["Default"] == IMAGE
    literal = {t["Parameters"]["JobDefinition"] for t in _tasks(machine) if "JobDefinition" in t.get("Parameters", {})}
    chosen = {n for s in machine["States"].values() if s.get("ResultPath") == "$.jobdefs" for n in s["Result"].values()}
    registered = {r["Properties"]["JobDefinitionName"] for r in resources.values()
                  if r["Type"] == "AWS::Batch::JobDefinition"}  # fmt: skip
    assert literal and chosen and registered == literal | chosen
    policy = resources["StateMachineRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    actions = {a for s in policy for a in s["Action"]}
    assert {"batch:SubmitJob", "batch:DescribeJobs", "batch:TerminateJob", "events:PutTargets", "events:PutRule",
            "events:DescribeRule", "dynamodb:PutItem", "dynamodb:Query", "s3:GetObject", "s3:PutObject",
            "s3:ListBucket", "fsx:CreateFileSystem", "fsx:CreateDataRepositoryAssociation",
            "fsx:DescribeFileSystems", "fsx:DeleteFileSystem", "fsx:DeleteDataRepositoryAssociation",
            "fsx:CreateDataRepositoryTask", "fsx:DescribeDataRepositoryTasks",  # ExportResults
            "iam:CreateServiceLinkedRole", "states:StartExecution"} <= actions  # fmt: skip
    assert all(s["Resource"] != "*" for s in policy if set(s["Action"]) & {"batch:SubmitJob", "dynamodb:PutItem"})
    by_action = {a: s for s in policy for a in s["Action"]}
    per_run = [{"Fn::Sub": "arn:${AWS::Partition}:batch:${AWS::Region}:${AWS::AccountId}:compute-environment/"
                           "${JobDefinitionPrefix}-*"},
               {"Fn::Sub": "arn:${AWS::Partition}:batch:${AWS::Region}:${AWS::AccountId}:job-queue/"
                           "${JobDefinitionPrefix}-*"}]  # fmt: skip
    for action in ("batch:CreateComputeEnvironment", "batch:UpdateComputeEnvironment", "batch:DeleteComputeEnvironment",
                   "batch:CreateJobQueue", "batch:UpdateJobQueue", "batch:DeleteJobQueue", "batch:TagResource"):
        assert by_action[action]["Resource"] == per_run, action
    assert by_action["iam:PassRole"]["Resource"] == [{"Fn::GetAtt": ["InstanceRole", "Arn"]},
                                                     {"Fn::GetAtt": ["BatchServiceRole", "Arn"]}]
    tagged = {"Null": {"aws:RequestTag/gwasflow:execution": "false"}}
    assert by_action["ec2:CreateLaunchTemplate"]["Condition"] == tagged  # only launch templates tagged as a run's
    assert by_action["ec2:DeleteLaunchTemplate"]["Condition"] == {
        "Null": {"aws:ResourceTag/gwasflow:execution": "false"}}  # fmt: skip
    jobdef = next(r for r in resources.values() if r["Type"] == "AWS::Batch::JobDefinition")["Properties"]
    assert jobdef["PlatformCapabilities"] == ["EC2"]
    assert jobdef["ContainerProperties"]["Volumes"] == [{"Name": "lustre", "Host": {"SourcePath": "/fsx"}}]
    assert jobdef["ContainerProperties"]["MountPoints"] == [{"SourceVolume": "lustre", "ContainerPath": "/fsx"}]


def test_build_template__machine_role_allows_every_sdk_call_of_the_machine(machine: dict[str, Any]) -> None:
    """Each ``aws-sdk:<service>:<action>`` task of the machine has ``<service>:<Action>`` in the role's policy."""
    policy = build_template(machine, image=IMAGE)["Resources"]["StateMachineRole"]["Properties"]["Policies"][0]
    allowed = {a for s in policy["PolicyDocument"]["Statement"] for a in s["Action"]}
    calls = set()
    for task in _tasks(machine):
        service, _, action = task["Resource"].removeprefix("arn:aws:states:::aws-sdk:").partition(":")
        if task["Resource"].startswith("arn:aws:states:::aws-sdk:"):
            calls.add(f"{service}:{action[0].upper()}{action[1:]}")
    assert {"ec2:CreateLaunchTemplate", "batch:CreateJobQueue", "fsx:CreateDataRepositoryTask"} <= calls
    assert calls - allowed == set()


def test_definition_string__escapes_every_other_dollar_brace() -> None:
    text = definition_string({"a": "${HOME}/x", "b": "${InstanceProfileArn}", "c": "$$.Execution.Name"})["Fn::Sub"]
    assert json.loads(text) == {"a": "${!HOME}/x", "b": "${InstanceProfile.Arn}",  # CloudFormation writes ${HOME}
                                "c": "$$.Execution.Name"}  # fmt: skip


def test_mount_path_of__the_machines_user_data(machine: dict[str, Any]) -> None:
    assert mount_path_of(machine) == "/fsx"  # workspace.fsx.mount_path of the export tests' spec
    moved = json.loads(json.dumps(machine).replace("- mkdir -p /fsx\\n", "- mkdir -p /lustre\\n"))
    assert mount_path_of(moved) == "/lustre"
    volumes = {json.dumps(r["Properties"]["ContainerProperties"]["Volumes"])
               for r in build_template(moved, image=IMAGE)["Resources"].values()
               if r["Type"] == "AWS::Batch::JobDefinition"}  # fmt: skip
    assert volumes == {json.dumps([{"Name": "lustre", "Host": {"SourcePath": "/lustre"}}])}


def test_build_template__job_definitions_each_with_its_image() -> None:
    """engine: regenie: step 1 and 2 run in the regenie image of each version, QC and finishing in gwasflow's."""
    export = _export()
    template = build_template(export.definition, job_definitions=export.job_definitions.needed)
    images = {r["Properties"]["JobDefinitionName"]: r["Properties"]["ContainerProperties"]["Image"]
              for r in template["Resources"].values() if r["Type"] == "AWS::Batch::JobDefinition"}  # fmt: skip
    assert images == {d["name"]: d["image"] for d in export.job_definitions.needed}
    regenie = {i for i in images.values() if i != IMAGE}
    assert IMAGE in images.values() and len(regenie) == 1 and regenie.pop().startswith(fx.IMAGE)
    with pytest.raises(ValueError, match="named by the machine but not in --job-definitions"):
        build_template(export.definition, job_definitions=export.job_definitions.needed[1:])
    assert _lint(template) == []


def _tasks(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        own = [node] if node.get("Type") == "Task" else []
        return own + [t for v in node.values() for t in _tasks(v)]
    if isinstance(node, list):
        return [t for v in node for t in _tasks(v)]
    return []


def test_build_template__without_definition_has_no_machine() -> None:
    resources = build_template()["Resources"]
    assert "StateMachine" not in resources and "StateMachineRole" not in resources
    assert not [r for r in resources.values() if r["Type"] == "AWS::Batch::JobDefinition"]
    assert {"DataBucket", "FailureTable", "ImageRepository", "ComputeEnvironment", "JobQueue", "JobRole",
            "ExecutionRole", "BatchServiceRole"} <= set(resources)  # fmt: skip


def _batch_task(definition: str, vcpus: str = "2", memory: str = "4096", queue: str = "q") -> dict[str, Any]:
    return {"Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync", "End": True, "Parameters": {
        "JobQueue": queue, "JobDefinition": definition, "JobName": "j",
        "ContainerOverrides": {"ResourceRequirements": [{"Type": "VCPU", "Value": vcpus},
                                                        {"Type": "MEMORY", "Value": memory}]}}}  # fmt: skip


def test_job_definitions_of__names_and_resources_inside_a_map() -> None:
    inner = {"StartAt": "B", "States": {"B": _batch_task("gwasflow-x-2c-4096m-abc")}}
    definition = {"StartAt": "A", "States": {
        "A": {**_batch_task("gwasflow-x-1c-2048m-def", "1", "2048"), "End": False, "Next": "M"},
        "M": {"Type": "Map", "ItemProcessor": inner, "End": True}}}  # fmt: skip
    uses = job_definitions_of(definition)
    assert [(u.name, u.vcpus, u.memory_mb) for u in uses] == [("gwasflow-x-1c-2048m-def", 1, 2048),
                                                   ("gwasflow-x-2c-4096m-abc", 2, 4096)]  # fmt: skip


def test_job_definitions_of__refuses_a_definition_chosen_at_run_time() -> None:
    task = _batch_task("x")
    task["Parameters"]["JobDefinition.$"] = task["Parameters"].pop("JobDefinition")
    with pytest.raises(ValueError, match=r"chosen at run time .* no Pass state into"):
        job_definitions_of({"StartAt": "A", "States": {"A": task}})
    chooser = {"Type": "Pass", "Result": {"step1": "gwasflow-img-2c-4096m-0123456789"}, "ResultPath": "$.jobdefs",
               "Next": "A"}
    assert job_definitions_of({"StartAt": "P", "States": {"P": chooser, "A": task}}) == [
        JobDefinitionUse("gwasflow-img-2c-4096m-0123456789", 2, 4096)]
    task["Parameters"]["JobDefinition"] = task["Parameters"].pop("JobDefinition.$") + " is not a name!"
    with pytest.raises(ValueError, match="JobDefinition is not a literal name"):
        job_definitions_of({"StartAt": "A", "States": {"A": task}})
    with pytest.raises(ValueError, match="no integer VCPU and MEMORY"):
        job_definitions_of({"StartAt": "A", "States": {"A": _batch_task("x", memory="lots")}})


def test_build_template__refuses_two_queues_or_no_image() -> None:
    two = {"StartAt": "A", "States": {"A": {**_batch_task("d1", queue="q1"), "End": False, "Next": "B"},
                                      "B": _batch_task("d2", queue="q2")}}  # fmt: skip
    with pytest.raises(ValueError, match=r"more than one job queue: \['q1', 'q2'\]"):
        build_template(two, image=IMAGE)
    with pytest.raises(ValueError, match="need an image"):
        build_template({"StartAt": "A", "States": {"A": _batch_task("d1")}})


def test_main__bad_definition_file_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "machine.json"
    bad.write_text('{"StartAt": "A",\n "States": }')
    out = tmp_path / "stack.yaml"
    assert main(["--definition", str(bad), "--image", IMAGE, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err and "line 2" in err
    bad.write_text('{"Comment": "no states"}')
    assert main(["--definition", str(bad), "--image", IMAGE, "-o", str(out)]) == 2
    assert "not a state machine definition" in capsys.readouterr().err
    assert main(["--definition", str(tmp_path / "missing.json"), "-o", str(out)]) == 2
    assert "missing.json" in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_main__writes_the_template(tmp_path: Path, machine: dict[str, Any]) -> None:
    (tmp_path / "machine.json").write_text(json.dumps(machine))
    out = tmp_path / "stack.yaml"
    assert main(["--definition", str(tmp_path / "machine.json"), "--image", IMAGE, "-o", str(out)]) == 0
    assert yaml.safe_load(out.read_text()) == build_template(machine, image=IMAGE)


def _network(region: str) -> tuple[str, str]:
    ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="gwasflow-jobs", Description="jobs", VpcId=vpc)["GroupId"]
    return subnet, group


def _deploy(region: str, body: str, params: dict[str, str]) -> dict[str, Any]:
    cfn = boto3.client("cloudformation", region_name=region)
    stack_id = cfn.create_stack(StackName="gwasflow", TemplateBody=body, Capabilities=["CAPABILITY_IAM"],
                                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()]
                                )["StackId"]  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        stack: dict[str, Any] = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return stack
        time.sleep(0.2)


def _substituted(machine: dict[str, Any], region: str) -> dict[str, Any]:
    """The machine with the stack's instance profile and Batch service role ARNs in place of the placeholders."""
    cfn, iam = boto3.client("cloudformation", region_name=region), boto3.client("iam", region_name=region)

    made = {r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cfn.list_stack_resources(StackName="gwasflow")["StackResourceSummaries"]}  # fmt: skip

    def physical(logical: str) -> str:
        return str(made[logical])

    # (found through its role: after an update moto lists the instance profile without its logical id)
    profile = iam.list_instance_profiles_for_role(RoleName=physical("InstanceRole"))["InstanceProfiles"][0]["Arn"]
    service = iam.get_role(RoleName=physical("BatchServiceRole"))["Role"]["Arn"]
    text = json.dumps(machine).replace("${InstanceProfileArn}", profile).replace("${BatchServiceRoleArn}", service)
    assert "${" not in text
    return dict(json.loads(text))


def _assert_cleanup_rule(region: str, outputs: dict[str, str], made: dict[str, str]) -> None:
    """The deployed rule matches the run machine's stopped executions and targets the cleanup machine."""
    events = boto3.client("events", region_name=region)
    rule = events.describe_rule(Name=made["CleanupRule"])
    pattern = json.loads(rule["EventPattern"])
    assert pattern["detail"] == {"stateMachineArn": [outputs["StateMachineArn"]],
                                 "status": ["ABORTED", "TIMED_OUT", "FAILED"]}  # fmt: skip
    targets = events.list_targets_by_rule(Rule=made["CleanupRule"])["Targets"]
    assert [t["Arn"] for t in targets] == [outputs["CleanupStateMachineArn"]]
    role = boto3.client("iam", region_name=region).get_role(RoleName=made["CleanupRuleRole"])["Role"]["Arn"]
    assert targets[0]["RoleArn"] == role


LUSTRE = {"LustreDnsName": "fs-0123456789abcdef0.fsx.eu-west-1.amazonaws.com", "LustreMountName": "abcdefgh"}


@pytest.mark.parametrize(("compute", "region"), [("FARGATE", "us-east-1"), ("SPOT", "eu-west-1")])
def test_stack__create_complete_on_moto(aws_endpoint: str, machine: dict[str, Any], compute: str, region: str) -> None:
    subnet, group = _network(region)
    params = {"ComputeType": compute, "SubnetIds": subnet, "SecurityGroupIds": group}
    if compute == "SPOT":
        params.update(LUSTRE)  # hosts mount the file system; job definitions map it into the containers
    stack = _deploy(region, render(build_template(machine, image=IMAGE)), params)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}

    table = boto3.client("dynamodb", region_name=region).describe_table(TableName="gwas-failures")["Table"]
    assert {(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]} == {("run_id", "HASH"),
                                                                                 ("failure_id", "RANGE")}
    assert outputs["FailureTable"] == "gwas-failures"
    batch = boto3.client("batch", region_name=region)
    queue = batch.describe_job_queues(jobQueues=[outputs["JobQueueArn"]])["jobQueues"][0]
    assert queue["state"] == "ENABLED" and len(queue["computeEnvironmentOrder"]) == 1
    env = batch.describe_compute_environments(computeEnvironments=[queue["computeEnvironmentOrder"][0]
                                                                   ["computeEnvironment"]])["computeEnvironments"]
    assert env[0]["computeResources"]["type"] == compute
    names = {u.name for u in job_definitions_of(machine)}  # other tests' definitions share moto's us-east-1
    definitions = [d for d in batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"]
                   if d["jobDefinitionName"] in names or d["jobDefinitionName"].startswith("JobDefinition")]
    assert [d["containerProperties"]["image"] for d in definitions] == [IMAGE] * len(names)
    assert all(d["containerProperties"]["mountPoints"] == [{"sourceVolume": "lustre", "containerPath": "/fsx"}]
               for d in definitions)  # fmt: skip
    if compute == "SPOT":
        template_id = env[0]["computeResources"]["launchTemplate"]["launchTemplateId"]
        data = boto3.client("ec2", region_name=region).describe_launch_template_versions(
            LaunchTemplateId=template_id)["LaunchTemplateVersions"][0]["LaunchTemplateData"]  # fmt: skip
        user_data = base64.b64decode(data["UserData"]).decode()
        assert f"mount -t lustre -o relatime,flock {LUSTRE['LustreDnsName']}@tcp:/abcdefgh /fsx" in user_data
    else:
        assert "launchTemplate" not in env[0]["computeResources"]
    sfn = boto3.client("stepfunctions", region_name=region)
    described = sfn.describe_state_machine(stateMachineArn=outputs["StateMachineArn"])
    assert json.loads(described["definition"]) == _substituted(machine, region)
    role = described["roleArn"].rsplit("/", 1)[-1]
    iam = boto3.client("iam", region_name=region)
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["gwasflow"]
    document = iam.get_role_policy(RoleName=role, PolicyName="gwasflow")["PolicyDocument"]
    text = document if isinstance(document, str) else json.dumps(document)  # moto keeps it as a Python repr
    made = {r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in boto3.client("cloudformation", region_name=region).list_stack_resources(
                StackName="gwasflow")["StackResourceSummaries"]}  # fmt: skip
    passed = [iam.get_role(RoleName=made[n])["Role"]["Arn"] for n in ("InstanceRole", "BatchServiceRole")]
    assert "iam:PassRole" in text and all(arn in text for arn in passed)  # the GetAtts resolved to the two roles
    _assert_cleanup_rule(region, outputs, made)
    assert boto3.client("s3", region_name=region).head_bucket(Bucket=outputs["Bucket"])
    repo = boto3.client("ecr", region_name=region).describe_repositories(repositoryNames=["gwasflow"])
    assert repo["repositories"][0]["repositoryUri"] == outputs["ImageRepositoryUri"]


def test_stack__base_template_without_machine_on_moto(aws_endpoint: str) -> None:
    region = "us-west-2"
    subnet, group = _network(region)
    stack = _deploy(region, (REPO_ROOT / BASE_TEMPLATE).read_text(),
                    {"SubnetIds": subnet, "SecurityGroupIds": group, "BucketName": "existing-data"})  # fmt: skip
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["Bucket"] == "existing-data" and "StateMachineArn" not in outputs
    assert boto3.client("stepfunctions", region_name=region).list_state_machines()["stateMachines"] == []
    job_role = outputs["JobRoleArn"].rsplit("/", 1)[-1]
    policy = boto3.client("iam", region_name=region).get_role_policy(RoleName=job_role, PolicyName="gwasflow")
    assert "s3:::existing-data/*" in json.dumps(policy["PolicyDocument"])


def test_stack__machine_template_updates_the_base_stack(aws_endpoint: str, machine: dict[str, Any]) -> None:
    """The README's order: deploy the base template, then the generated one over the same stack."""
    region = "ap-southeast-2"
    subnet, group = _network(region)
    params = {"SubnetIds": subnet, "SecurityGroupIds": group, "JobQueueName": "gwas-queue",
              "FailureTableName": "gwas-failures"}  # fmt: skip
    stack = _deploy(region, (REPO_ROOT / BASE_TEMPLATE).read_text(), params)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    cfn = boto3.client("cloudformation", region_name=region)
    cfn.update_stack(StackName="gwasflow", TemplateBody=render(build_template(machine, image=IMAGE)),
                     Capabilities=["CAPABILITY_IAM"],
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])  # fmt: skip
    deadline = time.monotonic() + 60
    while (stack := cfn.describe_stacks(StackName="gwasflow")["Stacks"][0])["StackStatus"].endswith("_IN_PROGRESS"):
        assert time.monotonic() < deadline, "the update did not finish in 60 s"
        time.sleep(0.2)
    assert stack["StackStatus"] == "UPDATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    described = boto3.client("stepfunctions", region_name=region).describe_state_machine(
        stateMachineArn=outputs["StateMachineArn"])  # fmt: skip
    assert json.loads(described["definition"]) == _substituted(machine, region)
    queues = boto3.client("batch", region_name=region).describe_job_queues()["jobQueues"]
    assert len(queues) == 1, "the update kept the one queue"
