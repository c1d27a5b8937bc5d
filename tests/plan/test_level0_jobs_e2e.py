"""``step1.level0_jobs: 3`` end to end on the local executor, with the built-in engine and with the real regenie.

The demo cohort (1,000 samples x 3,000 variants, ``step1.bsize: 200``: 15 blocks) runs four times through
``gwasflow run``: each engine once with one step 1 job and once split (``level0_jobs: 3``); both with
``phenotypes_per_job: 1``, so the split level 1 runs as one job per trait with ``--l1-phenoList`` and step 2
runs the same shards. The split run's LOCO files equal the single job's byte for byte, and so do the merged
step 2 results.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.regenie.differential.compare import require_regenie


def _gwasflow(args: list[str], cwd: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "gwasflow", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _run(root: Path, base: dict[str, Any], name: str, engine: dict[str, Any], *, split: bool) -> Path:
    spec = {**base, "engine": engine, "workdir": f"work_{name}", "outdir": f"out_{name}", "keep_workspace": True}
    spec["step1"] = {**base["step1"], "bsize": 200, **({"level0_jobs": 3} if split else {})}
    spec["step2"] = {**base["step2"], "phenotypes_per_job": 1}  # the same step 2 shards in both runs
    (root / f"{name}.yaml").write_text(yaml.safe_dump(spec))
    _gwasflow(["run", f"{name}.yaml", "--quiet"], root)
    return root


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    regenie = require_regenie()
    root = tmp_path_factory.mktemp("level0-jobs")
    demo = root / "demo"
    _gwasflow(["demo", "--simple", "--out", str(demo), "--samples", "1000", "--variants", "3000", "--quiet"], root)
    shutil.copytree(demo / "data", root / "data")
    base = yaml.safe_load((demo / "spec.yaml").read_text())
    for engine_name, engine in (("builtin", {"kind": "builtin"}), ("regenie", {"kind": "regenie",
                                                                                "binary": str(regenie)})):
        _run(root, base, f"{engine_name}_single", engine, split=False)
        _run(root, base, f"{engine_name}_split", engine, split=True)
    return root


def _text(path: Path) -> str:
    with gzip.open(path, "rt") as handle:
        return handle.read()


@pytest.mark.parametrize("engine", ["builtin", "regenie"])
def test_run__level0_jobs_loco_equal_the_single_job(runs: Path, engine: str) -> None:
    single = runs / f"work_{engine}_single" / "step1"
    split = runs / f"work_{engine}_split" / "step1"
    assert len(list(split.glob("demo_l0split_job*_l0_Y*"))) == 6  # 3 level 0 jobs x 2 traits
    for k, group in ((1, "p000"), (2, "p001")):
        assert (split / f"demo_{group}_{k}.loco").read_bytes() == (single / f"demo_{k}.loco").read_bytes()
        assert (split / f"demo_{group}_pred.list").read_text().split()[0] == f"Y{k}"


@pytest.mark.parametrize("engine", ["builtin", "regenie"])
def test_run__level0_jobs_merged_results_equal_the_single_job(runs: Path, engine: str) -> None:
    for pheno in ("Y1", "Y2"):
        split = _text(runs / f"out_{engine}_split" / "results" / f"{pheno}.regenie.gz")
        assert split == _text(runs / f"out_{engine}_single" / "results" / f"{pheno}.regenie.gz")
        assert len(split.splitlines()) == 3001


def test_run__level0_jobs_engine_regenie_runs_every_split_job_with_the_real_binary(runs: Path) -> None:
    logs = sorted((runs / "out_regenie_split" / ".gwasflow" / "runs").glob("*/logs/step1-*.log"))
    names = {log.name.split(".")[0] for log in logs}
    assert {"step1-split", "step1-l0-001", "step1-l0-003", "step1-l1-p000", "step1-l1-p001"} <= names
    assert all("REGENIE v4.1.2" in log.read_text() for log in logs)
