"""Failure log sinks on a real AWS API server (moto, loopback): S3 objects, DynamoDB items, retry by edit."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import boto3

from gwasflow.core.rundir import RunDir
from gwasflow.core.states import RunState, Step
from gwasflow.engine.driver import Driver
from gwasflow.engine.failure_log import DynamoDBSink, FailureSink, S3Sink, make_sink
from gwasflow.executors.local import LocalExecutor
from gwasflow.plan.model import Job, JobGraph, JobKind, Resources
from gwasflow.spec.model import RetrySpec
from gwasflow.store import MemoryStore

PY = sys.executable


def _job(job_id: str, code: str, outputs: tuple[str, ...] = ()) -> Job:
    return Job(id=job_id, step=Step.STEP2, kind=JobKind.COMMAND, argv=(PY, "-c", code), outputs=outputs,
               resources=Resources(memory_mb=1000, time_s=60))


def _drive(tmp_path: Path, jobs: list[Job], sink: FailureSink) -> MemoryStore:
    store = MemoryStore()
    store.create_run("run-1", "t", "{}", "{}")
    graph = JobGraph(jobs)
    store.add_jobs("run-1", [(j.id, j.step.value) for j in graph])
    (tmp_path / "ws").mkdir()
    executor = LocalExecutor(max_parallel=2)
    try:
        Driver(run_id="run-1", graph=graph, store=store, executor=executor, rundir=RunDir(tmp_path / "out"),
               workspace=tmp_path / "ws", poll_interval_s=0.05, retry=RetrySpec(max_attempts=2, backoff_s=0),
               failure_sink=sink).run()
    finally:
        executor.close()
    return store


def test_s3_sink__one_json_object_per_failed_attempt(tmp_path: Path, aws_endpoint: str) -> None:
    boto3.client("s3").create_bucket(Bucket="gwasflow-failures")
    sink = make_sink("s3://gwasflow-failures/logs")
    assert isinstance(sink, S3Sink)
    store = _drive(tmp_path, [_job("boom", "print('bad things'); raise SystemExit(5)")], sink)
    assert store.get_run("run-1").state is RunState.FAILED
    s3 = boto3.client("s3")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="gwasflow-failures")["Contents"])
    assert keys == ["logs/run-1/boom.attempt-1.json", "logs/run-1/boom.attempt-2.json"]
    body = json.loads(s3.get_object(Bucket="gwasflow-failures", Key=keys[0])["Body"].read())
    assert (body["job_id"], body["attempt"], body["error_type"], body["exit_code"]) == ("boom", 1, "crash", 5)
    assert "bad things" in body["log_tail"]
    assert body["resources"]["memory_mb"] == 1000


def test_dynamodb_sink__editing_action_to_retry_reruns_the_job_in_a_live_run(
    tmp_path: Path, aws_endpoint: str
) -> None:
    sink = DynamoDBSink("gwasflow-failures-live")
    marker, out = tmp_path / "fixed", tmp_path / "out.txt"
    flaky = (f"import os, sys\nif not os.path.exists({str(marker)!r}):\n"
             "    print('error: --phenoFile p.txt: no such file', file=sys.stderr)\n"
             "    print('gwasflow-error: bad_input', file=sys.stderr); sys.exit(2)\n"
             f"open({str(out)!r}, 'w').write('ok')")
    # a long job keeps the run alive while the scientist edits the failure record
    keeper = _job("keeper", f"import time, os\nwhile not os.path.exists({str(out)!r}): time.sleep(0.1)")
    db = boto3.client("dynamodb")

    def scientist() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            items = db.scan(TableName="gwasflow-failures-live")["Items"]
            if items:
                marker.touch()
                db.update_item(
                    TableName="gwasflow-failures-live", Key={"run_id": items[0]["run_id"],
                                                             "failure_id": items[0]["failure_id"]},
                    UpdateExpression="SET #a = :r, memory = :m",
                    ExpressionAttributeNames={"#a": "action"},
                    ExpressionAttributeValues={":r": {"S": "retry"}, ":m": {"S": "8G"}},
                )
                return
            time.sleep(0.2)

    editor = threading.Thread(target=scientist)
    editor.start()
    store = _drive(tmp_path, [_job("flaky", flaky, (str(out),)), keeper], sink)
    editor.join()
    attempts = store.list_attempts("run-1", "flaky")
    assert [a.error_type for a in attempts] == ["bad_input", None]
    assert '"memory_mb": 8192' in attempts[1].resources_json
    assert store.get_run("run-1").state is RunState.SUCCEEDED
    item = db.scan(TableName="gwasflow-failures-live")["Items"][0]
    assert item["action"]["S"] == "retrying" and item["error_type"]["S"] == "bad_input"


def test_make_sink__rejects_unknown_targets() -> None:
    assert make_sink(None) is None
    try:
        make_sink("ftp://nope")
    except ValueError as exc:
        assert "failure_log" in str(exc)
    else:
        raise AssertionError("expected ValueError")
