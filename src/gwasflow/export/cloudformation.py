"""An AWS CloudFormation template for running gwasflow's exported state machine on AWS Batch.

One stack holds what a run on AWS needs::

    DataBucket (or an existing bucket)   manifests, inputs, results; the state machine reads and writes it
    FailureTable (DynamoDB)              failure records: key run_id (HASH) + failure_id (RANGE), as in
                                         engine/failure_log.py and the export's putItem
    ImageRepository (ECR)                the gwasflow image (deploy/Containerfile)
    BatchServiceRole, ComputeEnvironment (FARGATE, FARGATE_SPOT, EC2 or SPOT), JobQueue: for the
                                         aws_batch executor (gwasflow run); the machine makes its own
    InstanceRole + InstanceProfile       the Batch hosts' ECS agent (EC2 and SPOT; always with a machine,
                                         whose per-run compute environments use them)
    LaunchTemplate                       EC2 and SPOT with LustreDnsName: hosts mount an FSx for Lustre file
                                         system at LustreMountPath (Fargate cannot mount Lustre)
    JobRole, ExecutionRole               the containers' S3/DynamoDB access; image pull and logs
    JobDefinitions                       one per definition the machine names, in the image given, EC2,
                                         with the machine's Lustre mount path as a host volume
    StateMachineRole, StateMachine       only when a definition is given
    CleanupRule (+ role), CleanupStateMachine (+ role)    with a definition: an execution stopped by hand,
                                         timed out or failed by Step Functions starts the cleanup machine,
                                         which deletes what it left (cfn_cleanup.py)

:func:`build_template` without a definition gives the base stack (no state machine, no job definitions):
``deploy/gwasflow.cfn.yaml`` is that template, written by :func:`main` and kept equal to it by a test.
With the JSON written by ``gwasflow export --format stepfunctions``, the template embeds it as the
machine's ``DefinitionString`` (an ``Fn::Sub`` that puts the stack's InstanceProfile and
BatchServiceRole ARNs where the export left ``${InstanceProfileArn}`` and ``${BatchServiceRoleArn}``:
each run's compute environment uses them), registers the Batch job definitions its tasks name (with ``image``), and
takes as parameter defaults the job queue and failure table the definition names, so a stack deployed
from it matches the export. Deploying that template over the base stack adds the machine.

The state machine's role holds only what the machine calls: a run's launch template (tagged), compute
environment and job queue named ``<prefix>-*`` and ``iam:PassRole`` of the two roles they use, Batch
jobs on those queues and on job definitions named ``<prefix>-*`` (``.sync`` through the
``StepFunctionsGetEventsForBatchJobsRule`` rule), DynamoDB
``PutItem``/``Query`` on the table, S3 on the bucket, FSx for Lustre file systems and data repository
associations (with the service-linked roles FSx needs to create), and its own executions (Distributed
Map child workflows); the roles are built in ``cfn_iam.py``. The README section "Run it on AWS" explains
each permission.

    python -m gwasflow.export.cloudformation [--definition MACHINE.json --image URI] [-o OUT.yaml]

Exit status 2 on a bad definition file, with one line naming the file and what is wrong; the output is
written through a temporary name and renamed, so a failed call publishes nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from gwasflow.core.atomic import write_atomic
from gwasflow.export.cfn_cleanup import cleanup_for, cleanup_resources
from gwasflow.export.cfn_definition import (
    BATCH_SUBMIT,
    DYNAMODB_PREFIX,
    JobDefinitionUse,
    definition_string,
    job_definitions_of,
    mount_path_of,
    named,
)
from gwasflow.export.cfn_iam import BUCKET, job_roles, machine_role, role

__all__ = ["BASE_TEMPLATE", "JobDefinitionUse", "build_template", "job_definitions_of", "main", "mount_path_of",
           "render"]

BASE_TEMPLATE = "deploy/gwasflow.cfn.yaml"
_LOGICAL_UNSAFE = re.compile(r"[^A-Za-z0-9]+")
Json = dict[str, Any]


def _parameters(queue: str, table: str) -> Json:
    def param(kind: str, text: str, **more: Any) -> Json:
        return {"Type": kind, "Description": text, **more}

    name_pattern = "^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
    return {
        "ComputeType": param("String", "Batch compute: FARGATE, FARGATE_SPOT, EC2 or SPOT (EC2 Spot instances)",
                             Default="EC2", AllowedValues=["FARGATE", "FARGATE_SPOT", "EC2", "SPOT"]),
        "MaxVcpus": param("Number", "most vCPUs the compute environment runs at once", Default=256, MinValue=1),
        "SubnetIds": param("List<AWS::EC2::Subnet::Id>", "subnets of the Batch jobs (and of FSx file systems)"),
        "SecurityGroupIds": param("List<AWS::EC2::SecurityGroup::Id>",
                                  "security groups of the jobs: outbound HTTPS (ECR, S3), Lustre TCP 988 for FSx"),
        "JobQueueName": param("String", "the stack's Batch job queue (executor.settings.job_queue of gwasflow run); "
                              "the exported machine makes its own per execution",
                              Default=queue, AllowedPattern=name_pattern),
        "FailureTableName": param("String", "DynamoDB failure table; the spec's failure_log: dynamodb:<name>",
                                  Default=table, AllowedPattern="^[A-Za-z0-9_.-]{3,255}$"),
        "BucketName": param("String", "an existing bucket for data and results; empty: the stack creates one",
                            Default=""),
        "LustreDnsName": param("String", "EC2/SPOT: DNS name of an FSx for Lustre file system the hosts mount "
                               "(fs-....fsx.<region>.amazonaws.com); empty: no mount", Default=""),
        "LustreMountName": param("String", "its mount name (aws fsx describe-file-systems: MountName)", Default=""),
        "LustreMountPath": param("String", "where hosts and containers see it: the spec's workdir lives under it",
                                 Default="/fsx", AllowedPattern="^/[A-Za-z0-9_./-]*$"),
        "ImageRepositoryName": param("String", "ECR repository the stack creates for the gwasflow image",
                                     Default="gwasflow", AllowedPattern="^[a-z0-9][a-z0-9._/-]{1,255}$"),
    }  # fmt: skip


# Parameters of the machine and its job definitions (in the template only with a definition).
_MACHINE_PARAMETERS: Json = {
    "JobDefinitionPrefix": {"Type": "String", "Default": "gwasflow",
                            "AllowedPattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$",
                            "Description": "prefix of the Batch job definition names and of each run's compute "
                                           "environment and job queue (export --job-definition-prefix)"},
    "StateMachineName": {"Type": "String", "Description": "name of the state machine (the cleanup machine: "
                                                          "<name>-cleanup)", "Default": "gwasflow",
                         "AllowedPattern": "^[A-Za-z0-9_-]{1,72}$"},
}  # fmt: skip


def _conditions() -> Json:
    fargate = {"Fn::Or": [{"Fn::Equals": [{"Ref": "ComputeType"}, t]} for t in ("FARGATE", "FARGATE_SPOT")]}
    return {
        "IsFargate": fargate,
        "IsEc2": {"Fn::Not": [{"Condition": "IsFargate"}]},
        "IsSpot": {"Fn::Equals": [{"Ref": "ComputeType"}, "SPOT"]},
        "CreateBucket": {"Fn::Equals": [{"Ref": "BucketName"}, ""]},
        "MountLustre": {"Fn::And": [{"Condition": "IsEc2"},
                                    {"Fn::Not": [{"Fn::Equals": [{"Ref": "LustreDnsName"}, ""]}]}]},
    }


def _storage() -> Json:
    retain = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    return {
        "DataBucket": {"Type": "AWS::S3::Bucket", "Condition": "CreateBucket", **retain, "Properties": {
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
            "PublicAccessBlockConfiguration": {k: True for k in (
                "BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")},
        }},
        "FailureTable": {"Type": "AWS::DynamoDB::Table", **retain, "Properties": {
            "TableName": {"Ref": "FailureTableName"},
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "run_id", "AttributeType": "S"},
                                     {"AttributeName": "failure_id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "run_id", "KeyType": "HASH"},
                          {"AttributeName": "failure_id", "KeyType": "RANGE"}],
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        }},
        "ImageRepository": {"Type": "AWS::ECR::Repository", **retain, "Properties": {
            "RepositoryName": {"Ref": "ImageRepositoryName"},
            "ImageScanningConfiguration": {"ScanOnPush": True},
        }},
    }  # fmt: skip


# EC2/SPOT hosts mount the FSx for Lustre file system at boot (Batch wants MIME multi-part user data).
_LUSTRE_USER_DATA = """MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="==GWASFLOW=="

--==GWASFLOW==
Content-Type: text/cloud-config; charset="us-ascii"

runcmd:
- dnf install -y lustre-client || amazon-linux-extras install -y lustre
- mkdir -p ${LustreMountPath}
- mount -t lustre -o relatime,flock ${LustreDnsName}@tcp:/${LustreMountName} ${LustreMountPath}

--==GWASFLOW==--
"""


def _compute(with_machine: bool) -> Json:
    no = {"Ref": "AWS::NoValue"}
    template = {"LaunchTemplateId": {"Ref": "LaunchTemplate"},
                "Version": {"Fn::GetAtt": ["LaunchTemplate", "LatestVersionNumber"]}}  # fmt: skip

    def ec2_only(value: Any) -> Json:
        return {"Fn::If": ["IsEc2", value, no]}

    strategy = {"Fn::If": ["IsSpot", "SPOT_PRICE_CAPACITY_OPTIMIZED", "BEST_FIT_PROGRESSIVE"]}
    return {
        "BatchServiceRole": role("batch.amazonaws.com", managed=["service-role/AWSBatchServiceRole"]),
        # the machine's per-run compute environments are EC2 whatever ComputeType says: their hosts mount Lustre
        "InstanceRole": {**role("ec2.amazonaws.com", managed=["service-role/AmazonEC2ContainerServiceforEC2Role"]),
                         **({} if with_machine else {"Condition": "IsEc2"})},
        "InstanceProfile": {"Type": "AWS::IAM::InstanceProfile", **({} if with_machine else {"Condition": "IsEc2"}),
                            "Properties": {"Roles": [{"Ref": "InstanceRole"}]}},
        "LaunchTemplate": {"Type": "AWS::EC2::LaunchTemplate", "Condition": "MountLustre", "Properties": {
            "LaunchTemplateData": {"UserData": {"Fn::Base64": {"Fn::Sub": _LUSTRE_USER_DATA}}}}},
        "ComputeEnvironment": {"Type": "AWS::Batch::ComputeEnvironment", "Properties": {
            "Type": "MANAGED",
            "ServiceRole": {"Fn::GetAtt": ["BatchServiceRole", "Arn"]},
            "ComputeResources": {
                "Type": {"Ref": "ComputeType"},
                "MaxvCpus": {"Ref": "MaxVcpus"},
                "Subnets": {"Ref": "SubnetIds"},
                "SecurityGroupIds": {"Ref": "SecurityGroupIds"},
                "MinvCpus": ec2_only(0),
                "InstanceTypes": ec2_only(["optimal"]),
                "InstanceRole": ec2_only({"Fn::GetAtt": ["InstanceProfile", "Arn"]}),
                "AllocationStrategy": ec2_only(strategy),
                "LaunchTemplate": {"Fn::If": ["MountLustre", template, no]},
            },
        }},
        "JobQueue": {"Type": "AWS::Batch::JobQueue", "Properties": {
            "JobQueueName": {"Ref": "JobQueueName"},
            "Priority": 1,
            "ComputeEnvironmentOrder": [{"Order": 1, "ComputeEnvironment": {"Ref": "ComputeEnvironment"}}],
        }},
    }  # fmt: skip


def _job_definition(use: JobDefinitionUse, mount_path: str) -> Json:
    """A job definition of the machine: EC2 (the run's compute environment), the host's Lustre mount as a volume."""
    return {"Type": "AWS::Batch::JobDefinition", "Properties": {
        "JobDefinitionName": use.name,
        "Type": "container",
        "PlatformCapabilities": ["EC2"],
        "RetryStrategy": {"Attempts": 1},
        "ContainerProperties": {
            "Image": use.image or {"Ref": "ImageUri"},
            "Command": ["gwasflow", "--help"],
            "JobRoleArn": {"Fn::GetAtt": ["JobRole", "Arn"]},
            "ExecutionRoleArn": {"Fn::GetAtt": ["ExecutionRole", "Arn"]},
            "ResourceRequirements": [{"Type": "VCPU", "Value": str(use.vcpus)},
                                     {"Type": "MEMORY", "Value": str(use.memory_mb)}],
            "Volumes": [{"Name": "lustre", "Host": {"SourcePath": mount_path}}],
            "MountPoints": [{"SourceVolume": "lustre", "ContainerPath": mount_path}],
        },
    }}  # fmt: skip


def _state_machine(definition: Mapping[str, Any]) -> Json:
    return {
        "StateMachineRole": machine_role(),
        "StateMachine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "StateMachineName": {"Ref": "StateMachineName"},
            "StateMachineType": "STANDARD",
            "RoleArn": {"Fn::GetAtt": ["StateMachineRole", "Arn"]},
            "DefinitionString": definition_string(definition),
        }},
    }  # fmt: skip


def _outputs(with_machine: bool) -> Json:
    out: Json = {
        "Bucket": {"Description": "bucket of manifests, inputs and results", "Value": BUCKET},
        "JobQueueArn": {"Value": {"Ref": "JobQueue"}},
        "FailureTable": {"Value": {"Ref": "FailureTable"}},
        "ImageRepositoryUri": {"Value": {"Fn::GetAtt": ["ImageRepository", "RepositoryUri"]}},
        "JobRoleArn": {"Value": {"Fn::GetAtt": ["JobRole", "Arn"]}},
    }
    if with_machine:
        out["StateMachineArn"] = {"Value": {"Ref": "StateMachine"}}
        out["CleanupStateMachineArn"] = {"Value": {"Ref": "CleanupStateMachine"}}
    return out


def build_template(definition: Mapping[str, Any] | None = None, *, image: str | None = None,
                   job_definitions: Sequence[Mapping[str, Any]] | None = None,
                   cleanup: Mapping[str, Any] | None = None) -> Json:
    """The stack as a CloudFormation document; with ``definition``, the machine and its job definitions.

    ``job_definitions`` (``gwasflow export --job-definitions-out``: name, image, vcpus, memory_mb each)
    give every definition its own image (a regenie image per version, the gwasflow image for QC and the
    finishing jobs); without them every definition uses ``image``. ValueError when a definition names job
    definitions that neither covers, or more than one job queue or failure table (one stack holds one of each).
    """
    queue, table = "gwasflow", "gwasflow-failures"
    resources: Json = {**_storage(), **_compute(definition is not None), **job_roles()}
    params: Json
    if definition is None:
        params = _parameters(queue, table)
    else:
        queues = named(definition, "JobQueue", BATCH_SUBMIT)
        tables = named(definition, "TableName", DYNAMODB_PREFIX)
        for what, names in (("job queue", queues), ("failure table", tables)):
            if len(names) > 1:
                raise ValueError(f"the definition names more than one {what}: {sorted(names)}")
        params = _parameters(min(queues, default=queue), min(tables, default=table))
        params.update(_MACHINE_PARAMETERS)
        uses = _uses(definition, image, job_definitions)
        if any(use.image is None for use in uses) or not uses:
            params["ImageUri"] = {"Type": "String", "Description": "container image of the jobs (deploy/Containerfile)",
                                  "Default": image or ""}  # fmt: skip
        mount_path = mount_path_of(definition)
        for use in uses:
            resources[f"JobDefinition{_LOGICAL_UNSAFE.sub('', use.name.title())}"] = _job_definition(use, mount_path)
        resources.update(_state_machine(definition))
        resources.update(cleanup_resources(cleanup_for(definition) if cleanup is None else cleanup))
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "gwasflow: regenie GWAS runs on AWS Batch driven by AWS Step Functions",
        "Parameters": params,
        "Conditions": _conditions(),
        "Resources": resources,
        "Outputs": _outputs(definition is not None),
    }


class _PlainDumper(yaml.SafeDumper):
    """YAML without anchors and aliases (CloudFormation rejects aliases)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(template: Mapping[str, Any]) -> str:
    """The template as YAML, keys in the order built."""
    head = "# Generated by `python -m gwasflow.export.cloudformation`; see src/gwasflow/export/cloudformation.py.\n"
    return head + yaml.dump(dict(template), Dumper=_PlainDumper, sort_keys=False, width=120)


def _uses(definition: Mapping[str, Any], image: str | None,
          job_definitions: Sequence[Mapping[str, Any]] | None) -> list[JobDefinitionUse]:
    uses = job_definitions_of(definition)
    if job_definitions is None:
        if uses and not image:
            raise ValueError("the definition's Batch tasks need an image: pass --image or --job-definitions")
        return uses
    given = {str(d["name"]): JobDefinitionUse(str(d["name"]), int(d["vcpus"]), int(d["memory_mb"]), str(d["image"]))
             for d in job_definitions}  # fmt: skip
    missing = sorted({u.name for u in uses} - set(given))
    if missing:
        raise ValueError(f"job definition {missing[0]}: named by the machine but not in --job-definitions")
    return [given[u.name] for u in uses]


def _load_definition(path: Path) -> Json:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("States"), dict) or "StartAt" not in data:
        raise ValueError(f"{path}: not a state machine definition (no StartAt and States)")
    return data


def _load_job_definitions(path: Path) -> list[Json]:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from None
    keys = {"name", "image", "vcpus", "memory_mb"}
    if not isinstance(data, list) or not all(isinstance(d, dict) and keys <= set(d) for d in data):
        raise ValueError(f"{path}: not a list of job definitions (name, image, vcpus, memory_mb)")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gwasflow.export.cloudformation``: write the template; 2 on a bad definition."""
    parser = argparse.ArgumentParser(prog="python -m gwasflow.export.cloudformation",
                                     description="write gwasflow's CloudFormation template")  # fmt: skip
    parser.add_argument("--definition", type=Path, default=None,
                        help="state machine JSON from `gwasflow export --format stepfunctions`")  # fmt: skip
    parser.add_argument("--image", default=None, help="container image of the job definitions (with --definition)")
    parser.add_argument("--cleanup-definition", type=Path, default=None,
                        help="JSON from `gwasflow export --cleanup-out` (default: built from --definition)")
    parser.add_argument("--job-definitions", type=Path, default=None,
                        help="JSON from `gwasflow export --job-definitions-out`: each definition with its own image")
    parser.add_argument("-o", "--out", type=Path, default=None, help="output file (default: stdout)")
    args = parser.parse_args(argv)
    try:
        definition = None if args.definition is None else _load_definition(args.definition)
        jobdefs = None if args.job_definitions is None else _load_job_definitions(args.job_definitions)
        cleanup = None if args.cleanup_definition is None else _load_definition(args.cleanup_definition)
        text = render(build_template(definition, image=args.image, job_definitions=jobdefs, cleanup=cleanup))
    except (ValueError, OSError) as exc:
        where = f"{args.definition}: " if args.definition and not str(exc).startswith(str(args.definition)) else ""
        print(f"gwasflow cloudformation: {where}{exc}", file=sys.stderr)
        return 2
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_atomic(args.out, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
