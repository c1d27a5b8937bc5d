"""The whole path, end to end, through the real command: simulate, validate, plan, QC, run, merge, summarize.

``gwasflow demo`` is biobank-shaped (QC and step 1 on an array .bed, step 2 on imputed BGEN files per
chromosome); ``gwasflow demo --simple`` keeps one .bed for both steps.
"""

from __future__ import annotations

import gzip
import json
import math
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

GWS = 7.3


def _gwasflow(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gwasflow", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900, check=False)


def _bgi_ids(path: Path) -> list[str]:
    with sqlite3.connect(path) as con:
        return [row[0] for row in con.execute("SELECT rsid FROM Variant ORDER BY file_start_position")]


def _results(path: Path) -> dict[str, list[str]]:
    with gzip.open(path, "rt") as handle:
        header = handle.readline().split()
        rows = [line.split() for line in handle]
    return {name: [r[i] for r in rows] for i, name in enumerate(header)}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The demo at its default size (2,000 samples x 20,000 variants), run once for this module."""
    out = tmp_path_factory.mktemp("demo") / "d"
    proc = _gwasflow(["demo", "--out", str(out), "--quiet"], out.parent)
    return out, proc


def test_demo__succeeds_and_prints_where_results_are(demo: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, proc = demo
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"results: {out / 'results'}" in proc.stdout
    assert (out / ".gwasflow" / "SUCCEEDED").exists()
    assert not (out / "work").exists(), "the transient workspace must be deleted after a successful run"


def test_demo__writes_the_biobank_shaped_spec_and_files(demo: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, proc = demo
    assert "imputed BGEN per chromosome" in proc.stdout
    spec = yaml.safe_load((out / "spec.yaml").read_text())
    assert spec["step1"]["genotypes"] == {"bed": "data/array"}
    assert spec["step1"]["qc"] == {"maf": 0.01, "geno": 0.05, "mind": 0.05, "hwe": 1e-15, "engine": "builtin"}
    (dataset,) = spec["datasets"]
    assert dataset["bgen"] == "data/imputed_chr{chrom}.bgen" and dataset["chromosomes"] == "1-3"
    assert dataset["sample"] == "data/imputed.sample" and dataset["min_info"] == 0.8
    assert spec["step2"]["min_mac"] == 5
    n_array = len((out / "data" / "array.bim").read_text().splitlines())
    n_imputed = sum(len(_bgi_ids(out / "data" / f"imputed_chr{c}.bgen.bgi")) for c in (1, 2, 3))
    assert n_imputed == 20_000 and 0.2 * n_imputed < n_array < 0.4 * n_imputed


def test_demo__qc_removes_the_array_faults_before_step_1(demo: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = demo
    rows = {line.split("\t")[0]: line.split("\t")[1:] for line in (out / "qc.tsv").read_text().splitlines()[1:]}
    assert rows["mind"] == ["5", "1995"]  # 5 samples with 10% missing calls
    assert rows["geno"][0] == "10" and rows["hwe"][0] == "10"  # 10 variants with 10% missing, 10 HWE outliers
    (log,) = (out / ".gwasflow" / "runs").glob("*/logs/step1.1.log")
    argv = log.read_text().splitlines()[0]
    assert "--bed " in argv and argv.count("--extract ") == 1 and argv.count("--keep ") == 1


def test_demo__merged_results_are_the_imputed_variants_passing_min_info_in_order(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, _ = demo
    imputed = [vid for c in (1, 2, 3) for vid in _bgi_ids(out / "data" / f"imputed_chr{c}.bgen.bgi")]
    rank = {vid: i for i, vid in enumerate(imputed)}
    for pheno in ("Y1", "Y2"):
        res = _results(out / "results" / f"{pheno}.regenie.gz")
        order = [rank[vid] for vid in res["ID"]]
        assert order == sorted(order), "results follow the BGEN files' order"
        assert 0.8 * len(imputed) < len(order) < len(imputed), "min_info drops some poorly imputed variants"
        assert min(float(v) for v in res["INFO"]) >= 0.8


def test_demo__finds_planted_variants_and_null_trait_is_calibrated(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, _ = demo
    truth = [line.split("\t") for line in (out / "truth.tsv").read_text().splitlines()[1:]]
    causal = {row[1] for row in truth}
    y1 = _results(out / "results" / "Y1.regenie.gz")
    hits = {vid for vid, p in zip(y1["ID"], y1["LOG10P"], strict=True) if float(p) > GWS}
    found = hits & causal
    assert len(found) >= len(causal) // 2, f"only {len(found)} of {len(causal)} planted variants found"
    assert len(hits - causal) <= 2, f"false positives: {sorted(hits - causal)}"
    y2 = _results(out / "results" / "Y2.regenie.gz")
    chisq = np.array([float(c) for c in y2["CHISQ"]])
    lam = float(np.median(chisq) / 0.454936423119572)
    assert 0.9 <= lam <= 1.1
    summary = (out / "summary.tsv").read_text().splitlines()
    row = dict(zip(summary[0].split("\t"), summary[2].split("\t"), strict=True))
    assert row["phenotype"] == "Y2" and math.isclose(float(row["lambda_gc"]), lam, abs_tol=1e-3)


def test_demo__status_works_from_inside_the_run_folder(demo: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, _ = demo
    proc = _gwasflow(["status", "--json"], out)
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    assert status["state"] == "succeeded"
    assert set(status["steps"]) >= {"qc", "step1", "step2", "merge", "report", "cleanup"}
    for states in status["steps"].values():
        assert set(states) == {"succeeded"}


def test_demo__writes_a_self_contained_report_and_prometheus_metrics(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, _ = demo
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 4  # a Manhattan and a QQ plot per phenotype, at least
    assert "http://" not in html and "https://" not in html
    assert "lambda" in html.lower()
    assert "QC before step 1" in html
    proc = _gwasflow(["metrics", "--format", "prometheus"], out)
    assert proc.returncode == 0, proc.stderr
    samples = [line for line in proc.stdout.splitlines() if line and not line.startswith("#")]
    assert any(line.startswith("gwasflow_step_elapsed_seconds{") for line in samples)
    assert all(len(line.rsplit(" ", 1)) == 2 and float(line.rsplit(" ", 1)[1]) >= 0 for line in samples)


def test_demo__simple_keeps_one_bed_for_both_steps(tmp_path: Path) -> None:
    out = tmp_path / "s"
    proc = _gwasflow(["demo", "--simple", "--out", str(out), "--samples", "300", "--variants", "1200", "--quiet"],
                     tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    spec = yaml.safe_load((out / "spec.yaml").read_text())
    assert spec["datasets"] == [{"bed": "data/cohort", "label": "cohort"}]
    assert "genotypes" not in spec["step1"] and "qc" not in spec["step1"]
    bim = np.loadtxt(out / "data" / "cohort.bim", dtype=str)
    for pheno in ("Y1", "Y2"):
        res = _results(out / "results" / f"{pheno}.regenie.gz")
        assert res["ID"] == list(bim[:, 1])
        assert res["ALLELE1"] == list(bim[:, 4])


def test_demo__sizes_the_simulation_cannot_honour_are_one_line_and_exit_2(tmp_path: Path) -> None:
    for extra in (["--samples", "100"], ["--simple", "--samples", "5"]):
        proc = _gwasflow(["demo", "--out", str(tmp_path / "x"), *extra, "--quiet"], tmp_path)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert proc.stderr.startswith("error: demo: --samples ") and len(proc.stderr.splitlines()) == 1, proc.stderr
        assert not (tmp_path / "x").exists()
