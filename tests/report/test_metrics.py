"""Run metrics from a store, and their table, JSON and Prometheus forms."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import pytest

from gwasflow.core.states import JobState, RunState
from gwasflow.report.metrics import (
    RunMetrics,
    collect_metrics,
    format_json,
    format_prometheus,
    format_table,
)
from gwasflow.store import AttemptRecord, MemoryStore, SQLiteStore, Store

RUN = 'run "a"\\b\nc'  # a run id that needs every Prometheus label escape


def _attempt(
    store: Store, job: str, *, queue: float, run: float, state: str = "succeeded", error: str | None = None,
    usage: tuple[float, float] | None = None,
) -> AttemptRecord:
    n = store.new_attempt(RUN, job, executor="local", log_path=f"/logs/{job}", resources_json="{}")
    submitted = store.list_attempts(RUN, job)[-1].submitted_at
    store.mark_attempt_running(RUN, job, n, submitted + queue)
    store.finish_attempt(
        RUN, job, n, state=state, exit_code=0 if state == "succeeded" else 137, signal=None, error_type=error,
        reason="", log_tail="", ended_at=submitted + queue + run,
        cpu_time_s=usage[0] if usage else None, peak_memory_mb=usage[1] if usage else None,
    )  # fmt: skip
    return store.list_attempts(RUN, job)[-1]


def _populated(store: Store, *, measured: bool = False) -> Store:
    """step1 ok; step2: s1 ok, s2 OOM then ok, s3 OOM then timeout (failed); merge upstream_failed."""
    store.create_run(RUN, "demo", "{}", "{}")
    store.add_jobs(RUN, [("step1", "step1"), ("s1", "step2"), ("s2", "step2"), ("s3", "step2"), ("m", "merge")])
    # measured: the i-th attempt of the run used 1.5 * i CPU seconds and 100 * i MB at its peak
    usage = iter([(1.5 * i, 100.0 * i) if measured else None for i in range(1, 7)])
    _attempt(store, "step1", queue=1.0, run=10.0, usage=next(usage))
    _attempt(store, "s1", queue=2.0, run=3.0, usage=next(usage))
    _attempt(store, "s2", queue=4.0, run=1.0, state="failed", error="out_of_memory", usage=next(usage))
    _attempt(store, "s2", queue=0.5, run=3.0, usage=next(usage))
    _attempt(store, "s3", queue=1.0, run=1.0, state="failed", error="out_of_memory", usage=next(usage))
    _attempt(store, "s3", queue=1.0, run=2.0, state="failed", error="timeout", usage=next(usage))
    states = {"step1": JobState.SUCCEEDED, "s1": JobState.SUCCEEDED, "s2": JobState.SUCCEEDED,
              "s3": JobState.FAILED, "m": JobState.UPSTREAM_FAILED}  # fmt: skip
    store.set_job_states(RUN, list(states.items()))
    store.set_run_state(RUN, RunState.FAILED, "1 failed")
    return store


@pytest.fixture(params=["memory", "sqlite"])
def metrics(request: pytest.FixtureRequest, tmp_path: Path) -> RunMetrics:
    store: Store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "s.sqlite")
    try:
        return collect_metrics(_populated(store), RUN)
    finally:
        store.close()


def test_collect_metrics__times_attempts_and_states(metrics: RunMetrics) -> None:
    m = metrics
    assert (m.state, m.jobs, m.attempts, m.failed_attempts) == ("failed", 5, 6, 3)
    assert m.failed_by_error_type == {"out_of_memory": 2, "timeout": 1}
    assert m.state_counts == {"failed": 1, "succeeded": 3, "upstream_failed": 1}
    jobs = {j.job_id: j for j in m.job_metrics}
    assert jobs["s2"].elapsed_s == pytest.approx(4.0) and jobs["s2"].queue_wait_s == pytest.approx(4.5)
    assert (jobs["s3"].attempts, jobs["s3"].failed_attempts, jobs["s3"].last_error_type) == (2, 2, "timeout")
    assert jobs["m"].attempts == 0 and jobs["m"].elapsed_s == 0.0
    assert jobs["s1"].cpu_time_s is None and jobs["s1"].peak_memory_mb is None
    steps = {s.step: s for s in m.steps}
    assert [s.step for s in m.steps] == ["step1", "step2", "merge"]
    s2 = steps["step2"]
    assert (s2.jobs, s2.attempts, s2.failed_attempts) == (3, 5, 3)
    assert s2.state_counts == {"failed": 1, "succeeded": 2}
    assert s2.failed_by_error_type == {"out_of_memory": 2, "timeout": 1}
    assert s2.busy_s == pytest.approx(3.0 + 1.0 + 3.0 + 1.0 + 2.0)
    assert s2.queue_wait_max_s == pytest.approx(4.0)
    assert s2.queue_wait_mean_s == pytest.approx((2.0 + 4.0 + 0.5 + 1.0 + 1.0) / 5)
    assert steps["step1"].elapsed_s == pytest.approx(11.0)
    assert steps["merge"].attempts == 0 and steps["merge"].state_counts == {"upstream_failed": 1}
    assert m.elapsed_s >= 0.0


def test_collect_metrics__running_attempt_counts_up_to_now() -> None:
    store = MemoryStore()
    store.create_run(RUN, "r", "{}", "{}")
    store.add_jobs(RUN, [("j", "step2")])
    store.new_attempt(RUN, "j", executor="local", log_path="", resources_json="{}")
    submitted = store.list_attempts(RUN)[0].submitted_at
    store.mark_attempt_running(RUN, "j", 1, submitted + 2.0)
    m = collect_metrics(store, RUN, now=submitted + 7.0)
    (job,) = m.job_metrics
    assert job.queue_wait_s == pytest.approx(2.0) and job.elapsed_s == pytest.approx(5.0)
    assert m.steps[0].elapsed_s == pytest.approx(7.0)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_collect_metrics__cpu_time_and_peak_memory_when_recorded(kind: str, tmp_path: Path) -> None:
    store: Store = MemoryStore() if kind == "memory" else SQLiteStore(tmp_path / "s.sqlite")
    m = collect_metrics(_populated(store, measured=True), RUN)
    store.close()
    jobs = {j.job_id: j for j in m.job_metrics}
    assert [(u.attempt, u.state, u.error_type, u.cpu_time_s, u.peak_memory_mb) for u in jobs["s3"].attempt_usage] == [
        (1, "failed", "out_of_memory", 7.5, 500.0), (2, "failed", "timeout", 9.0, 600.0),
    ]  # fmt: skip
    assert jobs["s2"].cpu_time_s == pytest.approx(4.5 + 6.0) and jobs["s2"].peak_memory_mb == 400.0
    slowest = format_table(m).split("slowest", 1)[1]
    assert any(line.split()[:1] == ["s3"] and line.endswith("600 MB") for line in slowest.splitlines())
    steps = {s.step: s for s in m.steps}
    assert steps["step1"].cpu_time_s == pytest.approx(1.5) and steps["step1"].peak_memory_mb == 100.0
    assert steps["step2"].cpu_time_s == pytest.approx(1.5 * (2 + 3 + 4 + 5 + 6))
    assert steps["step2"].peak_memory_mb == 600.0
    assert steps["merge"].cpu_time_s is None
    text = format_prometheus(m)
    _validate_exposition(text)
    assert 'gwasflow_step_peak_memory_bytes{run="run \\"a\\"\\\\b\\nc",step="step2"} 629145600.0' in text


def test_format_json__round_trips_every_field(metrics: RunMetrics) -> None:
    data = json.loads(format_json(metrics))
    assert data == json.loads(json.dumps(dataclasses.asdict(metrics)))
    assert data["failed_by_error_type"] == {"out_of_memory": 2, "timeout": 1}
    assert len(data["job_metrics"]) == 5


def test_format_table__steps_errors_and_slowest_jobs(metrics: RunMetrics) -> None:
    text = format_table(metrics)
    lines = text.splitlines()
    assert text.startswith("run ") and "(demo): failed" in text and "6 attempts, 3 failed" in text
    step2 = next(line for line in lines if line.startswith("step2 "))
    assert step2.split()[:3] == ["step2", "3", "failed=1"]
    assert any(line.split() == ["out_of_memory", "2"] for line in lines)
    assert any(line.split() == ["timeout", "1"] for line in lines)
    assert "slowest 5 jobs:" in text


# --------------------------------------------------------------------------- Prometheus

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
_VALUE = r"(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|NaN|[+-]Inf)"
_SAMPLE = re.compile(rf"^({_NAME})(?:\{{({_LABEL}(?:,{_LABEL})*)?\}})? ({_VALUE})(?: -?\d+)?$")
_HELP = re.compile(rf"^# HELP ({_NAME}) (?:[^\\\n]|\\[\\n])*$")
_TYPE = re.compile(rf"^# TYPE ({_NAME}) (counter|gauge|histogram|summary|untyped)$")
_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "\\": "\\", '"': '"'}[m.group(1)], value)


def _validate_exposition(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """A strict reader of the Prometheus text format 0.0.4; returns samples by metric name.

    Checks: every line is a HELP, TYPE or sample line; HELP/TYPE come once per
    family and before its samples; a family's samples are contiguous; no
    series repeats; label values use only the three allowed escapes; the text
    ends with a newline.
    """
    assert text.endswith("\n")
    families: dict[str, list[tuple[dict[str, str], float]]] = {}
    typed: set[str] = set()
    helped: set[str] = set()
    finished: set[str] = set()
    current = ""
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for line in text.rstrip("\n").split("\n"):
        if m := _HELP.match(line):
            assert m.group(1) not in helped, f"second HELP for {m.group(1)}"
            helped.add(m.group(1))
            continue
        if m := _TYPE.match(line):
            name = m.group(1)
            assert name not in typed and name not in families, f"TYPE for {name} repeated or after its samples"
            typed.add(name)
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a valid exposition line: {line!r}"
        name = m.group(1)
        if name != current:
            assert name not in finished, f"samples of {name} are not contiguous"
            if current:
                finished.add(current)
            current = name
        assert name in typed, f"{name} has samples but no TYPE"
        labels = {k: _unescape(v) for k, v in _PAIR.findall(m.group(2) or "")}
        key = (name, tuple(sorted(labels.items())))
        assert key not in seen, f"duplicate series {key}"
        seen.add(key)
        families.setdefault(name, []).append((labels, float(m.group(3))))
    return families


def test_format_prometheus__valid_exposition_with_elapsed_and_failures(metrics: RunMetrics) -> None:
    families = _validate_exposition(format_prometheus(metrics))
    assert all(labels["run"] == RUN for samples in families.values() for labels, _ in samples)
    (elapsed,) = families["gwasflow_run_elapsed_seconds"]
    assert elapsed[1] == pytest.approx(metrics.elapsed_s)
    step_elapsed = {labels["step"]: v for labels, v in families["gwasflow_step_elapsed_seconds"]}
    assert step_elapsed == pytest.approx({s.step: s.elapsed_s for s in metrics.steps})
    failed = {labels["error_type"]: v for labels, v in families["gwasflow_failed_attempts_total"]}
    assert failed["out_of_memory"] == 2 and failed["timeout"] == 1 and failed["bad_input"] == 0
    jobs_failed = {labels["step"]: v for labels, v in families["gwasflow_failed_jobs"]}
    assert jobs_failed == {"step1": 0, "step2": 1, "merge": 0}
    states = {(labels["step"], labels["state"]): v for labels, v in families["gwasflow_jobs"]}
    assert states[("merge", "upstream_failed")] == 1 and states[("step2", "succeeded")] == 2
    assert "gwasflow_job_elapsed_seconds" not in families
    assert "gwasflow_step_cpu_seconds_total" not in families  # not recorded: left out, not zero


def test_format_prometheus__per_job_series_on_request(metrics: RunMetrics) -> None:
    families = _validate_exposition(format_prometheus(metrics, per_job=True))
    per_job = {labels["job"]: v for labels, v in families["gwasflow_job_elapsed_seconds"]}
    assert per_job == pytest.approx({j.job_id: j.elapsed_s for j in metrics.job_metrics})


def test_validate_exposition__rejects_bad_text() -> None:
    good = '# HELP a_b x\n# TYPE a_b gauge\na_b{run="x"} 1.0\n'
    _validate_exposition(good)
    for bad in [
        good.replace('"x"', '"x\\t"'),  # an escape the format does not have
        good.replace("a_b{", "a-b{"),  # a bad metric name
        good + 'a_b{run="x"} 2.0\n',  # a duplicate series
        good.replace("# TYPE a_b gauge\n", ""),  # samples without a TYPE
        good.rstrip("\n"),  # no final newline
        good.replace("1.0", "one"),
    ]:
        with pytest.raises(AssertionError):
            _validate_exposition(bad)
    assert math.isnan(_validate_exposition(good.replace("1.0", "NaN"))["a_b"][0][1])
