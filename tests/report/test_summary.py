"""Summary statistics checked against direct numpy computations."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
from scipy import stats

from gwasflow.report.summary import CHI2_MEDIAN_1DF, summarize_results, write_summary


def test_chi2_median_1df__matches_scipy() -> None:
    assert math.isclose(CHI2_MEDIAN_1DF, float(stats.chi2.ppf(0.5, 1)), rel_tol=1e-12)


def test_summarize_results__lambda_hits_and_top(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    chisq = rng.chisquare(1, size=999)
    chisq[100] = 60.0  # one genome-wide significant variant
    log10p = -stats.chi2.logsf(chisq, 1) / np.log(10)
    path = tmp_path / "Y1.regenie.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("CHROM GENPOS ID ALLELE0 ALLELE1 A1FREQ N TEST BETA SE CHISQ LOG10P EXTRA\n")
        for i, (c, p) in enumerate(zip(chisq, log10p, strict=True)):
            handle.write(f"1 {i + 1} v{i} A C 0.2 100 ADD 0.1 0.1 {c:.6g} {p:.6g} NA\n")
        handle.write("1 2000 vNA A C 0.2 100 ADD NA NA NA NA TEST_FAIL\n")
    s = summarize_results(path, "Y1")
    assert s.n_variants == 999
    expected = float(np.median(np.array([float(f"{c:.6g}") for c in chisq]))) / CHI2_MEDIAN_1DF
    assert math.isclose(s.lambda_gc, expected, rel_tol=1e-9)
    assert s.n_significant == 1 and s.top is not None and s.top.id == "v100"
    write_summary([s], tmp_path / "summary.tsv")
    rows = (tmp_path / "summary.tsv").read_text().splitlines()
    assert rows[1].split("\t")[:4] == ["Y1", "999", f"{expected:.4f}", "1"]
