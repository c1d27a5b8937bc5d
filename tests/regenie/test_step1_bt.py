"""Binary-trait step 1 (``--bt``): logistic level 1 against direct fits, LOCO against real regenie v4.1.2.

Correlations with regenie's ``bt_step1_<k>.loco`` when written: 1.0000 (to 4
decimals) for both phenotypes on every chromosome row, SD ratios 0.998-1.000;
the CV ``-logLik/N`` of each grid value agrees with regenie's log to 1e-4.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit

from gwasflow.regenie.cli import main
from gwasflow.regenie.step1.logistic_ridge import fit_logistic_ridge, level1_logistic_kfold, level1_logistic_loo
from gwasflow.regenie.step1.ridge import fold_slices

from .conftest import INPUTS, OUTPUTS

MIN_LOCO_CORRELATION = 0.98


def _read_loco(path: Path) -> tuple[list[str], dict[int, np.ndarray]]:
    lines = path.read_text().splitlines(keepends=True)
    assert all(line.endswith(" \n") for line in lines)
    rows = {int(line.split()[0]): np.array([np.nan if v == "NA" else float(v) for v in line.split()[1:]])
            for line in lines[1:]}
    return lines[0].split(), rows


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pheno: str, out: str) -> int:
    monkeypatch.chdir(tmp_path)
    return main(["--step", "1", "--bed", str(INPUTS / "example_3chr"), "--covarFile", str(INPUTS / "covariates.txt"),
                 "--phenoFile", str(INPUTS / pheno), "--bt", "--bsize", "100", "--use-relative-path",
                 "--threads", "2", "--out", out])


def _loglik_lines(log: str) -> list[float]:
    return [float(v) for v in re.findall(r"-logLik/N = ([0-9.e+-]+)", log)]


def test_main__bt_step1_loco_correlates_with_regenie(reference: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert _run(tmp_path, monkeypatch, "phenotype_bin.txt", "bt_step1") == 0
    for k in (1, 2):
        header, ours = _read_loco(tmp_path / f"bt_step1_{k}.loco")
        ref_header, theirs = _read_loco(OUTPUTS / f"bt_step1_{k}.loco")
        assert header == ref_header
        assert sorted(ours) == list(range(1, 24))
        for chrom in range(1, 24):
            r = np.corrcoef(ours[chrom], theirs[chrom])[0, 1]
            assert r > MIN_LOCO_CORRELATION, (k, chrom, r)
            assert np.std(ours[chrom]) == pytest.approx(np.std(theirs[chrom]), rel=0.02)
    log = (tmp_path / "bt_step1.log").read_text()
    np.testing.assert_allclose(_loglik_lines(log), _loglik_lines((OUTPUTS / "bt_step1.log").read_text()),
                               atol=1e-4)
    assert "using LOOCV instead of 5-fold CV" in log
    assert (tmp_path / "bt_step1_pred.list").read_text() == "Y1 bt_step1_1.loco\nY2 bt_step1_2.loco\n"


def test_main__bt_step1_missing_phenotype_values_are_na_in_loco(reference: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert _run(tmp_path, monkeypatch, "phenotype_bin_wNA.txt", "na") == 0
    lines = (INPUTS / "phenotype_bin_wNA.txt").read_text().splitlines()
    missing = {f"{f[0]}_{f[1]}" for f in (line.split() for line in lines[1:]) if f[2] == "NA"}
    assert missing
    header, rows = _read_loco(tmp_path / "na_1.loco")
    is_na = np.isnan(rows[1])
    assert {header[1 + i] for i in np.flatnonzero(is_na)} == missing
    assert all(np.array_equal(np.isnan(values), is_na) for values in rows.values())
    assert not any(np.isnan(values).any() for values in _read_loco(tmp_path / "na_2.loco")[1].values())
    assert main(["--step", "2", "--bed", str(INPUTS / "example_3chr"), "--covarFile", str(INPUTS / "covariates.txt"),
                 "--phenoFile", str(INPUTS / "phenotype_bin_wNA.txt"), "--bt", "--spa", "--bsize", "200",
                 "--pred", "na_pred.list", "--out", "na2"]) == 0
    assert (tmp_path / "na2_Y1.regenie").read_text().splitlines()[1].split()[6] == str(500 - len(missing))


def _problem(seed: int, n: int = 120, c: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(n, c))
    offset = rng.normal(scale=0.5, size=n) - 1.0
    y = (rng.random(n) < expit(offset + w @ rng.normal(scale=0.4, size=c))).astype(float)
    return w, y, offset


def test_fit_logistic_ridge__matches_scipy_minimize() -> None:
    w, y, offset = _problem(1)
    tau = 3.0

    def objective(a: np.ndarray) -> float:
        eta = offset + w @ a
        return float(np.sum(np.logaddexp(0, eta) - y * eta) + 0.5 * tau * a @ a)

    best = minimize(objective, np.zeros(6), method="BFGS", options={"gtol": 1e-10})
    np.testing.assert_allclose(fit_logistic_ridge(w, y, offset, tau), best.x, rtol=1e-6, atol=1e-8)


def test_level1_logistic_kfold__uses_fits_without_each_fold() -> None:
    w, y, offset = _problem(2)
    chrom_of_column = np.array([1, 1, 2, 2, 3, 3])
    folds = fold_slices(120, 4)
    shrink = np.array([30.0, 3.0, 0.3])
    fit = level1_logistic_kfold(w, y, offset, folds, shrink, chrom_of_column, [1, 2, 3])
    for fold in folds:
        train = np.ones(120, dtype=bool)
        train[fold] = False
        alpha = fit_logistic_ridge(w[train], y[train], offset[train], float(shrink[fit.best]))
        np.testing.assert_allclose(fit.predictions[fold, -1], w[fold] @ alpha, rtol=1e-7, atol=1e-10)
        dropped = w[fold][:, chrom_of_column != 2] @ alpha[chrom_of_column != 2]
        np.testing.assert_allclose(fit.predictions[fold, 1], dropped, rtol=1e-7, atol=1e-10)


def test_level1_logistic_loo__approximates_exact_leave_one_out_refits() -> None:
    w, y, offset = _problem(3, n=200)
    chrom_of_column = np.array([1, 1, 2, 2, 3, 3])
    shrink = np.array([5.0])
    fit = level1_logistic_loo(w, y, offset, shrink, chrom_of_column, [1, 2, 3])
    exact = np.empty(200)
    for i in range(200):
        keep = np.arange(200) != i
        exact[i] = w[i] @ fit_logistic_ridge(w[keep], y[keep], offset[keep], 5.0)
    np.testing.assert_allclose(fit.predictions[:, -1], exact, atol=0.02 * np.std(exact))  # one-step approximation
