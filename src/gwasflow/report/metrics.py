"""Run metrics from the store: per run, step and job.

Definitions (all times in seconds, from the attempts the store recorded):

* an attempt's **queue wait** is ``started_at - submitted_at`` and its **run
  time** is ``ended_at - started_at``; an attempt still active counts up to
  ``now``;
* a job's ``elapsed_s`` is the sum of its attempts' run times and its
  ``queue_wait_s`` the sum of their queue waits;
* a step's ``elapsed_s`` is wall time, from its first submission to its last
  end; ``busy_s`` is the sum of its jobs' run times;
* the run's ``elapsed_s`` runs from its creation to its last state change if
  it finished, else to ``now``;
* a **failed attempt** is one the driver recorded as ``failed``; it is counted
  under its ``error_type`` (``unknown`` when none was recorded).

CPU time and peak memory are what the executor measured of each attempt
(``cpu_time_s``, ``peak_memory_mb`` in the store, listed per attempt in
``JobMetrics.attempt_usage``); a job's CPU time is the sum over its attempts,
its peak memory the largest. Where no attempt carries them (executors that
do not measure, stores written before schema version 2) they are ``None``
and the Prometheus output leaves their series out.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from gwasflow.core.states import FINISHED_RUN_STATES, AttemptState, ErrorType, JobState, Step
from gwasflow.store import AttemptRecord, Store

__all__ = [
    "AttemptMetrics",
    "JobMetrics",
    "RunMetrics",
    "StepMetrics",
    "collect_metrics",
    "format_duration",
    "format_json",
    "format_prometheus",
    "format_table",
]

FAILED_ATTEMPT = AttemptState.FAILED
UNKNOWN_ERROR = "unknown"


@dataclass(frozen=True)
class AttemptMetrics:
    """One attempt: how it ended and what the executor measured of it."""

    attempt: int
    state: str
    error_type: str | None
    elapsed_s: float
    cpu_time_s: float | None
    peak_memory_mb: float | None


@dataclass(frozen=True)
class JobMetrics:
    job_id: str
    step: str
    state: str
    attempts: int
    failed_attempts: int
    elapsed_s: float
    queue_wait_s: float
    last_error_type: str | None = None
    cpu_time_s: float | None = None
    peak_memory_mb: float | None = None
    attempt_usage: list[AttemptMetrics] = field(default_factory=list)


@dataclass(frozen=True)
class StepMetrics:
    step: str
    jobs: int
    state_counts: dict[str, int]
    attempts: int
    failed_attempts: int
    elapsed_s: float
    busy_s: float
    queue_wait_mean_s: float
    queue_wait_max_s: float
    failed_by_error_type: dict[str, int] = field(default_factory=dict)
    cpu_time_s: float | None = None
    peak_memory_mb: float | None = None


@dataclass(frozen=True)
class RunMetrics:
    run_id: str
    name: str
    state: str
    created_at: float
    elapsed_s: float
    jobs: int
    attempts: int
    failed_attempts: int
    state_counts: dict[str, int]
    failed_by_error_type: dict[str, int]
    steps: list[StepMetrics]
    job_metrics: list[JobMetrics]


# --------------------------------------------------------------------------- collecting


def collect_metrics(store: Store, run_id: str, *, now: float | None = None) -> RunMetrics:
    """Metrics of one run, read from ``store`` (``now`` defaults to the current time)."""
    now = time.time() if now is None else now
    run = store.get_run(run_id)
    by_job: dict[str, list[AttemptRecord]] = {}
    for attempt in store.list_attempts(run_id):
        by_job.setdefault(attempt.job_id, []).append(attempt)
    jobs = [_job(j.job_id, j.step, j.state.value, by_job.get(j.job_id, []), now) for j in store.list_jobs(run_id)]
    steps = [
        _step(
            step,
            [j for j in jobs if j.step == step],
            [a for j in jobs if j.step == step for a in by_job.get(j.job_id, [])],
            now,
        )
        for step in _ordered({j.step for j in jobs})
    ]
    failed = Counter(_error(a) for attempts in by_job.values() for a in attempts if a.state == FAILED_ATTEMPT)
    end = run.updated_at if run.state in FINISHED_RUN_STATES else now
    return RunMetrics(
        run_id=run.run_id,
        name=run.name,
        state=run.state.value,
        created_at=run.created_at,
        elapsed_s=max(0.0, end - run.created_at),
        jobs=len(jobs),
        attempts=sum(j.attempts for j in jobs),
        failed_attempts=sum(failed.values()),
        state_counts=dict(sorted(Counter(j.state for j in jobs).items())),
        failed_by_error_type=dict(sorted(failed.items())),
        steps=steps,
        job_metrics=jobs,
    )


def _job(job_id: str, step: str, state: str, attempts: Sequence[AttemptRecord], now: float) -> JobMetrics:
    failed = [a for a in attempts if a.state == FAILED_ATTEMPT]
    return JobMetrics(
        job_id=job_id,
        step=step,
        state=state,
        attempts=len(attempts),
        failed_attempts=len(failed),
        elapsed_s=sum((_run_time(a, now) for a in attempts), 0.0),
        queue_wait_s=sum((_queue_wait(a, now) for a in attempts), 0.0),
        last_error_type=_error(failed[-1]) if failed else None,
        cpu_time_s=_sum_optional(a.cpu_time_s for a in attempts),
        peak_memory_mb=_max_optional(a.peak_memory_mb for a in attempts),
        attempt_usage=[AttemptMetrics(a.attempt, a.state.value, a.error_type, _run_time(a, now), a.cpu_time_s,
                                      a.peak_memory_mb) for a in attempts],
    )


def _step(step: str, jobs: Sequence[JobMetrics], attempts: Sequence[AttemptRecord], now: float) -> StepMetrics:
    waits = [_queue_wait(a, now) for a in attempts]
    ends = [a.ended_at if a.ended_at is not None else now for a in attempts]
    failed = Counter(_error(a) for a in attempts if a.state == FAILED_ATTEMPT)
    return StepMetrics(
        step=step,
        jobs=len(jobs),
        state_counts=dict(sorted(Counter(j.state for j in jobs).items())),
        attempts=len(attempts),
        failed_attempts=sum(failed.values()),
        elapsed_s=max(ends) - min(a.submitted_at for a in attempts) if attempts else 0.0,
        busy_s=sum((j.elapsed_s for j in jobs), 0.0),
        queue_wait_mean_s=sum(waits) / len(waits) if waits else 0.0,
        queue_wait_max_s=max(waits, default=0.0),
        failed_by_error_type=dict(sorted(failed.items())),
        cpu_time_s=_sum_optional(j.cpu_time_s for j in jobs),
        peak_memory_mb=_max_optional(j.peak_memory_mb for j in jobs),
    )


def _queue_wait(a: AttemptRecord, now: float) -> float:
    started = a.started_at if a.started_at is not None else (a.ended_at if a.ended_at is not None else now)
    return max(0.0, started - a.submitted_at)


def _run_time(a: AttemptRecord, now: float) -> float:
    if a.started_at is None:
        return 0.0
    return max(0.0, (a.ended_at if a.ended_at is not None else now) - a.started_at)


def _error(a: AttemptRecord) -> str:
    return a.error_type or UNKNOWN_ERROR


def _sum_optional(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return math.fsum(known) if known else None


def _max_optional(values: Iterable[float | None]) -> float | None:
    return max((v for v in values if v is not None), default=None)


def _ordered(steps: set[str]) -> list[str]:
    order = {s.value: i for i, s in enumerate(Step)}
    return sorted(steps, key=lambda s: (order.get(s, len(order)), s))


# --------------------------------------------------------------------------- formats


def format_json(m: RunMetrics) -> str:
    """All metrics, jobs included, as indented JSON."""
    return json.dumps(dataclasses.asdict(m), indent=2) + "\n"


def format_table(m: RunMetrics, *, slowest: int = 10) -> str:
    """A plain-text report: the run, one row per step, failures by error type, the slowest jobs."""
    d = format_duration
    out = [
        f"run {m.run_id} ({m.name}): {m.state}, {d(m.elapsed_s)}, {m.jobs} jobs, "
        f"{m.attempts} attempts, {m.failed_attempts} failed",
        "",
    ]
    header = "step jobs states attempts failed elapsed busy queue_mean queue_max cpu peak_mem"
    rows = [header.split()]
    for s in m.steps:
        rows.append([
            s.step, str(s.jobs), " ".join(f"{k}={v}" for k, v in s.state_counts.items()), str(s.attempts),
            str(s.failed_attempts), d(s.elapsed_s), d(s.busy_s), d(s.queue_wait_mean_s),
            d(s.queue_wait_max_s), d(s.cpu_time_s) if s.cpu_time_s is not None else "-",
            f"{s.peak_memory_mb:.0f} MB" if s.peak_memory_mb is not None else "-",
        ])  # fmt: skip
    out += _aligned(rows)
    if m.failed_by_error_type:
        out += [
            "",
            *_aligned([["error type", "failed attempts"], *([k, str(v)] for k, v in m.failed_by_error_type.items())]),
        ]
    jobs = sorted(m.job_metrics, key=lambda j: -j.elapsed_s)[:slowest]
    if jobs:
        out += ["", f"slowest {len(jobs)} jobs:"]
        out += _aligned(
            [["job", "step", "state", "attempts", "elapsed", "queue", "cpu", "peak_mem"]]
            + [
                [
                    j.job_id,
                    j.step,
                    j.state,
                    str(j.attempts),
                    d(j.elapsed_s),
                    d(j.queue_wait_s),
                    d(j.cpu_time_s) if j.cpu_time_s is not None else "-",
                    f"{j.peak_memory_mb:.0f} MB" if j.peak_memory_mb is not None else "-",
                ]
                for j in jobs
            ]
        )
    return "\n".join(out) + "\n"


def _aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def format_duration(seconds: float) -> str:
    """``42.0s``, ``3m07s``, ``2h05m``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{seconds % 60:02.0f}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


# --------------------------------------------------------------------------- Prometheus


def format_prometheus(m: RunMetrics, *, per_job: bool = False) -> str:
    """Prometheus text exposition format (version 0.0.4), one family per metric.

    Per-job series (``gwasflow_job_*``, one label per job) only with
    ``per_job``: a run can have 100,000 jobs, too many series for most servers.
    """
    run = {"run": m.run_id}
    families: list[tuple[str, str, str, list[tuple[dict[str, str], float]]]] = [
        ("gwasflow_run_info", "gauge", "The run, its name and state (always 1).",
         [({**run, "name": m.name, "state": m.state}, 1.0)]),
        ("gwasflow_run_elapsed_seconds", "gauge", "Wall time of the run so far.", [(run, m.elapsed_s)]),
        ("gwasflow_jobs", "gauge", "Jobs per step and state.",
         [({**run, "step": s.step, "state": st}, float(n)) for s in m.steps for st, n in s.state_counts.items()]),
        ("gwasflow_step_elapsed_seconds", "gauge", "Wall time of a step: first submission to last end.",
         [({**run, "step": s.step}, s.elapsed_s) for s in m.steps]),
        ("gwasflow_step_busy_seconds", "gauge", "Sum of the run times of a step's attempts.",
         [({**run, "step": s.step}, s.busy_s) for s in m.steps]),
        ("gwasflow_step_queue_wait_seconds_mean", "gauge", "Mean queue wait (submitted to started) of attempts.",
         [({**run, "step": s.step}, s.queue_wait_mean_s) for s in m.steps]),
        ("gwasflow_step_queue_wait_seconds_max", "gauge", "Longest queue wait of a step's attempts.",
         [({**run, "step": s.step}, s.queue_wait_max_s) for s in m.steps]),
        ("gwasflow_attempts_total", "counter", "Attempts submitted, per step.",
         [({**run, "step": s.step}, float(s.attempts)) for s in m.steps]),
        ("gwasflow_failed_attempts_total", "counter", "Failed attempts, per error type.",
         [({**run, "error_type": e}, float(m.failed_by_error_type.get(e, 0))) for e in _error_types(m)]),
        ("gwasflow_failed_jobs", "gauge", "Jobs that failed for good (out of attempts or not retryable), per step.",
         [({**run, "step": s.step}, float(s.state_counts.get(JobState.FAILED.value, 0))) for s in m.steps]),
        ("gwasflow_step_failed_attempts_total", "counter", "Failed attempts, per step and error type.",
         [({**run, "step": s.step, "error_type": e}, float(n))
          for s in m.steps for e, n in s.failed_by_error_type.items()]),
        ("gwasflow_step_cpu_seconds_total", "counter", "CPU time of a step's attempts, where the executor reports it.",
         [({**run, "step": s.step}, s.cpu_time_s) for s in m.steps if s.cpu_time_s is not None]),
        ("gwasflow_step_peak_memory_bytes", "gauge", "Largest peak memory of a step's attempts, where reported.",
         [({**run, "step": s.step}, s.peak_memory_mb * 1024 * 1024) for s in m.steps if s.peak_memory_mb is not None]),
    ]  # fmt: skip
    if per_job:
        families += [
            ("gwasflow_job_elapsed_seconds", "gauge", "Sum of the run times of a job's attempts.",
             [({**run, "step": j.step, "job": j.job_id}, j.elapsed_s) for j in m.job_metrics]),
            ("gwasflow_job_queue_wait_seconds", "gauge", "Sum of the queue waits of a job's attempts.",
             [({**run, "step": j.step, "job": j.job_id}, j.queue_wait_s) for j in m.job_metrics]),
            ("gwasflow_job_attempts_total", "counter", "Attempts of a job.",
             [({**run, "step": j.step, "job": j.job_id}, float(j.attempts)) for j in m.job_metrics]),
        ]  # fmt: skip
    out: list[str] = []
    for name, kind, help_text, samples in families:
        if not samples:
            continue
        out.append(f"# HELP {name} {_escape_help(help_text)}")
        out.append(f"# TYPE {name} {kind}")
        out += [f"{name}{{{_labels(labels)}}} {_number(value)}" for labels, value in samples]
    return "\n".join(out) + "\n"


def _error_types(m: RunMetrics) -> list[str]:
    """Every error type gwasflow knows (so a zero is explicit), then any other that was recorded."""
    known = [e.value for e in ErrorType]
    return known + sorted(set(m.failed_by_error_type) - set(known))


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items())


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))
