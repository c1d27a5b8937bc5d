"""The demo end to end on the real one-node Slurm: results byte-identical to the local executor's.

Slurm is brought up by ``scripts/slurm-up.sh`` (see ``tests/executors/test_slurm.py``): outside CI a machine where it
cannot start skips this test with the reason; in CI that is a failure.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import yaml

from gwasflow.commands.demo import write_demo
from gwasflow.core.states import JobState
from gwasflow.store import SQLiteStore

from .executors.test_slurm import slurm_conf_or_skip


def _run(spec: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gwasflow", "run", str(spec), "--quiet"], cwd=spec.parent,
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip


def _with_executor(spec: Path, name: str, executor: dict[str, object]) -> Path:
    """A copy of the demo spec with its own outdir, workdir and executor."""
    data = yaml.safe_load(spec.read_text())
    data.update(executor=executor, outdir=f"out-{name}", workdir=f"work-{name}")
    data["retry"] = {"max_attempts": 1}
    path = spec.with_name(f"spec-{name}.yaml")
    path.write_text(yaml.safe_dump(data))
    return path


def test_run__slurm_results_identical_to_local(tmp_path: Path) -> None:
    slurm_conf = slurm_conf_or_skip()
    spec = write_demo(tmp_path / "demo", n_samples=600, n_variants=3000)
    local = _with_executor(spec, "local", {"kind": "local", "max_parallel": 2})
    slurm = _with_executor(spec, "slurm", {
        "kind": "slurm", "max_parallel": 4, "poll_interval_s": 0.1,
        "settings": {"slurm_conf": slurm_conf, "spool_dir": str(tmp_path / "spool"), "poll_min_s": 0.2,
                     "poll_max_s": 2.0},
    })  # fmt: skip
    for path in (local, slurm):
        proc = _run(path)
        assert proc.returncode == 0, f"{path.name}: {proc.stdout}{proc.stderr}"

    local_results = sorted((spec.parent / "out-local" / "results").glob("*.regenie.gz"))
    assert [p.name for p in local_results] == ["Y1.regenie.gz", "Y2.regenie.gz"]
    for path in local_results:
        twin = spec.parent / "out-slurm" / "results" / path.name
        assert gzip.decompress(twin.read_bytes()) == gzip.decompress(path.read_bytes()), path.name

    store = SQLiteStore(spec.parent / "out-slurm" / ".gwasflow" / "gwasflow.sqlite")
    try:
        (run,) = store.list_runs()
        jobs = store.list_jobs(run.run_id)
        assert jobs and all(job.state is JobState.SUCCEEDED for job in jobs)
        attempts = store.list_attempts(run.run_id)
        on_slurm = [a for a in attempts if a.executor == "slurm"]
        assert {a.job_id for a in on_slurm} >= {j.job_id for j in jobs if j.step in ("step1", "step2")}
        assert all(a.state == "succeeded" and a.handle for a in on_slurm)
        assert any("_" in str(a.handle) for a in on_slurm)  # step 2 shards went in as one job array
    finally:
        store.close()
    assert not any(p.is_dir() for p in (tmp_path / "spool").iterdir())  # close() removed the finished arrays' files


def test_resume__slurm_jobs_running_when_the_driver_died_are_reattached(tmp_path: Path) -> None:
    """kill -9 of gwasflow while step 1 runs on Slurm: resume re-attaches to it, it is not submitted again."""
    import json
    import os
    import signal
    import time

    slurm_conf = slurm_conf_or_skip()
    spec = write_demo(tmp_path / "demo", n_samples=2000, n_variants=20_000, seed=9)
    slurm = _with_executor(spec, "slurm", {
        "kind": "slurm", "max_parallel": 4, "poll_interval_s": 0.1,
        "settings": {"slurm_conf": slurm_conf, "spool_dir": str(tmp_path / "spool"), "poll_min_s": 0.2,
                     "poll_max_s": 2.0},
    })  # fmt: skip
    folder = spec.parent / "out-slurm"
    events = folder / ".gwasflow" / "events.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "gwasflow", "run", str(slurm), "--quiet"], cwd=spec.parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    def step1_submitted() -> bool:
        lines = events.read_text().splitlines() if events.exists() else []
        return any('"job": "step1"' in line for line in lines)

    while not step1_submitted():
        assert proc.poll() is None and time.monotonic() < deadline, "step 1 was never submitted"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    resumed = subprocess.run([sys.executable, "-m", "gwasflow", "resume"], cwd=folder, capture_output=True,
                             text=True, timeout=600, check=False)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    store = SQLiteStore(folder / ".gwasflow" / "gwasflow.sqlite")
    try:
        (run,) = store.list_runs()
        step1 = store.list_attempts(run.run_id, "step1")
        assert [(a.attempt, a.state) for a in step1] == [(1, "succeeded")], step1
        assert all(j.state is JobState.SUCCEEDED for j in store.list_jobs(run.run_id))
    finally:
        store.close()
    recovered = [json.loads(line) for line in events.read_text().splitlines() if '"recovered"' in line]
    assert recovered and recovered[-1]["reattached"] == 1
