"""The ``aws`` fixture of the executed Step Functions tests (moto's interpreter on the loopback server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from gwasflow.engine.failure_log import DynamoDBSink
from tests.export.moto_sfn import (
    BatchShim,
    FsxShim,
    moto_config,
    normalise_batch_integration,
    normalise_sdk_integration,
)


@pytest.fixture
def aws(aws_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto executing state machines with Docker-less Batch: a subnet, a security group, the Batch service
    role and the hosts' instance profile (as the stack makes them), buckets and the failure table."""
    import boto3

    monkeypatch.setenv("MOTO_PORT", aws_endpoint.rsplit(":", 1)[1])  # where moto's interpreter calls AWS
    moto_config(aws_endpoint, {"stepfunctions": {"execute_state_machine": True}, "batch": {"use_docker": False}})
    normalise_batch_integration(monkeypatch)
    normalise_sdk_integration(monkeypatch)
    shim, batch = FsxShim(), BatchShim()
    shim.install(monkeypatch)
    batch.install(monkeypatch)
    suffix = uuid.uuid4().hex[:8]
    iam, ec2 = boto3.client("iam"), boto3.client("ec2")
    role = iam.create_role(RoleName=f"gwasflow-sfn-{suffix}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    service = iam.create_role(RoleName=f"gwasflow-batch-{suffix}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    iam.create_role(RoleName=f"gwasflow-host-{suffix}", AssumeRolePolicyDocument="{}")
    profile = iam.create_instance_profile(InstanceProfileName=f"gwasflow-host-{suffix}")["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName=f"gwasflow-host-{suffix}", RoleName=f"gwasflow-host-{suffix}")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"gwasflow-{suffix}", Description="Lustre", VpcId=vpc)["GroupId"]
    bucket = f"gwas-runs-{suffix}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    table = f"gwas-failures-{suffix}"
    DynamoDBSink(table)  # creates the table with failure_log.py's keys
    try:
        yield {"role": role, "service_role": service, "profile": profile, "subnet": subnet, "group": group,
               "bucket": bucket, "table": table, "fsx": shim, "batch": batch}  # fmt: skip
    finally:
        moto_config(aws_endpoint, {"stepfunctions": {"execute_state_machine": False}, "batch": {"use_docker": True}})
