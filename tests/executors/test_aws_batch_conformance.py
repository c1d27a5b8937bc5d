"""The AWS Batch executor with jobs that really run: the shared conformance suite, plus Batch's own outcomes.

The executor talks to moto in server mode on 127.0.0.1 through boto3, as in production; the one double is the
container host (``moto_batch_runner.batch_compute``), which runs each job's container command as a local
process group and reports its end in Batch's words. The job queue sits on a MANAGED compute environment of
``maxvCpus`` 2, which is what bounds parallelism on Batch.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gwasflow.engine.states import ExecCause, ExecState
from gwasflow.executors.aws_batch import AwsBatchExecutor
from gwasflow.executors.base import Executor

from .conformance import ExecutorConformance, SubmitFn, wait_finished, wait_state
from .moto_batch_runner import ContainerHost, batch_compute, moto_batch_mode

IMAGE = "example.org/gwasflow-test:1"
MAX_VCPUS = 2


@pytest.fixture(scope="module")
def compute(aws_endpoint: str) -> Iterator[ContainerHost]:
    """moto's Docker-mode Batch, its container host replaced by local processes, for this module."""
    moto_batch_mode(aws_endpoint, use_docker=True)
    with batch_compute() as host:
        yield host


@pytest.fixture(scope="module")
def job_queue(compute: ContainerHost) -> str:
    """A job queue on a MANAGED EC2 compute environment of maxvCpus 2 (in moto)."""
    import boto3

    suffix = uuid.uuid4().hex[:8]
    iam = boto3.client("iam")
    role = iam.create_role(RoleName=f"gwasflow-svc-{suffix}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName=f"gwasflow-ecs-{suffix}")["InstanceProfile"]["Arn"]
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.42.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"gwasflow-{suffix}", Description="batch", VpcId=vpc)["GroupId"]
    batch = boto3.client("batch")
    env = batch.create_compute_environment(
        computeEnvironmentName=f"gwasflow-managed-{suffix}", type="MANAGED", state="ENABLED", serviceRole=role,
        computeResources={"type": "EC2", "minvCpus": 0, "maxvCpus": MAX_VCPUS, "desiredvCpus": 0,
                          "instanceTypes": ["optimal"], "subnets": [subnet], "securityGroupIds": [group],
                          "instanceRole": profile},
    )  # fmt: skip
    name = f"gwasflow-run-{suffix}"
    batch.create_job_queue(
        jobQueueName=name, state="ENABLED", priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env["computeEnvironmentArn"]}],
    )  # fmt: skip
    return name


def _executor(job_queue: str) -> AwsBatchExecutor:
    return AwsBatchExecutor(job_queue=job_queue, image=IMAGE, poll_min_s=0.05, poll_max_s=0.5)


class TestAwsBatchConformance(ExecutorConformance):
    """The suite on Batch. What Batch does differently, and why, is said in each override."""

    #: Batch bounds parallelism by the compute environment's maxvCpus (2; the suite's jobs take 1 vCPU),
    #: not by the executor's max_parallel (accepted, not enforced)
    parallel_limit = MAX_VCPUS

    @pytest.fixture
    def executor(self, job_queue: str, tmp_path: Path) -> Iterator[Executor]:
        ex = _executor(job_queue)
        yield ex
        ex.cancel(list(ex._last))  # whatever a failed test left running (finished ones are skipped)
        ex.close()

    def test_poll__time_limit_fails_with_timeout_reason(self, executor: Executor, submit: SubmitFn) -> None:
        """Batch's shortest attempt timeout is 60 s (SubmitJob refuses less), so the executor asks for 60 s when
        the job's limit is 1 s: the job outlives its 1 s, then Batch stops it at 60 s as a timeout."""
        assert isinstance(executor, AwsBatchExecutor)
        handle = submit("import time; print('started', flush=True); time.sleep(600)", time_s=1)
        wait_state(executor, handle, ExecState.RUNNING)
        started = time.monotonic()
        job = executor.batch.describe_jobs(jobs=[handle])["jobs"][0]
        assert job["timeout"] == {"attemptDurationSeconds": 60}
        time.sleep(2)
        assert executor.poll([handle])[handle].state is ExecState.RUNNING
        status = wait_finished(executor, [handle], timeout_s=120)[handle]
        assert time.monotonic() - started >= 55
        assert status.state is ExecState.FAILED
        assert status.reason.startswith("timeout") and status.cause is ExecCause.TIMEOUT
        assert "Job attempt duration exceeded timeout" in status.reason


def _describe(executor: AwsBatchExecutor, handle: str) -> dict[str, Any]:
    return dict(executor.batch.describe_jobs(jobs=[handle])["jobs"][0])
