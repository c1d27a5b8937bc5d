"""IAM roles and intrinsic-function helpers of gwasflow's CloudFormation template (see ``cloudformation.py``).

Each role holds only what its principal calls; the README section "Run it on AWS" says why each permission
is there. Resources are scoped to the stack's bucket, table, queue, job definitions named ``<prefix>-*``
and the state machine's own executions, the per-run compute environments and job queues named
``<prefix>-*``, launch templates tagged ``gwasflow:execution``, and the stack's instance and Batch service
roles (``iam:PassRole``); ``*`` only where the API has no resource-level permissions
(``batch:DescribeJobs``, ``batch:Describe*``, ``fsx:Describe*``, ``ec2:Describe*``) or where a condition
narrows it (``iam:CreateServiceLinkedRole`` for the two FSx service names).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["BUCKET", "BUCKET_ARN", "OBJECTS_ARN", "TABLE_ARN", "allow", "arn", "compute_policy", "job_roles",
           "machine_policy",
           "machine_role", "role", "sub"]

Json = dict[str, Any]
_BATCH_EVENTS_RULE = "rule/StepFunctionsGetEventsForBatchJobsRule"
_FSX_S3_ROLE = "role/aws-service-role/s3.data-source.lustre.fsx.amazonaws.com/*"


def sub(text: str) -> Json:
    """``Fn::Sub`` of ``text``."""
    return {"Fn::Sub": text}


def arn(service: str, resource: str, *, region: bool = True) -> Json:
    """The ARN of ``resource`` of ``service`` in the stack's partition, account (and region)."""
    where = "${AWS::Region}:${AWS::AccountId}" if region else ":${AWS::AccountId}"
    return sub(f"arn:${{AWS::Partition}}:{service}:{where}:{resource}")


BUCKET = {"Fn::If": ["CreateBucket", {"Ref": "DataBucket"}, {"Ref": "BucketName"}]}
BUCKET_ARN = {"Fn::Sub": ["arn:${AWS::Partition}:s3:::${Bucket}", {"Bucket": BUCKET}]}
OBJECTS_ARN = {"Fn::Sub": ["arn:${AWS::Partition}:s3:::${Bucket}/*", {"Bucket": BUCKET}]}
TABLE_ARN = {"Fn::GetAtt": ["FailureTable", "Arn"]}


def role(service: str, statements: Sequence[Json] = (), managed: Sequence[str] = ()) -> Json:
    """An IAM role ``service`` assumes, with AWS managed policies and one inline policy of ``statements``."""
    props: Json = {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]},
    }  # fmt: skip
    if managed:
        props["ManagedPolicyArns"] = [sub(f"arn:${{AWS::Partition}}:iam::aws:policy/{m}") for m in managed]
    if statements:
        props["Policies"] = [{"PolicyName": "gwasflow", "PolicyDocument": {"Version": "2012-10-17",
                                                                             "Statement": list(statements)}}]
    return {"Type": "AWS::IAM::Role", "Properties": props}


def allow(actions: Sequence[str], resources: Any, **more: Any) -> Json:
    return {"Effect": "Allow", "Action": list(actions), "Resource": resources, **more}


def job_roles() -> Json:
    """The containers' role (data and results in the bucket; failure records and retry requests in the table)
    and the execution role Batch/ECS uses to pull the image from ECR and write the CloudWatch logs."""
    job = [
        allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], OBJECTS_ARN),
        allow(["s3:ListBucket"], BUCKET_ARN),
        allow(["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:Query"], TABLE_ARN),
    ]
    return {
        "JobRole": role("ecs-tasks.amazonaws.com", job),
        "ExecutionRole": role("ecs-tasks.amazonaws.com", managed=["service-role/AmazonECSTaskExecutionRolePolicy"]),
    }


def compute_policy() -> list[Json]:
    """What the machine calls to make and delete a run's own Batch capacity: a launch template (tagged on
    creation, deleted only when tagged), a compute environment and a job queue named ``<prefix>-*``, and
    the instance and service roles that compute environment hands to EC2 and Batch."""
    envs = arn("batch", "compute-environment/${JobDefinitionPrefix}-*")
    queues = arn("batch", "job-queue/${JobDefinitionPrefix}-*")
    templates = arn("ec2", "launch-template/*")
    tagged = {"Null": {"aws:RequestTag/gwasflow:execution": "false"}}
    return [
        allow(["ec2:CreateLaunchTemplate"], templates, Condition=tagged),
        allow(["ec2:CreateTags"], templates, Condition={"StringEquals": {"ec2:CreateAction": "CreateLaunchTemplate"}}),
        allow(["ec2:DeleteLaunchTemplate"], templates,
              Condition={"Null": {"aws:ResourceTag/gwasflow:execution": "false"}}),
        allow(["ec2:DescribeLaunchTemplates", "ec2:DescribeLaunchTemplateVersions"], "*"),
        allow(["batch:CreateComputeEnvironment", "batch:UpdateComputeEnvironment", "batch:DeleteComputeEnvironment",
               "batch:CreateJobQueue", "batch:UpdateJobQueue", "batch:DeleteJobQueue", "batch:TagResource"],
              [envs, queues]),
        allow(["batch:DescribeComputeEnvironments", "batch:DescribeJobQueues"], "*"),
        allow(["iam:PassRole"], [{"Fn::GetAtt": ["InstanceRole", "Arn"]}, {"Fn::GetAtt": ["BatchServiceRole", "Arn"]}]),
    ]  # fmt: skip


def machine_policy() -> list[Json]:
    """What the state machine calls: Batch ``.sync`` jobs on the run's own queue (:func:`compute_policy`),
    failure records, manifests and results in S3, the FSx file system and its association (and the
    service-linked roles FSx creates for them), and the child executions of a Distributed Map."""
    machine = "stateMachine:${StateMachineName}"
    fsx_slr = {"StringEquals": {"iam:AWSServiceName": ["fsx.amazonaws.com", "s3.data-source.lustre.fsx.amazonaws.com"]}}
    return [
        *compute_policy(),
        allow(["batch:SubmitJob"], [arn("batch", "job-queue/${JobDefinitionPrefix}-*"),
                                    arn("batch", "job-definition/${JobDefinitionPrefix}-*")]),
        allow(["batch:DescribeJobs"], "*"),  # DescribeJobs has no resource-level permissions
        allow(["batch:TerminateJob"], arn("batch", "job/*")),
        allow(["events:PutTargets", "events:PutRule", "events:DescribeRule"], arn("events", _BATCH_EVENTS_RULE)),
        allow(["dynamodb:PutItem", "dynamodb:Query"], TABLE_ARN),
        allow(["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
              OBJECTS_ARN),
        allow(["s3:ListBucket"], BUCKET_ARN),
        allow(["fsx:CreateFileSystem", "fsx:CreateDataRepositoryAssociation", "fsx:CreateDataRepositoryTask",
                "fsx:TagResource", "fsx:DeleteFileSystem", "fsx:DeleteDataRepositoryAssociation"],
               [arn("fsx", "file-system/*"), arn("fsx", "association/*/*"), arn("fsx", "task/*")]),
        allow(["fsx:DescribeFileSystems", "fsx:DescribeDataRepositoryAssociations", "fsx:DescribeDataRepositoryTasks"],
              "*"),
        allow(["ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs",
                "ec2:DescribeNetworkInterfaces"], "*"),
        allow(["iam:CreateServiceLinkedRole"], "*", Condition=fsx_slr),
        allow(["iam:AttachRolePolicy", "iam:PutRolePolicy"], sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:"
                                                                     f"{_FSX_S3_ROLE}")),
        allow(["states:StartExecution"], arn("states", machine)),
        allow(["states:DescribeExecution", "states:StopExecution"],
               [arn("states", "execution:${StateMachineName}:*"), arn("states", "execution:${StateMachineName}/*")]),
    ]  # fmt: skip


def machine_role() -> Json:
    """The state machine's role: assumed by Step Functions for this account only, with :func:`machine_policy`."""
    doc = role("states.amazonaws.com", machine_policy())
    doc["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] = {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}  # fmt: skip
    return doc
