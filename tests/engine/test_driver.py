"""The driver on real child processes: outputs checked, failures typed, retries, propagation, sentinels."""

from __future__ import annotations

import sys
from pathlib import Path

from gwasflow.engine.driver import Driver
from gwasflow.engine.rundir import RunDir, prepare_workspace
from gwasflow.engine.states import JobState, RunState
from gwasflow.engine.store import MemoryStore
from gwasflow.executors.local import LocalExecutor
from gwasflow.plan.model import Job, JobGraph, JobKind, Resources, Step

PY = sys.executable


def _cmd(job_id: str, code: str, outputs: list[Path], deps: tuple[str, ...] = ()) -> Job:
    return Job(
        id=job_id, step=Step.STEP2, kind=JobKind.COMMAND, argv=(PY, "-c", code), deps=deps,
        outputs=tuple(str(p) for p in outputs), resources=Resources(time_s=30),
    )


def _drive(tmp_path: Path, jobs: list[Job]) -> tuple[Driver, MemoryStore]:
    graph = JobGraph(jobs)
    store = MemoryStore()
    store.create_run("r1", "t", "{}", "{}")
    store.add_jobs("r1", [(j.id, j.step.value) for j in graph])
    ws = tmp_path / "ws"
    prepare_workspace(ws)
    executor = LocalExecutor(max_parallel=2)
    driver = Driver(run_id="r1", graph=graph, store=store, executor=executor, rundir=RunDir(tmp_path / "out"),
                    workspace=ws, poll_interval_s=0.02)
    try:
        driver.run()
    finally:
        executor.close()
    return driver, store


def test_driver_run__chain_succeeds_and_records_one_attempt_each(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    jobs = [
        _cmd("a", f"open({str(a)!r}, 'w').write('a')", [a]),
        _cmd("b", f"assert open({str(a)!r}).read() == 'a'; open({str(b)!r}, 'w').write('b')", [b], ("a",)),
    ]
    _, store = _drive(tmp_path, jobs)
    assert store.get_run("r1").state is RunState.SUCCEEDED
    assert [(j.job_id, j.state, j.attempts) for j in store.list_jobs("r1")] == [
        ("a", JobState.SUCCEEDED, 1), ("b", JobState.SUCCEEDED, 1)]
    assert (tmp_path / "out" / ".gwasflow" / "SUCCEEDED").exists()


def test_driver_run__crash_is_retried_then_fails_and_dependents_are_upstream_failed(tmp_path: Path) -> None:
    jobs = [_cmd("bad", "import sys; print('boom'); sys.exit(3)", []), _cmd("after", "pass", [], ("bad",))]
    _, store = _drive(tmp_path, jobs)
    attempts = store.list_attempts("r1", "bad")
    assert [(a.state, a.exit_code, a.error_type) for a in attempts] == [("failed", 3, "crash")] * 2
    assert "boom" in attempts[0].log_tail
    assert store.get_job("r1", "after").state is JobState.UPSTREAM_FAILED
    run = store.get_run("r1")
    assert run.state is RunState.FAILED and "1 failed" in run.message
    assert (tmp_path / "out" / ".gwasflow" / "FAILED").exists()


def test_driver_run__bad_input_is_not_retried(tmp_path: Path) -> None:
    code = "import sys; print('error: --phenoFile p.txt: no such file', file=sys.stderr); sys.exit(2)"
    _, store = _drive(tmp_path, [_cmd("j", code, [])])
    attempts = store.list_attempts("r1", "j")
    assert [(a.exit_code, a.error_type) for a in attempts] == [(2, "bad_input")]


def test_driver_run__exit_0_without_outputs_is_missing_output(tmp_path: Path) -> None:
    _, store = _drive(tmp_path, [_cmd("j", "pass", [tmp_path / "never.txt"])])
    attempts = store.list_attempts("r1", "j")
    assert attempts[0].error_type == "missing_output"
    assert "never.txt" in attempts[0].reason


def test_driver_run__flaky_job_succeeds_on_second_attempt(tmp_path: Path) -> None:
    mark, out = tmp_path / "tried", tmp_path / "out.txt"
    code = (
        f"import os, sys\nif not os.path.exists({str(mark)!r}):\n"
        f"    open({str(mark)!r}, 'w').close(); sys.exit(1)\n"
        f"open({str(out)!r}, 'w').write('ok')"
    )
    _, store = _drive(tmp_path, [_cmd("j", code, [out])])
    assert [a.state for a in store.list_attempts("r1", "j")] == ["failed", "succeeded"]
    assert store.get_run("r1").state is RunState.SUCCEEDED


def test_driver_run__jobs_run_in_the_workspace_with_thread_limits(tmp_path: Path) -> None:
    out = tmp_path / "env.txt"
    code = f"import os; open({str(out)!r}, 'w').write(os.getcwd() + ' ' + os.environ['OPENBLAS_NUM_THREADS'])"
    _drive(tmp_path, [_cmd("j", code, [out])])
    cwd, threads = out.read_text().split()
    assert Path(cwd) == (tmp_path / "ws").resolve() and threads == "1"
