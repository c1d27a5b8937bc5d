"""Failure log sinks outside the run store: S3 objects or a DynamoDB table.

Every failed attempt is always in the run's SQLite store. With
``failure_log: s3://bucket/prefix`` each failure is also written as one JSON
object (``<prefix>/<run_id>/<job_id>.attempt-<n>.json``); with
``failure_log: dynamodb:TABLE`` as one item (partition key ``run_id``, sort key
``failure_id`` = ``<job_id>#<attempt>``).

The DynamoDB table doubles as a control surface, as in the classic
regenie-on-AWS design: setting an item's ``action`` attribute to ``retry``
(optionally with ``memory`` like ``16G`` and ``time`` like ``2h``) asks the
running driver -- or the next ``gwasflow resume`` -- to re-run that job with
those resources. The driver marks the item ``action = retrying`` when it
takes the request (a conditional update, so a request is taken once).
boto3 picks up the endpoint and credentials from the environment as usual
(``AWS_ENDPOINT_URL`` for a test server); nothing is logged about them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

from gwasflow.core.events import EventLog
from gwasflow.core.states import JobState
from gwasflow.engine.machine import Scheduler
from gwasflow.store import Store
from gwasflow.units import parse_memory_mb, parse_seconds

__all__ = [
    "DynamoDBSink",
    "FailureRecord",
    "FailureSink",
    "RetryAsk",
    "S3Sink",
    "apply_retry_asks",
    "collect_retry_asks",
    "make_sink",
    "report_failure",
]


@dataclass(frozen=True)
class FailureRecord:
    run_id: str
    job_id: str
    attempt: int
    error_type: str
    exit_code: int | None
    signal: int | None
    reason: str
    log_tail: str
    resources: dict[str, int]
    recorded_at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "job_id": self.job_id, "attempt": self.attempt, "error_type": self.error_type,
            "exit_code": self.exit_code, "signal": self.signal, "reason": self.reason, "log_tail": self.log_tail,
            "resources": self.resources, "recorded_at": self.recorded_at,
        }


@dataclass(frozen=True)
class RetryAsk:
    """A retry asked for by editing a failure record."""

    job_id: str
    memory_mb: int | None
    time_s: int | None


class FailureSink(Protocol):
    def record(self, failure: FailureRecord) -> None: ...

    def retry_asks(self, run_id: str) -> list[RetryAsk]: ...


def _client(service: str) -> Any:
    import boto3  # the [aws] extra; imported only when a sink is configured

    return boto3.client(service)


class S3Sink:
    """One JSON object per failure under ``s3://bucket/prefix/<run_id>/``."""

    def __init__(self, uri: str) -> None:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"failure_log: no bucket in {uri!r}")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self._s3 = _client("s3")

    def key(self, failure: FailureRecord) -> str:
        name = f"{failure.run_id}/{failure.job_id}.attempt-{failure.attempt}.json"
        return f"{self.prefix}/{name}" if self.prefix else name

    def record(self, failure: FailureRecord) -> None:
        body = json.dumps(failure.to_dict(), indent=1).encode()
        self._s3.put_object(Bucket=self.bucket, Key=self.key(failure), Body=body, ContentType="application/json")

    def retry_asks(self, run_id: str) -> list[RetryAsk]:
        return []


class DynamoDBSink:
    """One item per failure in a DynamoDB table; ``action = retry`` items are retry requests."""

    def __init__(self, table: str, *, create: bool = True) -> None:
        if not table:
            raise ValueError("failure_log: dynamodb:TABLE needs a table name")
        self.table = table
        self._db = _client("dynamodb")
        if create:
            self._ensure_table()

    def _ensure_table(self) -> None:
        try:
            self._db.describe_table(TableName=self.table)
            return
        except self._db.exceptions.ResourceNotFoundException:
            pass
        self._db.create_table(
            TableName=self.table,
            KeySchema=[{"AttributeName": "run_id", "KeyType": "HASH"},
                       {"AttributeName": "failure_id", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "run_id", "AttributeType": "S"},
                                  {"AttributeName": "failure_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self._db.get_waiter("table_exists").wait(TableName=self.table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})

    def record(self, failure: FailureRecord) -> None:
        item: dict[str, Any] = {
            "run_id": {"S": failure.run_id},
            "failure_id": {"S": f"{failure.job_id}#{failure.attempt}"},
            "job_id": {"S": failure.job_id},
            "attempt": {"N": str(failure.attempt)},
            "error_type": {"S": failure.error_type},
            "reason": {"S": failure.reason or "-"},
            "log_tail": {"S": failure.log_tail or "-"},
            "resources": {"S": json.dumps(failure.resources)},
            "recorded_at": {"N": f"{failure.recorded_at:.3f}"},
            "action": {"S": "none"},
        }
        for name, value in (("exit_code", failure.exit_code), ("signal", failure.signal)):
            if value is not None:
                item[name] = {"N": str(value)}
        self._db.put_item(TableName=self.table, Item=item)

    def retry_asks(self, run_id: str) -> list[RetryAsk]:
        """Items of this run marked ``action = retry``, each taken once (marked ``retrying``)."""
        asks: list[RetryAsk] = []
        pages = self._db.get_paginator("query").paginate(
            TableName=self.table,
            KeyConditionExpression="run_id = :r",
            FilterExpression="#a = :retry",
            ExpressionAttributeNames={"#a": "action"},
            ExpressionAttributeValues={":r": {"S": run_id}, ":retry": {"S": "retry"}},
        )
        for page in pages:
            for item in page.get("Items", []):
                ask = self._take(item)
                if ask is not None:
                    asks.append(ask)
        return asks

    def _take(self, item: dict[str, Any]) -> RetryAsk | None:
        try:
            self._db.update_item(
                TableName=self.table,
                Key={"run_id": item["run_id"], "failure_id": item["failure_id"]},
                UpdateExpression="SET #a = :taken, taken_at = :t",
                ConditionExpression="#a = :retry",
                ExpressionAttributeNames={"#a": "action"},
                ExpressionAttributeValues={":taken": {"S": "retrying"}, ":retry": {"S": "retry"},
                                           ":t": {"N": f"{time.time():.3f}"}},
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return None  # someone else took it
        memory = item.get("memory", {}).get("S") or item.get("memory", {}).get("N")
        time_limit = item.get("time", {}).get("S") or item.get("time", {}).get("N")
        return RetryAsk(
            job_id=item["job_id"]["S"],
            memory_mb=parse_memory_mb(memory) if memory else None,
            time_s=parse_seconds(time_limit) if time_limit else None,
        )


def make_sink(target: str | None) -> FailureSink | None:
    """The sink a spec's ``failure_log`` names, or None."""
    if not target:
        return None
    if target.startswith("s3://"):
        return S3Sink(target)
    if target.startswith("dynamodb:"):
        return DynamoDBSink(target.removeprefix("dynamodb:"))
    raise ValueError(f"failure_log must be s3://bucket/prefix or dynamodb:TABLE, got {target!r}")


def report_failure(sink: FailureSink | None, failure: FailureRecord, events: EventLog) -> None:
    """Copy a failure to the external failure log, if one is configured; its errors are events, never fatal."""
    if sink is None:
        return
    try:
        sink.record(failure)
    except Exception as exc:  # the external log must never stop the run
        events.warning("failure_log_error", job=failure.job_id, error=f"{type(exc).__name__}: {exc}")


def collect_retry_asks(store: Store, run_id: str, sink: FailureSink | None, events: EventLog) -> list[RetryAsk]:
    """Retry requests of a live run: store rows (``gwasflow retry``, the dashboard), then edited failure records."""
    asks = [RetryAsk(r.job_id, r.memory_mb, r.time_s) for r in store.take_retry_requests(run_id)]
    if sink is not None:
        try:
            asks += sink.retry_asks(run_id)
        except Exception as exc:  # the external log must never stop the run
            events.warning("failure_log_error", error=f"{type(exc).__name__}: {exc}")
    return asks


def apply_retry_asks(asks: list[RetryAsk], scheduler: Scheduler, store: Store, run_id: str,
                     events: EventLog) -> list[str]:
    """Reopen each failed job asked for (with the memory/time asked, if any); the job ids reopened."""
    reopened = []
    for ask in asks:
        if scheduler.states().get(ask.job_id) is not JobState.FAILED:
            events.emit("retry_request_ignored", job=ask.job_id, why="job is not failed")
            continue
        if ask.memory_mb is not None or ask.time_s is not None:
            record = store.get_job(run_id, ask.job_id)
            store.set_job_overrides(run_id, ask.job_id, memory_mb=ask.memory_mb or record.memory_mb,
                                    time_s=ask.time_s or record.time_s)
        store.set_job_states(run_id, scheduler.reopen([ask.job_id]))
        reopened.append(ask.job_id)
        events.emit("retry_requested", job=ask.job_id, memory_mb=ask.memory_mb, time_s=ask.time_s)
    return reopened
