"""Binary-trait step 2 (``--bt``) against the real regenie v4.1.2 outputs on regenie's example data.

Runs from a temp copy of ``outputs/`` so the relative ``.loco`` names of
``bt_step1_pred.list`` resolve. Approximate Firth and SPA are equal to regenie's
as printed (over all 500 variants); the tests hold them to the differential
suite's tolerances (BETA and SE 1e-5 relative, LOG10P 1e-4 absolute).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from gwasflow.regenie.cli import main

from .conftest import INPUTS, OUTPUTS, read_results

BT = ["--bed", str(INPUTS / "example_3chr"), "--covarFile", str(INPUTS / "covariates.txt"),
      "--phenoFile", str(INPUTS / "phenotype_bin.txt"), "--bt", "--pThresh", "0.01", "--bsize", "200",
      "--threads", "2"]
RUNS = {"firth": ["--firth", "--approx"], "spa": ["--spa"]}


@pytest.fixture
def bt_workdir(reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for path in OUTPUTS.glob("bt_step1_*"):
        shutil.copy(path, tmp_path / path.name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def compare(ours: Path, theirs: Path) -> dict[str, float]:
    """Worst relative BETA/SE and absolute LOG10P differences; every other field must be equal."""
    header, rows = read_results(ours)
    ref_header, ref_rows = read_results(theirs)
    assert header == ref_header
    assert [r[:8] + r[12:] for r in rows] == [r[:8] + r[12:] for r in ref_rows]
    got = np.array([[float(v) for v in r[8:12]] for r in rows])
    ref = np.array([[float(v) for v in r[8:12]] for r in ref_rows])
    return {
        "beta_rel": float(np.max(np.abs(got[:, 0] / ref[:, 0] - 1))),
        "se_rel": float(np.max(np.abs(got[:, 1] / ref[:, 1] - 1))),
        "log10p_abs": float(np.max(np.abs(got[:, 3] - ref[:, 3]))),
    }


@pytest.mark.parametrize("run", ["firth", "spa"])
def test_main__bt_step2_matches_regenie(bt_workdir: Path, run: str) -> None:
    out = f"bt_step2_{run}"
    assert main(["--step", "2", *BT, *RUNS[run], "--pred", "bt_step1_pred.list", "--out", out]) == 0
    for pheno in ("Y1", "Y2"):
        diff = compare(bt_workdir / f"{out}_{pheno}.regenie", OUTPUTS / f"{out}_{pheno}.regenie")
        assert diff["beta_rel"] <= 1e-5, (pheno, diff)
        assert diff["se_rel"] <= 1e-5, (pheno, diff)
        assert diff["log10p_abs"] <= 1e-4, (pheno, diff)
    log = (bt_workdir / f"{out}.log").read_text()
    label = "SPA" if run == "spa" else "Firth"
    assert f"Number of tests with {label} correction : 6\n" in log
    assert "Number of failed tests : (0/6)\n" in log
    assert "   - 'Y1': 121 cases and 379 controls\n" in log


def test_main__bt_step2_corrects_only_below_pthresh(bt_workdir: Path) -> None:
    """Rows with a score-test p above --pThresh are the plain score test, identical across corrections."""
    for run, flags in RUNS.items():
        assert main(["--step", "2", *BT, *flags, "--pred", "bt_step1_pred.list", "--out", run]) == 0
    _, firth = read_results(bt_workdir / "firth_Y1.regenie")
    _, spa = read_results(bt_workdir / "spa_Y1.regenie")
    differing = [i for i, (a, b) in enumerate(zip(firth, spa, strict=True)) if a != b]
    _, ref_firth = read_results(OUTPUTS / "bt_step2_firth_Y1.regenie")
    _, ref_spa = read_results(OUTPUTS / "bt_step2_spa_Y1.regenie")
    assert differing == [i for i, (a, b) in enumerate(zip(ref_firth, ref_spa, strict=True)) if a != b]
    assert all(10 ** -float(firth[i][11]) < 0.01 for i in differing)


def test_main__bt_step2_exact_firth_runs_and_differs_from_approx(bt_workdir: Path) -> None:
    assert main(["--step", "2", *BT, "--firth", "--pred", "bt_step1_pred.list", "--out", "exact"]) == 0
    assert main(["--step", "2", *BT, *RUNS["firth"], "--pred", "bt_step1_pred.list", "--out", "approx"]) == 0
    _, exact = read_results(bt_workdir / "exact_Y1.regenie")
    _, approx = read_results(bt_workdir / "approx_Y1.regenie")
    differing = [i for i, (a, b) in enumerate(zip(exact, approx, strict=True)) if a[8:] != b[8:]]
    assert differing == [266, 291, 364]
    for i in differing:  # same direction and size of effect; LRTs of the two penalized models differ
        assert float(exact[i][8]) == pytest.approx(float(approx[i][8]), rel=0.1)
    assert "Number of tests with Firth correction : 6\n" in (bt_workdir / "exact.log").read_text()


def test_main__bt_step2_missing_phenotypes_use_observed_samples(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "na"
    args = ["--step", "2", *BT, "--spa", "--ignore-pred", "--out", str(out)]
    args[args.index(str(INPUTS / "phenotype_bin.txt"))] = str(INPUTS / "phenotype_bin_wNA.txt")
    assert main(args) == 0
    values = np.genfromtxt(INPUTS / "phenotype_bin_wNA.txt", names=True)
    _, rows = read_results(tmp_path / "na_Y1.regenie")
    n_observed = int(np.sum(~np.isnan(values["Y1"])))
    assert n_observed < 500
    assert {r[6] for r in rows} == {str(n_observed)}


def test_main__bt_rejects_non_binary_phenotype(reference: Path, tmp_path: Path) -> None:
    args = ["--step", "2", *BT, "--ignore-pred", "--out", str(tmp_path / "x")]
    args[args.index(str(INPUTS / "phenotype_bin.txt"))] = str(INPUTS / "phenotype.txt")
    assert main(args) == 2
