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

from gwasflow.demo import write_demo
from gwasflow.engine.states import JobState
from gwasflow.engine.store import SQLiteStore

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
