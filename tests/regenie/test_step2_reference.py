"""Step 2 against the real regenie v4.1.2 outputs on regenie's example data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gwasflow.regenie.cli import main

from .conftest import INPUTS, OUTPUTS, read_results

BASE = ["--bed", str(INPUTS / "example_3chr"), "--covarFile", str(INPUTS / "covariates.txt"),
        "--phenoFile", str(INPUTS / "phenotype.txt"), "--bsize", "200", "--threads", "2"]


def _compare(ours: Path, theirs: Path) -> dict[str, float]:
    header, rows = read_results(ours)
    ref_header, ref_rows = read_results(theirs)
    assert header == ref_header
    assert [r[:5] + r[6:8] + r[12:] for r in rows] == [r[:5] + r[6:8] + r[12:] for r in ref_rows]
    got = np.array([[float(v) for v in (r[5], *r[8:12])] for r in rows])
    ref = np.array([[float(v) for v in (r[5], *r[8:12])] for r in ref_rows])
    return {
        "a1freq_abs": float(np.max(np.abs(got[:, 0] - ref[:, 0]))),
        "beta_rel": float(np.max(np.abs(got[:, 1] / ref[:, 1] - 1))),
        "se_rel": float(np.max(np.abs(got[:, 2] / ref[:, 2] - 1))),
        "log10p_abs": float(np.max(np.abs(got[:, 4] - ref[:, 4]))),
    }


def _assert_close(diff: dict[str, float]) -> None:
    assert diff["a1freq_abs"] <= 1e-4
    assert diff["beta_rel"] <= 1e-4
    assert diff["se_rel"] <= 1e-4
    assert diff["log10p_abs"] <= 1e-3


@pytest.mark.parametrize("pheno", ["Y1", "Y2"])
def test_main__step2_with_pred_matches_regenie(ref_workdir: Path, pheno: str) -> None:
    assert main(["--step", "2", *BASE, "--pred", "qt_step1_pred.list", "--out", "qt_step2"]) == 0
    _assert_close(_compare(ref_workdir / f"qt_step2_{pheno}.regenie", OUTPUTS / f"qt_step2_{pheno}.regenie"))


@pytest.mark.parametrize("pheno", ["Y1", "Y2"])
def test_main__step2_ignore_pred_matches_regenie(reference: Path, tmp_path: Path, pheno: str) -> None:
    out = tmp_path / "qt_step2_nopred"
    assert main(["--step", "2", *BASE, "--ignore-pred", "--out", str(out)]) == 0
    ours = tmp_path / f"qt_step2_nopred_{pheno}.regenie"
    _assert_close(_compare(ours, OUTPUTS / f"qt_step2_nopred_{pheno}.regenie"))


def test_main__step2_files_are_byte_identical_to_regenie(ref_workdir: Path) -> None:
    assert main(["--step", "2", *BASE, "--pred", "qt_step1_pred.list", "--out", "qt_step2"]) == 0
    for pheno in ("Y1", "Y2"):
        ours = (ref_workdir / f"qt_step2_{pheno}.regenie").read_bytes()
        assert ours == (OUTPUTS / f"qt_step2_{pheno}.regenie").read_bytes()


def test_main__step2_log_counts_ignored_tests(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["--step", "2", *BASE, "--ignore-pred", "--minMAC", "30", "--out", str(out)]) == 0
    log = (tmp_path / "run.log").read_text()
    _, ref_rows = read_results(OUTPUTS / "qt_step2_nopred_Y1.regenie")
    mac = [min(2 * int(r[6]) * float(r[5]), 2 * int(r[6]) * (1 - float(r[5]))) for r in ref_rows]
    n_low = sum(m < 30 for m in mac)
    assert n_low > 0
    assert f"Number of ignored tests due to low MAC : {2 * n_low}\n" in log
    _, rows = read_results(tmp_path / "run_Y1.regenie")
    assert len(rows) == len(ref_rows) - n_low
