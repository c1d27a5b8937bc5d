"""Run metrics published to CloudWatch on a real AWS API server (moto, loopback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import boto3
import yaml

from gwasflow.commands.demo import write_demo
from gwasflow.core.states import JobState, RunState
from gwasflow.report.cloudwatch import metric_data, publish_cloudwatch
from gwasflow.report.metrics import collect_metrics
from gwasflow.store import MemoryStore


def _store() -> MemoryStore:
    store = MemoryStore()
    store.create_run("run-7", "t", "{}", "{}")
    store.add_jobs("run-7", [("step1", "step1"), ("s2", "step2")])
    for job, error in (("step1", None), ("s2", "out_of_memory"), ("s2", None)):
        n = store.new_attempt("run-7", job, executor="local", log_path="/l", resources_json="{}")
        store.mark_attempt_running("run-7", job, n, started_at=100.0 + n)
        store.finish_attempt("run-7", job, n, state="failed" if error else "succeeded", exit_code=1 if error else 0,
                             signal=None, error_type=error, reason="", log_tail="", ended_at=110.0 + n)
    store.set_job_states("run-7", [("step1", JobState.SUCCEEDED), ("s2", JobState.SUCCEEDED)])
    store.set_run_state("run-7", RunState.SUCCEEDED)
    return store


def test_metric_data__one_datum_per_figure_with_run_and_step_dimensions() -> None:
    data = metric_data(collect_metrics(_store(), "run-7", now=200.0))
    names = {(d["MetricName"], tuple(x["Value"] for x in d["Dimensions"])) for d in data}
    assert ("FailedAttempts", ("run-7", "out_of_memory")) in names
    assert ("StepElapsedSeconds", ("run-7", "step2")) in names
    failed = next(d for d in data if d["MetricName"] == "FailedAttempts" and len(d["Dimensions"]) == 1)
    assert failed["Value"] == 1.0


def test_publish_cloudwatch__data_arrive_in_cloudwatch(aws_endpoint: str) -> None:
    sent = publish_cloudwatch(collect_metrics(_store(), "run-7", now=200.0), namespace="gwasflow-test")
    listed = boto3.client("cloudwatch").list_metrics(Namespace="gwasflow-test")["Metrics"]
    assert sent == len(listed) > 0
    assert {m["MetricName"] for m in listed} >= {"RunElapsedSeconds", "FailedAttempts", "StepElapsedSeconds"}


def test_run__metrics_cloudwatch_publishes_at_the_end_of_a_run(tmp_path: Path, aws_endpoint: str) -> None:
    spec = write_demo(tmp_path / "d", n_samples=300, n_variants=600, seed=2)
    data = yaml.safe_load(spec.read_text())
    data["metrics"] = "cloudwatch"
    spec.write_text(yaml.safe_dump(data))
    proc = subprocess.run([sys.executable, "-m", "gwasflow", "run", str(spec), "--quiet"], capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    metrics = boto3.client("cloudwatch").list_metrics(Namespace="gwasflow", MetricName="StepElapsedSeconds")
    steps = {d["Value"] for m in metrics["Metrics"] for d in m["Dimensions"] if d["Name"] == "Step"}
    assert {"step1", "step2", "merge"} <= steps
