"""Nothing lost: kill -9 of the driver then `gwasflow resume`; `gwasflow retry` with more memory; chaos."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from gwasflow.commands.demo import write_demo
from tests.conftest import read_events

Event = dict[str, object]


def _gwasflow(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gwasflow", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False, env={**os.environ, **(env or {})})


def _demo(path: Path, **spec_changes: object) -> Path:
    spec = write_demo(path, n_samples=800, n_variants=3000, seed=5)
    data = yaml.safe_load(spec.read_text())
    data.update(spec_changes)
    spec.write_text(yaml.safe_dump(data))
    return spec


def _results(folder: Path) -> dict[str, bytes]:
    return {p.name: gzip.decompress(p.read_bytes()) for p in sorted((folder / "results").glob("*.regenie.gz"))}


def _events(folder: Path) -> list[Event]:
    return read_events(folder / ".gwasflow" / "events.jsonl")


def _attempts(folder: Path) -> dict[str, list[str]]:
    db = sqlite3.connect(folder / ".gwasflow" / "gwasflow.sqlite")
    try:
        rows = db.execute("SELECT job_id, state FROM attempts ORDER BY job_id, attempt").fetchall()
    finally:
        db.close()
    out: dict[str, list[str]] = {}
    for job_id, state in rows:
        out.setdefault(job_id, []).append(state)
    return out


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Merged results of an undisturbed run of the same small demo."""
    folder = tmp_path_factory.mktemp("clean") / "d"
    proc = _gwasflow(["run", str(_demo(folder)), "--quiet"], folder)
    assert proc.returncode == 0, proc.stderr
    return _results(folder)


def _step1_running(events: list[Event]) -> bool:
    return any(e["event"] == "submitted" and e["job"] == "step1" for e in events)


def _mid_step2(events: list[Event]) -> bool:
    done = [e for e in events if e["event"] == "submitted" and str(e["job"]).startswith("step2")]
    return len(done) >= 3


def _during_merge(events: list[Event]) -> bool:
    return any(e["event"] == "action_done" and str(e["job"]).startswith("merge") for e in events)


@pytest.mark.parametrize("when", [_step1_running, _mid_step2, _during_merge], ids=["step1", "step2", "merge"])
def test_resume__after_sigkill_finishes_with_identical_results_and_reruns_nothing_finished(
    tmp_path: Path, clean: dict[str, bytes], when: Callable[[list[Event]], bool]
) -> None:
    folder = tmp_path / "d"
    spec = _demo(folder, executor={"kind": "local", "max_parallel": 2, "poll_interval_s": 0.05})
    proc = subprocess.Popen([sys.executable, "-m", "gwasflow", "run", str(spec), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not when(_events(folder)):
        assert proc.poll() is None, "the run ended before the kill point"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    before = _attempts(folder)
    finished = {job for job, states in before.items() if states[-1] == "succeeded"}
    resumed = _gwasflow(["resume"], folder)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert _results(folder) == clean
    after = _attempts(folder)
    for job in finished:
        assert after[job] == before[job], f"{job} ran again after it had finished"
    assert all(states[-1] == "succeeded" for states in after.values())
    assert _gwasflow(["verify"], folder).returncode == 0


def test_retry__out_of_memory_job_reruns_with_the_memory_asked_for(tmp_path: Path, clean: dict[str, bytes]) -> None:
    folder = tmp_path / "d"
    spec = _demo(folder, retry={"max_attempts": 1})
    failed = _gwasflow(["run", str(spec), "--quiet"], folder, env={"GWASFLOW_FAULTS": "rate=1,seed=1,kinds=oom"})
    assert failed.returncode == 1
    log = json.loads(_gwasflow(["failures", "--json"], folder).stdout)
    assert [(f["job_id"], f["error_type"]) for f in log] == [("step1", "out_of_memory")]
    assert "MemoryError" in log[0]["log_tail"]
    retried = _gwasflow(["retry", "--job", "step1", "--mem", "8G", "--quiet"], folder)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    db = sqlite3.connect(folder / ".gwasflow" / "gwasflow.sqlite")
    try:
        last = db.execute("SELECT resources_json, state FROM attempts WHERE job_id='step1' ORDER BY attempt DESC")
        resources, state = last.fetchone()
    finally:
        db.close()
    assert json.loads(resources)["memory_mb"] == 8192 and state == "succeeded"
    assert _results(folder) == clean


def test_chaos__injected_faults_are_survived_with_identical_results(tmp_path: Path, clean: dict[str, bytes]) -> None:
    folder = tmp_path / "d"
    spec = _demo(
        folder,
        step1={"bsize": 1000, "resources": {"time_s": 30}},
        step2={"bsize": 1000, "variants_per_job": 100, "phenotypes_per_job": 2, "resources": {"time_s": 10}},
        retry={"max_attempts": 6, "backoff_s": 0},
    )
    chaos = {"GWASFLOW_FAULTS": "rate=0.3,seed=11,kinds=crash+kill+hang+truncate"}
    proc = _gwasflow(["run", str(spec), "--quiet"], folder, env=chaos)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _results(folder) == clean
    failures = json.loads(_gwasflow(["failures", "--json"], folder).stdout)
    kinds = {f["error_type"] for f in failures}
    assert failures and kinds <= {"crash", "killed", "timeout", "truncated_output"}
    assert len(kinds) >= 3, kinds
    shutil.rmtree(folder / "data")


def _finished_demo(folder: Path, **spec_changes: object) -> dict[str, bytes]:
    """Run the small demo to the end; the merged results' raw bytes."""
    proc = _gwasflow(["run", str(_demo(folder, **spec_changes)), "--quiet"], folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {p.name: p.read_bytes() for p in sorted((folder / "results").glob("*.regenie.gz"))}


def test_resume__deleted_merged_result_is_rebuilt_byte_identically_by_its_merge_alone(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    before = _finished_demo(folder, keep_workspace=True)
    (folder / "results" / "Y1.regenie.gz").unlink()
    checked = _gwasflow(["verify"], folder)
    assert checked.returncode == 1
    assert checked.stdout.startswith(f"FAIL missing: trait Y1 ({folder / 'results' / 'Y1.regenie.gz'})")
    resumed = _gwasflow(["resume", "--quiet"], folder)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert {p.name: p.read_bytes() for p in sorted((folder / "results").glob("*.regenie.gz"))} == before
    attempts = {job: len(states) for job, states in _attempts(folder).items()}
    assert {job for job, n in attempts.items() if n > 1} == {"merge-Y1", "report", "cleanup"}
    assert _gwasflow(["verify"], folder).returncode == 0


def test_resume__deleted_result_and_shards_rerun_the_step2_jobs_not_other_merges(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    before = _finished_demo(folder)  # the workspace, with the shards, is deleted at the end
    assert not (folder / "work").exists()
    (folder / "results" / "Y2.regenie.gz").unlink()
    resumed = _gwasflow(["resume", "--quiet"], folder)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert {p.name: p.read_bytes() for p in sorted((folder / "results").glob("*.regenie.gz"))} == before
    attempts = _attempts(folder)
    assert len(attempts["merge-Y1"]) == 1 and len(attempts["merge-Y2"]) == 2
    # every step 2 shard ran once in each run (a retried attempt of a loaded machine is told apart by its state)
    step2 = {job: states for job, states in attempts.items() if job.startswith("step2")}
    assert step2 and all(states.count("succeeded") == 2 for states in step2.values()), step2
    assert not (folder / "work").exists()


def test_retry__no_failed_job_but_truncated_result_rebuilds_it(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    before = _finished_demo(folder, keep_workspace=True)
    result = folder / "results" / "Y2.regenie.gz"
    result.write_bytes(before["Y2.regenie.gz"][: len(before["Y2.regenie.gz"]) // 2])
    checked = _gwasflow(["verify"], folder)
    assert checked.returncode == 1 and "Traceback" not in checked.stderr
    assert checked.stdout.splitlines()[0] == f"FAIL damaged: trait Y2 ({result}): truncated gzip stream " \
        "(it ends before its end marker)"
    retried = _gwasflow(["retry", "--quiet"], folder)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "outputs are lost or damaged: merge-Y2, report, cleanup" in retried.stdout
    assert result.read_bytes() == before["Y2.regenie.gz"]


def test_verify__result_left_by_an_earlier_run_is_a_warning_not_counted(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    before = _finished_demo(folder)
    (folder / "results" / "Y3.regenie.gz").write_bytes(before["Y1.regenie.gz"])
    checked = _gwasflow(["verify"], folder)
    assert checked.returncode == 0, checked.stdout
    lines = checked.stdout.splitlines()
    assert lines[0] == f"WARN unplanned {folder / 'results' / 'Y3.regenie.gz'}: not in this run's plan; " \
        "not checked, not counted"
    assert lines[1].endswith(": complete; 2 planned trait result(s) checked")
