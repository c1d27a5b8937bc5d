"""The AWS Batch executor with jobs that really run: the shared conformance suite, plus Batch's own outcomes.

The executor talks to moto in server mode on 127.0.0.1 through boto3, as in production; the one double is the
container host (``moto_batch_runner.batch_compute``), which runs each job's container command as a local
process group and reports its end in Batch's words. The job queue sits on a MANAGED compute environment of
``maxvCpus`` 2, which is what bounds parallelism on Batch.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gwasflow.commands.demo import write_demo
from gwasflow.core.states import AttemptState, ErrorType, ExecCause, ExecState, JobState
from gwasflow.engine.classify import classify
from gwasflow.executors.aws_batch import AwsBatchExecutor
from gwasflow.executors.base import Executor, Submission
from gwasflow.plan.model import Resources
from gwasflow.store import SQLiteStore

from ..conftest import read_events
from .conformance import ExecutorConformance, SubmitFn, python_argv, wait_finished, wait_state
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


def _wait_batch_status(executor: AwsBatchExecutor, handle: str, status: str, *, timeout_s: float = 20.0) -> None:
    """Wait until Batch itself says ``status`` of the job (the executor maps all queued states to PENDING)."""
    deadline = time.monotonic() + timeout_s
    while _describe(executor, handle)["status"] != status:
        if time.monotonic() > deadline:
            pytest.fail(f"{handle} never reached Batch status {status}")
        time.sleep(0.05)


@pytest.fixture
def batch(job_queue: str) -> Iterator[AwsBatchExecutor]:
    ex = _executor(job_queue)
    yield ex
    ex.cancel(list(ex._last))
    ex.close()


def _sub(tmp_path: Path, name: str, code: str, *, memory_mb: int = 256, cpus: int = 1) -> Submission:
    return Submission(name, 1, python_argv(code), tmp_path / "logs" / f"{name}.log",
                      Resources(cpus=cpus, memory_mb=memory_mb, time_s=600), cwd=tmp_path)  # fmt: skip


def test_poll__over_memory_is_out_of_memory(batch: AwsBatchExecutor, tmp_path: Path) -> None:
    sub = _sub(tmp_path, "greedy", "import time; print('allocating', flush=True); b = b'x' * (200 * 2**20); "
                                   "time.sleep(60)", memory_mb=64)  # fmt: skip
    handle = batch.submit(sub)
    status = wait_finished(batch, [handle], timeout_s=60)[handle]
    assert (status.state, status.cause, status.exit_code, status.signal) == (
        ExecState.FAILED, ExecCause.OUT_OF_MEMORY, 137, 9)
    assert status.reason.startswith("out of memory") and "OutOfMemoryError" in status.reason
    assert classify(exit_code=status.exit_code, signal=status.signal, cause=status.cause) is ErrorType.OUT_OF_MEMORY
    assert "allocating" in sub.log_path.read_text()  # the failed attempt's CloudWatch tail, copied for classify


def test_poll__terminated_by_someone_else_is_cancelled_externally(batch: AwsBatchExecutor, tmp_path: Path) -> None:
    handle = batch.submit(_sub(tmp_path, "victim", "import time; print('up', flush=True); time.sleep(60)"))
    wait_state(batch, handle, ExecState.RUNNING)
    batch.batch.terminate_job(jobId=handle, reason="ops: runaway job")  # not through gwasflow
    status = wait_finished(batch, [handle])[handle]
    assert (status.state, status.cause, status.signal) == (ExecState.FAILED, ExecCause.CANCELLED_EXTERNALLY, 15)
    assert status.reason == "cancelled outside gwasflow: ops: runaway job; Essential container in task exited"
    assert classify(exit_code=status.exit_code, signal=status.signal,
                    cause=status.cause) is ErrorType.CANCELLED_EXTERNALLY  # fmt: skip


def test_cancel__job_waiting_for_capacity_never_starts(batch: AwsBatchExecutor, tmp_path: Path) -> None:
    sleep = "import time; time.sleep(60)"
    busy = [batch.submit(_sub(tmp_path, f"busy{i}", sleep)) for i in range(MAX_VCPUS)]
    for handle in busy:
        wait_state(batch, handle, ExecState.RUNNING)
    queued = batch.submit(_sub(tmp_path, "queued", "print('never')"))
    _wait_batch_status(batch, queued, "RUNNABLE")  # no vCPU left in the compute environment
    time.sleep(0.5)
    assert _describe(batch, queued)["status"] == "RUNNABLE"
    assert batch.poll([queued])[queued].state is ExecState.PENDING
    batch.cancel([queued])
    assert wait_finished(batch, [queued])[queued].state is ExecState.CANCELLED
    job = _describe(batch, queued)
    assert (job["status"], job["statusReason"], job["attempts"]) == ("FAILED", "gwasflow: cancelled", [])
    batch.cancel(busy)
    assert {s.state for s in wait_finished(batch, busy).values()} == {ExecState.CANCELLED}


def test_poll__CancelJob_by_someone_else_stops_a_queued_job_not_a_running_one(
    batch: AwsBatchExecutor, tmp_path: Path
) -> None:
    busy = [batch.submit(_sub(tmp_path, f"busy{i}", "import time; time.sleep(60)")) for i in range(MAX_VCPUS)]
    for handle in busy:
        wait_state(batch, handle, ExecState.RUNNING)
    queued = batch.submit(_sub(tmp_path, "queued", "print('never')"))
    _wait_batch_status(batch, queued, "RUNNABLE")
    for handle in (busy[0], queued):
        batch.batch.cancel_job(jobId=handle, reason="admin: queue drained")  # not through gwasflow
    status = wait_finished(batch, [queued])[queued]
    assert (status.state, status.cause) == (ExecState.FAILED, ExecCause.CANCELLED_EXTERNALLY)
    assert status.reason == "cancelled outside gwasflow: admin: queue drained" and status.exit_code is None
    time.sleep(0.5)
    assert batch.poll([busy[0]])[busy[0]].state is ExecState.RUNNING  # CancelJob leaves a started job alone
    assert "statusReason" not in _describe(batch, busy[0])
    batch.cancel(busy)
    assert {s.state for s in wait_finished(batch, busy).values()} == {ExecState.CANCELLED}


def test_cancel__whole_array_one_terminate_stops_running_and_queued_children(
    batch: AwsBatchExecutor, tmp_path: Path
) -> None:
    subs = [_sub(tmp_path, f"a{i}", "import time; print('up', flush=True); time.sleep(60)") for i in range(3)]
    handles = batch.submit_batch(subs)
    for handle in handles[:MAX_VCPUS]:
        wait_state(batch, handle, ExecState.RUNNING)
    _wait_batch_status(batch, handles[2], "RUNNABLE")  # the third waits for a vCPU
    calls: list[dict[str, Any]] = []
    batch.batch.meta.events.register("before-call.batch.TerminateJob", lambda params, **_: calls.append(params))
    batch.cancel(handles)
    assert len(calls) == 1  # the parent: Batch terminates its children
    statuses = wait_finished(batch, handles)
    assert {s.state for s in statuses.values()} == {ExecState.CANCELLED}
    assert [_describe(batch, h)["statusReason"] for h in handles] == ["gwasflow: cancelled"] * 3
    assert [len(_describe(batch, h)["attempts"]) for h in handles] == [1, 1, 0]


def test_submit_batch__array_children_run_their_own_argv_in_cwd(batch: AwsBatchExecutor, tmp_path: Path) -> None:
    code = ("import os, sys; print('child', sys.argv[1], os.getcwd(), os.environ['AWS_BATCH_JOB_ARRAY_INDEX'], "
            "os.environ['OWN']); sys.exit(int(sys.argv[1]) == 2 and 4)")  # fmt: skip
    subs = [Submission(f"c{i}", 1, (*python_argv(code), str(i)), tmp_path / "logs" / f"c{i}.log",
                       Resources(1, 256, 600), cwd=tmp_path, env={"OWN": f"own-{i}"}) for i in range(4)]  # fmt: skip
    handles = batch.submit_batch(subs)
    assert len({h.split(":")[0] for h in handles}) == 1 and all(":" in h for h in handles)
    statuses = wait_finished(batch, handles)
    assert [s.state for s in statuses.values()] == [ExecState.SUCCEEDED] * 2 + [ExecState.FAILED, ExecState.SUCCEEDED]
    assert statuses[handles[2]].exit_code == 4 and statuses[handles[2]].reason.startswith("exit code 4")
    for i, handle in enumerate(handles):
        assert f"child {i} {tmp_path} {i} own-{i}" in batch.logs(handle)
    # Batch measures neither: what the local executor reads from wait4, a Batch status leaves empty
    assert all(s.peak_memory_mb is None and s.cpu_time_s is None for s in statuses.values())


def test_reattach__a_fresh_executor_follows_and_cancels_a_running_job(
    batch: AwsBatchExecutor, job_queue: str, tmp_path: Path
) -> None:
    handle = batch.submit(_sub(tmp_path, "long", "import time; print('up', flush=True); time.sleep(60)"))
    wait_state(batch, handle, ExecState.RUNNING)
    fresh = _executor(job_queue)  # as after the orchestrator restarted: knows the handle from the store only
    try:
        assert fresh.reattach([handle]) == [handle]
        assert fresh.poll([handle])[handle].state is ExecState.RUNNING
        assert "up" in fresh.logs(handle)
        fresh.cancel([handle])
        assert wait_finished(fresh, [handle])[handle].state is ExecState.CANCELLED
    finally:
        fresh.close()
    status = wait_finished(batch, [handle])[handle]  # the first executor sees gwasflow's own cancel too
    assert status.state is ExecState.CANCELLED and status.cause is None


def test_driver_run__batch_jobs_run_in_the_workspace_and_a_crash_is_retried(job_queue: str, tmp_path: Path) -> None:
    from gwasflow.core.rundir import RunDir
    from gwasflow.core.states import RunState, Step
    from gwasflow.engine.driver import Driver
    from gwasflow.plan.model import Job, JobGraph, JobKind
    from gwasflow.store import MemoryStore

    workspace = tmp_path / "ws"
    workspace.mkdir()
    # relative output paths: found in the workspace only if the container entered it; shard 1 crashes once
    code = ("import os, sys; attempt = os.environ['GWASFLOW_ATTEMPT'].rsplit(':', 1)[1]; "
            "sys.exit('shard 1 crashed') if sys.argv[1] == '1' and attempt == '1' else "
            "open(f'shard{sys.argv[1]}.txt', 'w').write(attempt)")  # fmt: skip
    jobs = [Job(id=f"s{i}", step=Step.STEP2, kind=JobKind.COMMAND, argv=(*python_argv(code), str(i)),
                outputs=(str(workspace / f"shard{i}.txt"),), resources=Resources(1, 256, 600)) for i in range(3)]
    store = MemoryStore()
    store.create_run("r1", "t", "{}", "{}")
    store.add_jobs("r1", [(job.id, "step2") for job in jobs])
    ex = _executor(job_queue)
    rundir = RunDir(tmp_path / "out")
    driver = Driver(run_id="r1", graph=JobGraph(jobs), store=store, executor=ex, rundir=rundir, workspace=workspace,
                    keep_workspace=True, poll_interval_s=0.05)  # fmt: skip
    try:
        outcome = driver.run()
    finally:
        ex.close()
    assert outcome.state is RunState.SUCCEEDED
    assert [(workspace / f"shard{i}.txt").read_text() for i in range(3)] == ["1", "2", "1"]
    assert store.get_job("r1", "s1").attempts == 2
    assert "shard 1 crashed" in rundir.for_run("r1").log_path("s1", 1).read_text()  # CloudWatch tail, copied


def _run_spec(spec: Path, name: str, executor: dict[str, object]) -> subprocess.CompletedProcess[str]:
    """``gwasflow run`` of a copy of the demo spec with its own outdir, workdir and executor."""
    data = yaml.safe_load(spec.read_text())
    data.update(executor=executor, outdir=f"out-{name}", workdir=f"work-{name}", retry={"max_attempts": 1})
    path = spec.with_name(f"spec-{name}.yaml")
    path.write_text(yaml.safe_dump(data))
    return subprocess.run([sys.executable, "-m", "gwasflow", "run", str(path), "--quiet"], cwd=spec.parent,
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip


def test_run__batch_results_identical_to_local(job_queue: str, tmp_path: Path) -> None:
    """The demo through ``gwasflow run`` on Batch (moto on 127.0.0.1, jobs run by the compute double)."""
    spec = write_demo(tmp_path / "demo", n_samples=600, n_variants=3000)
    local = _run_spec(spec, "local", {"kind": "local", "max_parallel": 2})
    assert local.returncode == 0, local.stdout + local.stderr
    on_batch = _run_spec(spec, "batch", {
        "kind": "aws_batch", "poll_interval_s": 0.1,
        "settings": {"job_queue": job_queue, "region": "us-east-1", "image": IMAGE, "poll_min_s": 0.2,
                     "poll_max_s": 1.0},
    })  # fmt: skip
    assert on_batch.returncode == 0, on_batch.stdout + on_batch.stderr
    local_results = sorted((spec.parent / "out-local" / "results").glob("*.regenie.gz"))
    assert [p.name for p in local_results] == ["Y1.regenie.gz", "Y2.regenie.gz"]
    for path in local_results:
        twin = spec.parent / "out-batch" / "results" / path.name
        assert gzip.decompress(twin.read_bytes()) == gzip.decompress(path.read_bytes()), path.name
    store = SQLiteStore(spec.parent / "out-batch" / ".gwasflow" / "gwasflow.sqlite")
    try:
        (run,) = store.list_runs()
        jobs = store.list_jobs(run.run_id)
        on_batch_attempts = [a for a in store.list_attempts(run.run_id) if a.executor == "aws_batch"]
    finally:
        store.close()
    assert jobs and all(job.state is JobState.SUCCEEDED for job in jobs)
    assert {a.job_id for a in on_batch_attempts} >= {j.job_id for j in jobs if j.step in ("step1", "step2")}
    assert any(":" in str(a.handle) for a in on_batch_attempts)  # step 2 shards went in as array jobs


def test_resume__batch_job_running_when_the_driver_died_is_reattached(job_queue: str, tmp_path: Path) -> None:
    """kill -9 of gwasflow while step 1 runs on Batch: resume re-attaches to the job, never submits it again."""
    spec = write_demo(tmp_path / "demo", n_samples=2000, n_variants=20_000, seed=9)
    data = yaml.safe_load(spec.read_text())
    data.update(outdir="out-batch", workdir="work-batch", retry={"max_attempts": 1}, executor={
        "kind": "aws_batch", "poll_interval_s": 0.1,
        "settings": {"job_queue": job_queue, "region": "us-east-1", "image": IMAGE, "poll_min_s": 0.2,
                     "poll_max_s": 1.0},
    })  # fmt: skip
    path = spec.with_name("spec-batch.yaml")
    path.write_text(yaml.safe_dump(data))
    folder = spec.parent / "out-batch"
    events = folder / ".gwasflow" / "events.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "gwasflow", "run", str(path), "--quiet"], cwd=spec.parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while not any(e.get("event") == "submitted" and e.get("job") == "step1" for e in read_events(events)):
        assert proc.poll() is None and time.monotonic() < deadline, "step 1 was never submitted"
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=30)
    resumed = subprocess.run([sys.executable, "-m", "gwasflow", "resume"], cwd=folder, capture_output=True,
                             text=True, timeout=600, check=False)  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    store = SQLiteStore(folder / ".gwasflow" / "gwasflow.sqlite")
    try:
        (run,) = store.list_runs()
        step1 = store.list_attempts(run.run_id, "step1")
        assert all(j.state is JobState.SUCCEEDED for j in store.list_jobs(run.run_id))
    finally:
        store.close()
    assert [(a.attempt, a.state) for a in step1] == [(1, AttemptState.SUCCEEDED)], step1
    recovered = [e for e in read_events(events) if e.get("event") == "recovered"]
    assert recovered and recovered[-1]["reattached"] == 1
