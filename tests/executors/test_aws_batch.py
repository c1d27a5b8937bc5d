"""The AWS Batch executor against moto in server mode (the ``aws_endpoint`` fixture), plus the state mapping.

moto runs Batch jobs in Docker; there is no Docker daemon here, so the module switches moto's Batch to its
Docker-less mode through the server's own ``/moto-api/config`` endpoint: jobs are accepted, described,
terminated and listed like on AWS, and finish at once (SUCCEEDED, or FAILED with
``MOTO_SIMPLE_BATCH_FAIL_AFTER=0``), never RUNNING: enough for requests, call counts and bookkeeping. Jobs
that really run (the conformance suite, timeouts, OOM, TerminateJob) are in ``test_aws_batch_conformance.py``,
on moto's Docker mode with a compute double. The mapping of reasons no test can provoke here (spot reclaim,
host loss) is tested as a pure function on ``captured_batch/describe_jobs.json``. The array script that picks
each child's argv is run here with ``/bin/sh``, as a Batch container would run it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gwasflow.core.states import ErrorType, ExecCause, ExecState
from gwasflow.engine.classify import classify
from gwasflow.engine.retry import decide
from gwasflow.errors import SubmitError
from gwasflow.executors.aws_batch import (
    ARRAY_SCRIPT,
    CWD_SCRIPT,
    AwsBatchExecutor,
    AwsBatchSettings,
    definition_name,
    status_from_batch,
)
from gwasflow.executors.aws_batch_status import WORKDIR_EXIT
from gwasflow.executors.base import Executor, Submission
from gwasflow.executors.registry import check_settings, make_executor
from gwasflow.plan.model import Resources
from gwasflow.spec.model import RetrySpec

from .moto_batch_runner import moto_batch_mode

CAPTURED = Path(__file__).parent / "captured_batch" / "describe_jobs.json"
IMAGE = "ghcr.io/rgcgithub/regenie/regenie:v4.1.2"


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def job_queue(aws_endpoint: str) -> Iterator[str]:
    """A job queue on an UNMANAGED compute environment in moto, with Docker-less Batch for this module."""
    import boto3

    moto_batch_mode(aws_endpoint, use_docker=False)
    suffix = uuid.uuid4().hex[:8]
    iam = boto3.client("iam")
    role = iam.create_role(RoleName=f"gwasflow-batch-{suffix}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    batch = boto3.client("batch")
    env = batch.create_compute_environment(
        computeEnvironmentName=f"gwasflow-ce-{suffix}", type="UNMANAGED", state="ENABLED", serviceRole=role
    )
    name = f"gwasflow-q-{suffix}"
    batch.create_job_queue(
        jobQueueName=name, state="ENABLED", priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env["computeEnvironmentArn"]}],
    )  # fmt: skip
    try:
        yield name
    finally:
        moto_batch_mode(aws_endpoint, use_docker=True)


@pytest.fixture
def executor(job_queue: str) -> Iterator[AwsBatchExecutor]:
    ex = AwsBatchExecutor(job_queue=job_queue, image=IMAGE, poll_min_s=0, poll_max_s=0, tags={"project": "gwas"})
    yield ex
    ex.close()


def _sub(tmp_path: Path, n: int, *, memory_mb: int = 2048, argv: tuple[str, ...] | None = None) -> Submission:
    return Submission(
        job_id=f"step2-d0-c1_{n:05d}-p000", attempt=1,
        argv=argv or ("regenie", "--step", "2", "--range", f"1:{n}-{n + 9}", "--out", f"/fsx/work/step2/s{n}"),
        log_path=tmp_path / "logs" / f"s{n}.log", resources=Resources(cpus=2, memory_mb=memory_mb, time_s=600),
        env={"OMP_NUM_THREADS": "2", "GWASFLOW_ATTEMPT": f"run1:s{n}:1"},
    )  # fmt: skip


class _Calls:
    """Counts API calls by operation name, through botocore's own event hooks."""

    def __init__(self, client: Any) -> None:
        self.counts: dict[str, int] = {}
        self.params: dict[str, list[dict[str, Any]]] = {}
        client.meta.events.register("before-parameter-build.batch.*", self._count)

    def _count(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.counts[model.name] = self.counts.get(model.name, 0) + 1
        self.params.setdefault(model.name, []).append(dict(params))


def _captured() -> dict[str, dict[str, Any]]:
    return {job["jobName"]: job for job in json.loads(CAPTURED.read_text())["jobs"]}


# -- settings and registry ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({}, "job_queue is required"),
        ({"job_queue": "q", "array_min": 1}, "array_min"),
        ({"job_queue": "q", "poll_min_s": 10, "poll_max_s": 1}, "poll_max_s"),
        ({"job_queue": "q", "tags": {"a": 1}}, "tags"),
        ({"job_queue": "q", "job_role_arn": "my-role"}, "job_role_arn"),
        ({"job_queue": "q", "max_parallel": 0}, "max_parallel"),
    ],
)
def test_AwsBatchSettings__rejects_bad_values(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AwsBatchSettings(**settings)


def test_AwsBatchSettings__every_field_has_help() -> None:
    assert all(f.description for f in AwsBatchSettings.model_fields.values())


def test_make_executor__aws_batch_from_registry(aws_endpoint: str) -> None:
    ex = make_executor("aws_batch", max_parallel=4, job_queue="q", region="us-east-1", array_min=3)
    assert isinstance(ex, AwsBatchExecutor) and isinstance(ex, Executor)
    assert ex.name == "aws_batch" and ex.settings.array_min == 3
    ex.close()


def test_check_settings__aws_batch_reports_problems() -> None:
    assert check_settings("aws_batch", {"job_queue": "q"}) == []
    assert "unknown settings" in check_settings("aws_batch", {"job_queue": "q", "partition": "x"})[0]
    assert "job_queue is required" in check_settings("aws_batch", {})[0]


# -- state mapping on captured DescribeJobs JSON ----------------------------------------------------


@pytest.mark.parametrize(
    ("case", "state", "error"),
    [
        ("submitted", ExecState.PENDING, None),
        ("runnable", ExecState.PENDING, None),
        ("starting", ExecState.PENDING, None),
        ("running", ExecState.RUNNING, None),
        ("succeeded", ExecState.SUCCEEDED, None),
        ("failed_exit", ExecState.FAILED, ErrorType.CRASH),
        ("oom", ExecState.FAILED, ErrorType.OUT_OF_MEMORY),
        ("spot_reclaimed", ExecState.FAILED, ErrorType.INTERRUPTED),
        ("timeout", ExecState.FAILED, ErrorType.TIMEOUT),
        ("cancelled_by_gwasflow", ExecState.CANCELLED, None),
        ("killed_sigkill", ExecState.FAILED, ErrorType.KILLED),
        ("array_child_failed", ExecState.FAILED, ErrorType.CRASH),
        ("pull_image_not_found", ExecState.FAILED, ErrorType.BAD_CONFIG),
        ("pull_access_denied", ExecState.FAILED, ErrorType.BAD_CONFIG),
        ("pull_timed_out", ExecState.FAILED, ErrorType.INTERRUPTED),
        ("task_failed_to_start", ExecState.FAILED, ErrorType.INTERRUPTED),
        ("resource_initialization", ExecState.FAILED, ErrorType.INTERRUPTED),
        ("workdir_not_mounted", ExecState.FAILED, ErrorType.BAD_CONFIG),
    ],
)
def test_status_from_batch__captured_cases(case: str, state: ExecState, error: ErrorType | None) -> None:
    status = status_from_batch(_captured()[case])
    assert status.state is state
    if error is not None:
        assert classify(exit_code=status.exit_code, signal=status.signal, cause=status.cause) is error


def test_status_from_batch__terminated_by_someone_else_is_cancelled_externally() -> None:
    jobs = _captured()
    running = copy.deepcopy(jobs["killed_sigkill"])
    running["statusReason"] = "Terminated by ops: runaway job"  # TerminateJob's reason replaces Batch's words
    queued = copy.deepcopy(jobs["cancelled_by_gwasflow"])
    queued["statusReason"] = "cancelled by admin"  # CancelJob before any attempt
    for job in (running, queued):
        status = status_from_batch(job)
        assert (status.state, status.cause) == (ExecState.FAILED, ExecCause.CANCELLED_EXTERNALLY)
        assert status.reason.startswith("cancelled outside gwasflow: ")
        assert classify(exit_code=status.exit_code, signal=status.signal,
                        cause=status.cause) is ErrorType.CANCELLED_EXTERNALLY  # fmt: skip


def test_status_from_batch__words_in_the_command_are_never_a_cause() -> None:
    job = copy.deepcopy(_captured()["failed_exit"])
    job["container"]["command"] = ["regenie", "--out", "/fsx/oom-kill/OutOfMemoryError/spot-interrupt/timed out"]
    status = status_from_batch(job)
    assert status.cause is None
    assert classify(exit_code=status.exit_code, signal=status.signal, cause=status.cause) is ErrorType.CRASH


def test_status_from_batch__reasons_keep_batch_words_exit_code_and_signal() -> None:
    jobs = _captured()
    oom = status_from_batch(jobs["oom"])
    assert oom.reason.startswith("out of memory") and "OutOfMemoryError" in oom.reason
    assert (oom.exit_code, oom.signal) == (137, 9)
    spot = status_from_batch(jobs["spot_reclaimed"])
    assert "spot" in spot.reason and "interrupt" in spot.reason and "i-0a1b2c3d4e5f67890" in spot.reason
    timeout = status_from_batch(jobs["timeout"])
    assert timeout.reason.startswith("timeout") and timeout.signal == 9
    failed = status_from_batch(jobs["failed_exit"])
    assert (failed.exit_code, failed.signal) == (3, None) and failed.reason.startswith("exit code 3")
    assert status_from_batch(jobs["succeeded"]).exit_code == 0


@pytest.mark.parametrize(
    ("case", "words"),
    [("pull_image_not_found", "manifest unknown"), ("pull_access_denied", "pull access denied"),
     ("workdir_not_mounted", "working directory")],
)
def test_status_from_batch__a_bad_config_is_one_line_and_never_retried(case: str, words: str) -> None:
    status = status_from_batch(_captured()[case])
    assert status.cause is ExecCause.BAD_CONFIG
    assert status.reason.startswith("bad config") and words in status.reason and "\n" not in status.reason
    error = classify(exit_code=status.exit_code, signal=status.signal, cause=status.cause)
    decision = decide(RetrySpec(max_attempts=5), [error], Resources(time_s=60))
    assert not decision.retry and "bad_config is never retried" in decision.why


@pytest.mark.parametrize("case", ["pull_timed_out", "task_failed_to_start", "resource_initialization"])
def test_status_from_batch__a_start_failure_spends_the_interruption_budget(case: str) -> None:
    status = status_from_batch(_captured()[case])
    assert status.cause is ExecCause.INTERRUPTED and status.reason.startswith("interrupted (the host could not")
    error = classify(exit_code=status.exit_code, signal=status.signal, cause=status.cause)
    policy = RetrySpec(max_attempts=1, max_interruptions=2)
    assert decide(policy, [error, error], Resources(time_s=60)).retry  # max_attempts 1 does not stop it
    assert not decide(policy, [error, error, error], Resources(time_s=60)).retry


def test_status_from_batch__the_engines_bad_input_exit_2_is_not_a_bad_config() -> None:
    job = copy.deepcopy(_captured()["failed_exit"])
    job["container"]["exitCode"] = job["attempts"][0]["container"]["exitCode"] = 2
    status = status_from_batch(job)
    assert status.cause is None and status.exit_code == 2
    tail = "gwasflow-error: bad_input\n"
    assert classify(exit_code=2, signal=None, cause=status.cause, log_tail=tail) is ErrorType.BAD_INPUT


def test_status_from_batch__unknown_status_is_pending_with_reason() -> None:
    status = status_from_batch({"jobId": "x", "status": "HIBERNATING"})
    assert status.state is ExecState.PENDING and "HIBERNATING" in status.reason


# -- the array script, run as a Batch container would -----------------------------------------------


def test_ARRAY_SCRIPT__runs_the_argv_of_its_index_without_a_shell(tmp_path: Path) -> None:
    tricky = "a b; echo $HOME `id` * 'q'"
    argv = [sys.executable, "-c", "import os, sys; print(sys.argv[1:], os.environ['OWN'])", tricky, "--x"]
    env = {
        "PATH": os.environ["PATH"],
        "AWS_BATCH_JOB_ARRAY_INDEX": "1",
        "GWASFLOW_ARGV_0": "OWN=zero\nfalse",
        "GWASFLOW_ARGV_1": "\n".join(["OWN=one", *argv]),
    }
    out = subprocess.run(["/bin/sh", "-c", ARRAY_SCRIPT], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{[tricky, '--x']!r} one"


def test_ARRAY_SCRIPT__enters_GWASFLOW_CWD(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "AWS_BATCH_JOB_ARRAY_INDEX": "0", "GWASFLOW_CWD": str(tmp_path),
           "GWASFLOW_ARGV_0": "\n".join([sys.executable, "-c", "import os; print(os.getcwd())"])}
    out = subprocess.run(["/bin/sh", "-c", ARRAY_SCRIPT], env=env, cwd="/", capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(tmp_path)


@pytest.mark.parametrize("cwd", ["with space; `id` $HOME", "-dash"])
def test_CWD_SCRIPT__enters_the_directory_and_runs_argv_without_a_shell(tmp_path: Path, cwd: str) -> None:
    where = tmp_path / cwd
    where.mkdir()
    argv = [sys.executable, "-c", "import os, sys; print(os.getcwd(), sys.argv[1:])", "a b; $HOME", "*"]
    env = {"PATH": os.environ["PATH"], "GWASFLOW_CWD": str(where)}
    out = subprocess.run(["/bin/sh", "-c", CWD_SCRIPT, "gwasflow", *argv], env=env, cwd="/", capture_output=True,
                         text=True)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{where} {['a b; $HOME', '*']!r}"


@pytest.mark.parametrize("script", ["cwd", "array"])
def test_CWD_SCRIPT__missing_directory_fails_with_the_workdir_exit_and_one_line(tmp_path: Path, script: str) -> None:
    env = {"PATH": os.environ["PATH"], "GWASFLOW_CWD": str(tmp_path / "not-mounted")}
    if script == "cwd":
        argv = ["/bin/sh", "-c", CWD_SCRIPT, "gwasflow", "true"]
    else:
        argv = ["/bin/sh", "-c", ARRAY_SCRIPT]
        env |= {"AWS_BATCH_JOB_ARRAY_INDEX": "0", "GWASFLOW_ARGV_0": "true"}
    out = subprocess.run(argv, env=env, capture_output=True, text=True)
    assert out.returncode == WORKDIR_EXIT == 78
    assert out.stderr.splitlines() == [
        f"gwasflow: cannot enter working directory {tmp_path / 'not-mounted'} (is it mounted in the container?)"]


def test_ARRAY_SCRIPT__missing_index_variable_fails() -> None:
    env = {"PATH": os.environ["PATH"], "AWS_BATCH_JOB_ARRAY_INDEX": "4"}
    out = subprocess.run(["/bin/sh", "-c", ARRAY_SCRIPT], env=env, capture_output=True, text=True)
    assert out.returncode == 2 and "no command for array index 4" in out.stderr


# -- against moto ---------------------------------------------------------------------------------


def test_submit__single_job_with_argv_command_and_definition(executor: AwsBatchExecutor, tmp_path: Path) -> None:
    calls = _Calls(executor.batch)
    handle = executor.submit(_sub(tmp_path, 1))
    assert ":" not in handle
    job = executor.batch.describe_jobs(jobs=[handle])["jobs"][0]
    assert job["container"]["command"] == list(_sub(tmp_path, 1).argv)
    assert {"name": "OMP_NUM_THREADS", "value": "2"} in job["container"]["environment"]
    assert job["timeout"] == {"attemptDurationSeconds": 600}
    definition = executor.batch.describe_job_definitions(jobDefinitions=[job["jobDefinition"]])["jobDefinitions"][0]
    props = definition["containerProperties"]
    assert props["image"] == IMAGE
    assert {"type": "VCPU", "value": "2"} in props["resourceRequirements"]
    assert {"type": "MEMORY", "value": "2048"} in props["resourceRequirements"]
    assert definition["jobDefinitionName"] == definition_name("gwasflow", IMAGE, 2, 2048, None)
    assert calls.counts["SubmitJob"] == 1
    assert executor.poll([handle])[handle].state is ExecState.SUCCEEDED


def test_submit__reuses_active_job_definition(job_queue: str, tmp_path: Path) -> None:
    first = AwsBatchExecutor(job_queue=job_queue, image="example.org/gwasflow:v9.9", poll_min_s=0, poll_max_s=0)
    first.submit_batch([_sub(tmp_path, 1), _sub(tmp_path, 2), _sub(tmp_path, 3)])
    second = AwsBatchExecutor(job_queue=job_queue, image="example.org/gwasflow:v9.9", poll_min_s=0, poll_max_s=0)
    calls = _Calls(second.batch)
    second.submit(_sub(tmp_path, 4))
    assert calls.counts.get("RegisterJobDefinition", 0) == 0 and calls.counts["DescribeJobDefinitions"] == 1
    name = definition_name("gwasflow", "example.org/gwasflow:v9.9", 2, 2048, None)
    found = second.batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")["jobDefinitions"]
    assert len(found) == 1


def test_submit_batch__same_resources_become_one_array_job(executor: AwsBatchExecutor, tmp_path: Path) -> None:
    subs = [_sub(tmp_path, n) for n in range(5)] + [_sub(tmp_path, 9, memory_mb=8192)]
    calls = _Calls(executor.batch)
    handles = executor.submit_batch(subs)
    parent = handles[0].split(":")[0]
    assert handles[:5] == [f"{parent}:{i}" for i in range(5)]
    assert ":" not in handles[5]
    assert calls.counts["SubmitJob"] == 2
    body = calls.params["SubmitJob"][0]
    assert body["arrayProperties"] == {"size": 5}
    env = {e["name"]: e["value"] for e in body["containerOverrides"]["environment"]}
    assert env["OMP_NUM_THREADS"] == "2"  # common to all children: a plain override
    assert env["GWASFLOW_ARGV_3"].split("\n") == ["GWASFLOW_ATTEMPT=run1:s3:1", *subs[3].argv]
    assert body["containerOverrides"]["command"] == ["/bin/sh", "-c", ARRAY_SCRIPT]
    child = executor.batch.describe_jobs(jobs=[handles[2]])["jobs"][0]
    assert child["jobId"] == handles[2]
    statuses = executor.poll(handles)
    assert all(s.state is ExecState.SUCCEEDED for s in statuses.values())


def test_submit_batch__below_array_min_and_unsplittable_args_are_single(job_queue: str, tmp_path: Path) -> None:
    ex = AwsBatchExecutor(job_queue=job_queue, image=IMAGE, array_min=3, poll_min_s=0, poll_max_s=0)
    handles = ex.submit_batch([_sub(tmp_path, 1), _sub(tmp_path, 2)])
    assert all(":" not in h for h in handles)
    odd = _sub(tmp_path, 5, argv=("regenie", "--out", "line\nbreak"))
    handles = ex.submit_batch([_sub(tmp_path, 3), _sub(tmp_path, 4), odd, _sub(tmp_path, 6)])
    assert [":" in h for h in handles] == [True, True, False, True]


def test_submit_batch__payload_budget_splits_arrays(executor: AwsBatchExecutor, tmp_path: Path) -> None:
    long = tuple(["regenie", *[f"--flag{i}=" + "x" * 80 for i in range(20)]])  # ~1.9 kB per child
    subs = [_sub(tmp_path, n, argv=(*long, str(n))) for n in range(30)]
    calls = _Calls(executor.batch)
    handles = executor.submit_batch(subs)
    sizes = [b["arrayProperties"]["size"] for b in calls.params["SubmitJob"]]
    assert sum(sizes) == 30 and len(sizes) >= 3 and max(sizes) <= 13
    assert all(len(json.dumps(b)) < 30 * 1024 for b in calls.params["SubmitJob"])
    assert len({h.split(":")[0] for h in handles}) == len(sizes)


def test_submit__errors_are_SubmitError(job_queue: str, tmp_path: Path) -> None:
    ex = AwsBatchExecutor(job_queue="no-such-queue", image=IMAGE)
    with pytest.raises(SubmitError, match="no-such-queue"):
        ex.submit(_sub(tmp_path, 1))
    with pytest.raises(SubmitError, match="empty command"):
        ex.submit(Submission("j", 1, (), tmp_path / "x.log", Resources()))
    with pytest.raises(SubmitError, match="no container image"):
        AwsBatchExecutor(job_queue=job_queue).submit(_sub(tmp_path, 1))


@pytest.mark.parametrize(("code", "permanent"), [("ServerException", False), ("ClientException", True)])
def test_submit_batch__failure_half_way_carries_what_was_submitted(
    executor: AwsBatchExecutor, tmp_path: Path, code: str, permanent: bool
) -> None:
    from botocore.exceptions import ClientError

    calls = {"n": 0}

    def second_fails(**_: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise ClientError({"Error": {"Code": code, "Message": "try later"}}, "SubmitJob")

    executor.batch.meta.events.register("before-call.batch.SubmitJob", second_fails)
    subs = [_sub(tmp_path, 1), _sub(tmp_path, 2), _sub(tmp_path, 3, memory_mb=4096)]  # array of 2, then a single
    with pytest.raises(SubmitError, match=code) as info:
        executor.submit_batch(subs)
    assert info.value.permanent is permanent
    assert sorted(info.value.submitted) == [0, 1]  # the array went in; its children are tracked
    handles = list(info.value.submitted.values())
    assert all(":" in h for h in handles)
    assert set(executor.poll(handles)) == set(handles)


def test_poll__describe_jobs_at_most_100_ids_per_call(executor: AwsBatchExecutor, tmp_path: Path) -> None:
    handles = [executor.submit(_sub(tmp_path, n)) for n in range(250)]
    calls = _Calls(executor.batch)
    statuses = executor.poll(handles)
    assert calls.counts == {"DescribeJobs": 3}
    assert [len(b["jobs"]) for b in calls.params["DescribeJobs"]] == [100, 100, 50]
    assert all(s.state is ExecState.SUCCEEDED for s in statuses.values())
    executor.poll(handles)  # all finished: no further calls
    assert calls.counts == {"DescribeJobs": 3}


def test_poll__succeeded_array_answered_by_its_parent(executor: AwsBatchExecutor, tmp_path: Path) -> None:
    handles = executor.submit_batch([_sub(tmp_path, n, argv=("regenie", str(n))) for n in range(200)])
    assert len({h.split(":")[0] for h in handles}) == 1
    calls = _Calls(executor.batch)
    statuses = executor.poll(handles)
    assert calls.counts == {"DescribeJobs": 1} and calls.params["DescribeJobs"][0]["jobs"] == [handles[0][:-2]]
    assert all(s.state is ExecState.SUCCEEDED and s.exit_code == 0 for s in statuses.values())


def test_poll__failed_array_children_described_in_pages(
    executor: AwsBatchExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_SIMPLE_BATCH_FAIL_AFTER", "0")  # read by the in-process moto server
    handles = executor.submit_batch([_sub(tmp_path, n, argv=("regenie", str(n))) for n in range(150)])
    calls = _Calls(executor.batch)
    statuses = executor.poll(handles)
    assert calls.counts == {"DescribeJobs": 3}  # the parent, then 100 + 50 children
    assert all(s.state is ExecState.FAILED for s in statuses.values())


def test_poll__rate_limited_with_back_off(job_queue: str, tmp_path: Path) -> None:
    ex = AwsBatchExecutor(job_queue=job_queue, image=IMAGE, poll_min_s=30, poll_max_s=60)
    handle = ex.submit(_sub(tmp_path, 1))
    calls = _Calls(ex.batch)
    ex._next_query = 0.0  # as if poll_min_s had passed since the submission
    assert ex.poll([handle])[handle].state is ExecState.SUCCEEDED
    other = ex.submit(_sub(tmp_path, 2))
    status = ex.poll([other])[other]
    assert status.state is ExecState.PENDING  # no query yet: within poll_min_s of the submission
    assert calls.counts["DescribeJobs"] == 1


def test_poll__unknown_handle_pending_then_lost(job_queue: str) -> None:
    ex = AwsBatchExecutor(job_queue=job_queue, image=IMAGE, poll_min_s=0, poll_max_s=0, lost_after_s=0.2)
    ghost = str(uuid.uuid4())
    assert ex.poll([ghost])[ghost].state is ExecState.PENDING
    time.sleep(0.3)
    status = ex.poll([ghost])[ghost]
    assert status.state is ExecState.LOST and "unknown to AWS Batch" in status.reason
    assert status.cause is ExecCause.INTERRUPTED


def test_cancel__one_terminate_per_array_and_per_single(executor: AwsBatchExecutor, tmp_path: Path) -> None:
    array = executor.submit_batch([_sub(tmp_path, n) for n in range(4)])
    single = executor.submit(_sub(tmp_path, 7, memory_mb=1024))
    calls = _Calls(executor.batch)
    executor.cancel([*array, single])
    terminated = sorted(b["jobId"] for b in calls.params["TerminateJob"])
    assert terminated == sorted([array[0].split(":")[0], single])
    statuses = executor.poll([*array, single])
    assert all(s.state is ExecState.CANCELLED for s in statuses.values())
    job = executor.batch.describe_jobs(jobs=[single])["jobs"][0]
    assert job["statusReason"] == "gwasflow: cancelled"


def test_cancel__some_children_terminated_one_by_one(executor: AwsBatchExecutor, tmp_path: Path) -> None:
    array = executor.submit_batch([_sub(tmp_path, n) for n in range(4)])
    calls = _Calls(executor.batch)
    executor.cancel(array[1:3])
    assert sorted(b["jobId"] for b in calls.params["TerminateJob"]) == array[1:3]


def test_cancel__reattached_children_terminated_one_by_one(job_queue: str, tmp_path: Path) -> None:
    first = AwsBatchExecutor(job_queue=job_queue, image=IMAGE, poll_min_s=0, poll_max_s=0)
    array = first.submit_batch([_sub(tmp_path, n) for n in range(3)])
    fresh = AwsBatchExecutor(job_queue=job_queue, image=IMAGE, poll_min_s=0, poll_max_s=0)
    fresh.reattach(array[:2])
    calls = _Calls(fresh.batch)
    fresh.cancel(array[:2])  # a restarted driver does not know the array's size: never terminate the parent
    assert sorted(b["jobId"] for b in calls.params["TerminateJob"]) == sorted(array[:2])


def test_reattach__returns_handles_batch_knows(executor: AwsBatchExecutor, job_queue: str, tmp_path: Path) -> None:
    handles = [*executor.submit_batch([_sub(tmp_path, n) for n in range(3)]), executor.submit(_sub(tmp_path, 8))]
    fresh = AwsBatchExecutor(job_queue=job_queue, image=IMAGE, poll_min_s=0, poll_max_s=0)
    ghost = str(uuid.uuid4())
    assert fresh.reattach([*handles, ghost]) == handles
    assert all(s.state is ExecState.SUCCEEDED for s in fresh.poll(handles).values())


def _put_log(executor: AwsBatchExecutor, handle: str, messages: list[str]) -> None:
    """Write the job's CloudWatch stream in moto, where the Batch container would have logged."""
    import boto3

    stream = executor.batch.describe_jobs(jobs=[handle])["jobs"][0]["container"]["logStreamName"]
    logs = boto3.client("logs")
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName="/aws/batch/job")
    logs.create_log_stream(logGroupName="/aws/batch/job", logStreamName=stream)
    now = int(time.time() * 1000)
    events = [{"timestamp": now + i, "message": m} for i, m in enumerate(messages)]
    logs.put_log_events(logGroupName="/aws/batch/job", logStreamName=stream, logEvents=events)


def test_logs__cloudwatch_stream_tail(executor: AwsBatchExecutor, tmp_path: Path) -> None:
    handle = executor.submit(_sub(tmp_path, 1))
    _put_log(executor, handle, [f"line {i}" for i in range(10)])
    assert executor.logs(handle, tail=3) == "line 7\nline 8\nline 9"
    assert executor.logs(str(uuid.uuid4())) == ""


def test_poll__failed_attempt_log_copied_to_log_path(
    executor: AwsBatchExecutor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOTO_SIMPLE_BATCH_FAIL_AFTER", "0")
    sub = _sub(tmp_path, 3)
    handle = executor.submit(sub)
    _put_log(executor, handle, ["ERROR: could not open x"])
    assert executor.poll([handle])[handle].state is ExecState.FAILED
    assert "ERROR: could not open x" in sub.log_path.read_text()


def test_driver_run__batch_poll_failures_reach_the_runs_events(
    job_queue: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    from gwasflow.core.rundir import RunDir
    from gwasflow.core.states import RunState, Step
    from gwasflow.engine.driver import Driver
    from gwasflow.plan.model import Job, JobGraph, JobKind
    from gwasflow.store import MemoryStore

    ex = AwsBatchExecutor(job_queue=job_queue, image=IMAGE, poll_min_s=0, poll_max_s=0)
    real = ex.batch.describe_jobs
    throttled = iter(range(2))

    def describe_jobs(**kwargs: Any) -> Any:
        if next(throttled, None) is not None:  # the first two rounds: Batch throttles
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Too Many Requests"}},
                              "DescribeJobs")
        return real(**kwargs)

    monkeypatch.setattr(ex.batch, "describe_jobs", describe_jobs)
    graph = JobGraph([Job(id="s1", step=Step.STEP2, kind=JobKind.COMMAND, argv=("regenie", "--step", "2"))])
    store = MemoryStore()
    store.create_run("r1", "t", "{}", "{}")
    store.add_jobs("r1", [("s1", "step2")])
    rundir = RunDir(tmp_path / "out")
    (tmp_path / "ws").mkdir()
    driver = Driver(run_id="r1", graph=graph, store=store, executor=ex, rundir=rundir, workspace=tmp_path / "ws",
                    poll_interval_s=0.01)
    try:
        outcome = driver.run()
    finally:
        ex.close()
    assert outcome.state is RunState.SUCCEEDED
    events = [json.loads(line) for line in rundir.events_path.read_text().splitlines()]
    failed = [e for e in events if e["event"] == "batch_poll_failed"]
    assert len(failed) == 2
    assert all(e["level"] == "warning" and e["throttled"] is True and "Too Many Requests" in str(e["error"])
               for e in failed)
    names = [e["event"] for e in events]
    assert names.index("submitted") < names.index("batch_poll_failed") < names.index("run_finished")
