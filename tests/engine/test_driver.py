"""The driver on real child processes: outputs checked, failures typed, retries, propagation, sentinels."""

from __future__ import annotations

import sys
from pathlib import Path

from gwasflow.core.rundir import RunDir
from gwasflow.core.states import AttemptState, JobState, RunState, Step
from gwasflow.engine.driver import Driver
from gwasflow.executors.local import LocalExecutor
from gwasflow.plan.model import Job, JobGraph, JobKind, Resources
from gwasflow.spec.model import RetrySpec
from gwasflow.store import MemoryStore

PY = sys.executable


def _cmd(
    job_id: str, code: str, outputs: list[Path], deps: tuple[str, ...] = (), resources: Resources | None = None
) -> Job:
    return Job(
        id=job_id, step=Step.STEP2, kind=JobKind.COMMAND, argv=(PY, "-c", code), deps=deps,
        outputs=tuple(str(p) for p in outputs), resources=resources or Resources(time_s=30),
    )


def _drive(tmp_path: Path, jobs: list[Job], retry: RetrySpec | None = None) -> tuple[Driver, MemoryStore]:
    graph = JobGraph(jobs)
    store = MemoryStore()
    store.create_run("r1", "t", "{}", "{}")
    store.add_jobs("r1", [(j.id, j.step.value) for j in graph])
    ws = tmp_path / "ws"
    ws.mkdir()
    executor = LocalExecutor(max_parallel=2)
    driver = Driver(run_id="r1", graph=graph, store=store, executor=executor, rundir=RunDir(tmp_path / "out"),
                    workspace=ws, poll_interval_s=0.02, retry=retry or RetrySpec(backoff_s=0))
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
    assert [(a.state, a.exit_code, a.error_type) for a in attempts] == [("failed", 3, "crash")] * 3
    assert "boom" in attempts[0].log_tail
    assert store.get_job("r1", "after").state is JobState.UPSTREAM_FAILED
    run = store.get_run("r1")
    assert run.state is RunState.FAILED and "1 failed" in run.message
    assert (tmp_path / "out" / ".gwasflow" / "FAILED").exists()


def test_driver_run__bad_input_is_not_retried(tmp_path: Path) -> None:
    code = ("import sys; print('error: --phenoFile p.txt: no such file', file=sys.stderr); "
            "print('gwasflow-error: bad_input', file=sys.stderr); sys.exit(2)")
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


def test_driver_run__out_of_memory_retries_with_double_memory(tmp_path: Path) -> None:
    out = tmp_path / "o.txt"
    code = (
        "import json, os, sys\n"
        f"if not os.path.exists({str(out) + '.1'!r}):\n"
        f"    open({str(out) + '.1'!r}, 'w').close(); print('MemoryError'); sys.exit(1)\n"
        f"open({str(out)!r}, 'w').write('ok')"
    )
    _, store = _drive(tmp_path, [_cmd("j", code, [out], resources=Resources(memory_mb=1000, time_s=30))])
    attempts = store.list_attempts("r1", "j")
    assert [a.error_type for a in attempts] == ["out_of_memory", None]
    assert '"memory_mb": 2000' in attempts[1].resources_json
    assert store.get_job("r1", "j").memory_mb == 2000


def test_driver_run__time_limit_is_a_timeout_and_doubles_the_limit(tmp_path: Path) -> None:
    out = tmp_path / "o.txt"
    code = (
        "import os, time\n"
        f"if not os.path.exists({str(out) + '.1'!r}):\n"
        f"    open({str(out) + '.1'!r}, 'w').close(); time.sleep(60)\n"
        f"open({str(out)!r}, 'w').write('ok')"
    )
    _, store = _drive(tmp_path, [_cmd("j", code, [out], resources=Resources(time_s=1))])
    attempts = store.list_attempts("r1", "j")
    assert [a.error_type for a in attempts] == ["timeout", None]
    assert '"time_s": 2' in attempts[1].resources_json


def test_driver_run__retry_limits_per_error_type(tmp_path: Path) -> None:
    policy = RetrySpec(backoff_s=0, max_attempts=5, per_error_type={"crash": 2})
    _, store = _drive(tmp_path, [_cmd("j", "raise SystemExit(4)", [])], retry=policy)
    assert len(store.list_attempts("r1", "j")) == 2


def test_driver_run__truncated_step2_output_is_detected_and_retried(tmp_path: Path) -> None:
    res = tmp_path / "s_Y1.regenie"
    header = "CHROM GENPOS ID ALLELE0 ALLELE1 A1FREQ N TEST BETA SE CHISQ LOG10P EXTRA"
    row = "1 5 v A C 0.1 10 ADD 0.1 0.1 1 0.5 NA"
    code = (
        "import os\n"
        f"rows = 1 if os.path.exists({str(res)!r}) else 2\n"
        f"open({str(res)!r}, 'w').write({header!r} + '\\n' + ({row!r} + '\\n') * rows)"
    )
    job = Job(id="s", step=Step.STEP2, kind=JobKind.COMMAND, argv=(PY, "-c", code), outputs=(str(res),),
              resources=Resources(time_s=30), meta={"n_variants": 1, "phenotypes": ["Y1"]})
    _, store = _drive(tmp_path, [job])
    attempts = store.list_attempts("r1", "s")
    assert [a.error_type for a in attempts] == ["truncated_output", None]
    assert "2 rows" in attempts[0].reason


def test_driver_run__records_the_peak_memory_and_cpu_time_the_executor_measured(tmp_path: Path) -> None:
    code = ("import time; block = b'x' * (300 * 2**20)\n"  # 300 MiB, every page written
            "while time.process_time() < 0.4: pass")
    _, store = _drive(tmp_path, [_cmd("j", code, [])])
    (attempt,) = store.list_attempts("r1", "j")
    assert attempt.state is AttemptState.SUCCEEDED
    assert attempt.peak_memory_mb is not None and 300 <= attempt.peak_memory_mb < 1000
    assert attempt.cpu_time_s is not None and 0.4 <= attempt.cpu_time_s < 10
