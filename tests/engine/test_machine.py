"""The scheduler state machine, driven with small graphs and fake completions."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gwasflow.core.states import FINISHED_JOB_STATES, JobState, Step
from gwasflow.engine.machine import Scheduler
from gwasflow.plan.model import Job, JobGraph, JobKind

S = JobState


def _job(job_id: str, *deps: str, step: Step = Step.STEP2) -> Job:
    return Job(id=job_id, step=step, kind=JobKind.COMMAND, argv=("true",), deps=deps)


def _diamond() -> JobGraph:
    """a -> (b, c) -> d -> e, plus an independent f."""
    return JobGraph(
        [
            _job("a", step=Step.STAGE_IN),
            _job("b", "a"),
            _job("c", "a"),
            _job("d", "b", "c", step=Step.MERGE),
            _job("e", "d", step=Step.REPORT),
            _job("f", step=Step.STAGE_IN),
        ]
    )


def _ids(jobs: list[Job]) -> list[str]:
    return [j.id for j in jobs]


def _succeed(s: Scheduler, job_id: str) -> None:
    s.set_state(job_id, S.QUEUED)
    s.set_state(job_id, S.RUNNING)
    s.set_state(job_id, S.SUCCEEDED)


def test_runnable__only_jobs_whose_deps_succeeded_in_graph_order() -> None:
    s = Scheduler(_diamond())
    assert _ids(s.runnable()) == ["a", "f"]
    _succeed(s, "a")
    assert _ids(s.runnable()) == ["b", "c", "f"]
    _succeed(s, "b")
    assert _ids(s.runnable()) == ["c", "f"]
    _succeed(s, "c")
    assert _ids(s.runnable()) == ["d", "f"]


def test_runnable__limit_returns_first_in_graph_order() -> None:
    s = Scheduler(_diamond())
    _succeed(s, "a")
    assert _ids(s.runnable(limit=2)) == ["b", "c"]
    assert _ids(s.runnable(limit=2)) == ["b", "c"]
    s.set_state("b", S.QUEUED)
    assert _ids(s.runnable(limit=2)) == ["c", "f"]
    assert _ids(s.runnable(limit=0)) == []


def test_runnable__retry_wait_jobs_are_runnable_again() -> None:
    s = Scheduler(_diamond())
    s.set_state("a", S.QUEUED)
    assert _ids(s.runnable()) == ["f"]
    assert s.set_state("a", S.RETRY_WAIT) == [("a", S.RETRY_WAIT)]
    assert _ids(s.runnable(limit=1)) == ["a"]


def test_set_state__same_state_is_no_change() -> None:
    s = Scheduler(_diamond())
    s.set_state("a", S.RUNNING)
    assert s.set_state("a", S.RUNNING) == []


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (S.SUCCEEDED, S.RUNNING),
        (S.SUCCEEDED, S.PENDING),
        (S.FAILED, S.RUNNING),
        (S.PENDING, S.UPSTREAM_FAILED),
    ],
)
def test_set_state__impossible_transition_raises(before: JobState, after: JobState) -> None:
    s = Scheduler(JobGraph([_job("a")]), {"a": before})
    with pytest.raises(ValueError, match="impossible transition"):
        s.set_state("a", after)
    assert s.state("a") is before


def test_set_state__starting_job_with_unfinished_deps_raises() -> None:
    s = Scheduler(_diamond())
    with pytest.raises(ValueError, match="dependencies unfinished"):
        s.set_state("b", S.QUEUED)
    with pytest.raises(KeyError):
        s.set_state("nope", S.QUEUED)


def test_set_state__failure_propagates_to_transitive_dependents() -> None:
    s = Scheduler(_diamond())
    _succeed(s, "a")
    s.set_state("c", S.RUNNING)
    changes = s.set_state("b", S.FAILED)
    assert changes == [("b", S.FAILED), ("d", S.UPSTREAM_FAILED), ("e", S.UPSTREAM_FAILED)]
    assert s.state("c") is S.RUNNING and not s.done()
    assert _ids(s.runnable()) == ["f"]


def test_set_state__cancel_propagates_upstream_failed() -> None:
    s = Scheduler(_diamond())
    changes = s.set_state("a", S.CANCELLED)
    assert changes[0] == ("a", S.CANCELLED)
    assert sorted(changes[1:]) == [(j, S.UPSTREAM_FAILED) for j in "bcde"]
    _succeed(s, "f")
    assert s.done()


def test_reopen__reopens_job_and_its_upstream_failed_dependents() -> None:
    s = Scheduler(_diamond())
    _succeed(s, "a")
    s.set_state("b", S.FAILED)
    _succeed(s, "c")
    assert s.reopen(["b"]) == [("b", S.PENDING), ("d", S.PENDING), ("e", S.PENDING)]
    assert _ids(s.runnable()) == ["b", "f"]
    for job_id in "bdef":
        _succeed(s, job_id)
    assert s.done() and s.counts()[S.SUCCEEDED] == 6


def test_reopen__dependent_with_another_failed_dep_stays_upstream_failed() -> None:
    s = Scheduler(_diamond())
    _succeed(s, "a")
    s.set_state("b", S.FAILED)
    s.set_state("c", S.FAILED)
    assert s.reopen(["b"]) == [("b", S.PENDING)]
    assert s.state("d") is S.UPSTREAM_FAILED
    assert s.reopen(["c"]) == [("c", S.PENDING), ("d", S.PENDING), ("e", S.PENDING)]


def test_reopen__job_with_failed_dependency_raises_and_changes_nothing() -> None:
    s = Scheduler(_diamond())
    s.set_state("a", S.FAILED)
    with pytest.raises(ValueError, match="dependency 'b' is upstream_failed"):
        s.reopen(["d"])
    with pytest.raises(ValueError, match="only failed jobs"):
        s.reopen(["f"])
    assert s.state("d") is S.UPSTREAM_FAILED
    assert s.reopen(["a", "d"]) == [(j, S.PENDING) for j in "abcde"]


def test_set_state__pending_from_failed_is_reopen() -> None:
    s = Scheduler(_diamond())
    s.set_state("a", S.FAILED)
    assert s.set_state("a", S.PENDING) == [(j, S.PENDING) for j in "abcde"]


def test_cancel_all__cancels_every_unfinished_job() -> None:
    s = Scheduler(_diamond())
    _succeed(s, "a")
    s.set_state("b", S.RUNNING)
    assert s.cancel_all() == [(j, S.CANCELLED) for j in "bcdef"]
    assert s.done() and s.runnable() == []


def test_init__keeps_given_states_and_computes_unmet_deps() -> None:
    s = Scheduler(_diamond(), {"a": S.SUCCEEDED, "b": S.RUNNING, "c": S.QUEUED, "f": S.RETRY_WAIT})
    assert s.state("b") is S.RUNNING and s.state("d") is S.PENDING
    assert _ids(s.runnable()) == ["f"]
    s.set_state("b", S.SUCCEEDED)
    s.set_state("c", S.SUCCEEDED)
    assert _ids(s.runnable()) == ["d", "f"]


def test_init__unknown_job_in_states_raises() -> None:
    with pytest.raises(ValueError, match="not in the graph"):
        Scheduler(_diamond(), {"zzz": S.SUCCEEDED})


def test_counts__and_by_step_follow_changes() -> None:
    s = Scheduler(_diamond())
    assert s.counts()[S.PENDING] == 6 and sum(s.counts().values()) == 6
    _succeed(s, "a")
    s.set_state("b", S.FAILED)
    counts = s.counts()
    assert (counts[S.SUCCEEDED], counts[S.FAILED], counts[S.UPSTREAM_FAILED], counts[S.PENDING]) == (
        1, 1, 2, 2,
    )  # fmt: skip
    by_step = s.counts_by_step()
    assert set(by_step) == {"stage_in", "step2", "merge", "report"}
    assert by_step["stage_in"][S.SUCCEEDED] == 1 and by_step["stage_in"][S.PENDING] == 1
    assert by_step["step2"][S.FAILED] == 1 and by_step["merge"][S.UPSTREAM_FAILED] == 1


def test_done__empty_graph_is_done() -> None:
    assert Scheduler(JobGraph([])).done()


def test_runnable__100k_shards_cost_is_per_change_not_per_job() -> None:
    n = 100_000
    jobs = [_job("stage", step=Step.STAGE_IN), _job("step1", "stage", step=Step.STEP1)]
    jobs += [_job(f"s2-{i:06d}", "step1") for i in range(n)]
    jobs.append(_job("merge", *(f"s2-{i:06d}" for i in range(n)), step=Step.MERGE))
    s = Scheduler(JobGraph(jobs))
    start = time.perf_counter()
    calls = 0
    while not s.done():
        batch = s.runnable(limit=64)
        calls += 1
        for job in batch:
            s.set_state(job.id, S.RUNNING)
        for job in batch:
            s.set_state(job.id, S.SUCCEEDED)
    assert calls > 1500
    assert s.counts()[S.SUCCEEDED] == n + 3
    assert time.perf_counter() - start < 10.0


@st.composite
def _dags(draw: st.DrawFn) -> JobGraph:
    n = draw(st.integers(min_value=1, max_value=25))
    jobs = []
    for i in range(n):
        deps = draw(st.sets(st.integers(min_value=0, max_value=i - 1), max_size=3)) if i else set()
        jobs.append(_job(f"j{i}", *(f"j{d}" for d in sorted(deps))))
    return JobGraph(jobs)


def _descendants(graph: JobGraph, roots: set[str]) -> set[str]:
    out: set[str] = set()
    stack = [c for r in roots for c in graph.dependents(r)]
    while stack:
        jid = stack.pop()
        if jid not in out:
            out.add(jid)
            stack.extend(graph.dependents(jid))
    return out


@settings(max_examples=150, deadline=None)
@given(graph=_dags(), data=st.data())
def test_scheduler__random_dag_random_completion_order(graph: JobGraph, data: st.DataObject) -> None:
    s = Scheduler(graph)
    failed: set[str] = set()
    running: list[str] = []
    while not s.done():
        ready = s.runnable()
        assert ready or running, "stuck: nothing runnable and nothing running"
        if ready and (not running or data.draw(st.booleans())):
            job = data.draw(st.sampled_from(ready))
            assert all(s.state(d) is S.SUCCEEDED for d in job.deps)
            s.set_state(job.id, S.QUEUED)
            running.append(job.id)
            continue
        job_id = running.pop(data.draw(st.integers(0, len(running) - 1)))
        outcome = data.draw(st.sampled_from([S.SUCCEEDED, S.SUCCEEDED, S.FAILED, S.RETRY_WAIT]))
        for dep in graph[job_id].deps:
            assert s.state(dep) is S.SUCCEEDED
        s.set_state(job_id, outcome)
        if outcome is S.FAILED:
            failed.add(job_id)
    downstream = _descendants(graph, failed)
    for job in graph:
        expected = (
            S.FAILED if job.id in failed else S.UPSTREAM_FAILED if job.id in downstream else S.SUCCEEDED
        )
        assert s.state(job.id) is expected
    assert all(st_ in FINISHED_JOB_STATES for st_ in s.states().values())
    # a manual retry of every failed job, all succeeding, finishes the graph
    s.reopen(failed)
    while not s.done():
        for job in s.runnable():
            s.set_state(job.id, S.SUCCEEDED)
    assert set(s.states().values()) == {S.SUCCEEDED}
