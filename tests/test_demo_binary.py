"""The binary-trait demo end to end: case/control cohort, logistic step 1, Firth-corrected step 2, report."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np


def test_demo_binary__finds_planted_variants_calibrated_and_reported(tmp_path: Path) -> None:
    out = tmp_path / "b"
    proc = subprocess.run([sys.executable, "-m", "gwasflow", "demo", "--out", str(out), "--trait", "binary",
                           "--quiet"], capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    spec = (out / "spec.yaml").read_text()
    assert "trait: binary" in spec and "correction: firth_approx" in spec
    truth = {line.split("\t")[1] for line in (out / "truth.tsv").read_text().splitlines()[1:]}
    results: dict[str, list[list[str]]] = {}
    for pheno in ("Y1", "Y2"):
        with gzip.open(out / "results" / f"{pheno}.regenie.gz", "rt") as handle:
            results[pheno] = [line.split() for line in handle][1:]
    hits = {r[2] for r in results["Y1"] if r[11] != "NA" and float(r[11]) > 7.3}
    assert len(hits & truth) >= 4, f"only {len(hits & truth)} planted variants found"
    assert len(hits - truth) <= 1, sorted(hits - truth)
    chisq = np.array([float(r[10]) for r in results["Y2"] if r[10] != "NA"])
    assert 0.9 <= float(np.median(chisq) / 0.454936423119572) <= 1.1
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 4
