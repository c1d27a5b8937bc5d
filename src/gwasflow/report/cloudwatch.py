"""Publish a run's metrics to Amazon CloudWatch (``metrics: cloudwatch`` in the spec).

The same figures as ``gwasflow metrics`` (see ``report/metrics.py``), as CloudWatch metric data in the
``gwasflow`` namespace, with dimensions ``Run`` (the run id) and, per step, ``Step``:

* ``RunElapsedSeconds``, ``FailedAttempts`` (per run) and ``FailedAttempts`` with an ``ErrorType``
  dimension, one datum per error type seen;
* per step: ``StepElapsedSeconds``, ``QueueWaitMeanSeconds``, ``Jobs``, ``FailedJobs``, ``Attempts``.

boto3 takes the region, credentials and endpoint from the environment as usual. PutMetricData accepts at
most 1,000 data per call; data are sent in pages of 500.
"""

from __future__ import annotations

from typing import Any

from gwasflow.core.states import JobState
from gwasflow.report.metrics import RunMetrics

__all__ = ["NAMESPACE", "metric_data", "publish_cloudwatch"]

NAMESPACE = "gwasflow"
_PAGE = 500
_FAILED_STATES = (JobState.FAILED, JobState.UPSTREAM_FAILED, JobState.CANCELLED)


def _datum(name: str, value: float, unit: str, **dimensions: str) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Value": float(value),
        "Unit": unit,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
    }


def metric_data(m: RunMetrics) -> list[dict[str, Any]]:
    """The CloudWatch data for one run (pure: no AWS call)."""
    data = [
        _datum("RunElapsedSeconds", m.elapsed_s, "Seconds", Run=m.run_id),
        _datum("FailedAttempts", m.failed_attempts, "Count", Run=m.run_id),
    ]
    data += [
        _datum("FailedAttempts", n, "Count", Run=m.run_id, ErrorType=error)
        for error, n in sorted(m.failed_by_error_type.items())
    ]
    for step in m.steps:
        failed_jobs = sum(step.state_counts.get(s, 0) for s in _FAILED_STATES)
        data += [
            _datum("StepElapsedSeconds", step.elapsed_s, "Seconds", Run=m.run_id, Step=step.step),
            _datum("QueueWaitMeanSeconds", step.queue_wait_mean_s, "Seconds", Run=m.run_id, Step=step.step),
            _datum("Jobs", step.jobs, "Count", Run=m.run_id, Step=step.step),
            _datum("FailedJobs", failed_jobs, "Count", Run=m.run_id, Step=step.step),
            _datum("Attempts", step.attempts, "Count", Run=m.run_id, Step=step.step),
        ]
    return data


def publish_cloudwatch(m: RunMetrics, *, namespace: str = NAMESPACE, client: Any = None) -> int:
    """Send the run's metric data; returns how many data were sent."""
    if client is None:
        import boto3  # the [aws] extra

        client = boto3.client("cloudwatch")
    data = metric_data(m)
    for start in range(0, len(data), _PAGE):
        client.put_metric_data(Namespace=namespace, MetricData=data[start : start + _PAGE])
    return len(data)
