"""The binary-trait demo end to end: case/control cohort, QC, logistic step 1 on the array, Firth-corrected step 2
on the imputed BGEN files, report."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np


def _rows(path: Path) -> list[dict[str, str]]:
    with gzip.open(path, "rt") as handle:
        header = handle.readline().split()
        return [dict(zip(header, line.split(), strict=True)) for line in handle]


def test_demo_binary__finds_planted_variants_calibrated_and_reported(tmp_path: Path) -> None:
    out = tmp_path / "b"
    proc = subprocess.run([sys.executable, "-m", "gwasflow", "demo", "--out", str(out), "--trait", "binary",
                           "--quiet"], capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    spec = (out / "spec.yaml").read_text()
    assert "trait: binary" in spec and "correction: firth_approx" in spec and "bgen: data/imputed_chr" in spec
    truth = {line.split("\t")[1] for line in (out / "truth.tsv").read_text().splitlines()[1:]}
    y1, y2 = (_rows(out / "results" / f"{pheno}.regenie.gz") for pheno in ("Y1", "Y2"))
    hits = {r["ID"] for r in y1 if r["LOG10P"] != "NA" and float(r["LOG10P"]) > 7.3}
    assert len(hits & truth) >= 4, f"only {len(hits & truth)} planted variants found"
    assert len(hits - truth) <= 1, sorted(hits - truth)
    chisq = np.array([float(r["CHISQ"]) for r in y2 if r["CHISQ"] != "NA"])
    assert 0.9 <= float(np.median(chisq) / 0.454936423119572) <= 1.1
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 4
