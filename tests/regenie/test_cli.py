"""The engine's command line: flags, restrictions, missing data, errors and atomic outputs."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gwasflow.errors import EngineInputError
from gwasflow.regenie.cli import BAD_INPUT_LINE, main
from gwasflow.regenie.options import VariantRange, parse_args
from gwasflow.regenie.output import PendingFiles, format_g

from .conftest import INPUTS, OUTPUTS, read_results, write_bed, write_table

BASE = ["--step", "2", "--bed", str(INPUTS / "example_3chr"), "--covarFile", str(INPUTS / "covariates.txt"),
        "--phenoFile", str(INPUTS / "phenotype.txt"), "--bsize", "200", "--ignore-pred"]


def _ref_rows(pheno: str = "Y1") -> list[list[str]]:
    return read_results(OUTPUTS / f"qt_step2_nopred_{pheno}.regenie")[1]


def test_main__range_keeps_inclusive_window(reference: Path, tmp_path: Path) -> None:
    assert main([*BASE, "--range", "2:60-120", "--out", str(tmp_path / "r")]) == 0
    _, rows = read_results(tmp_path / "r_Y1.regenie")
    expected = [r for r in _ref_rows() if r[0] == "2" and 60 <= int(r[1]) <= 120]
    assert rows == expected and len(rows) == 61


def test_main__chr_is_repeatable(reference: Path, tmp_path: Path) -> None:
    assert main([*BASE, "--chr", "1", "--chr", "3", "--out", str(tmp_path / "c")]) == 0
    _, rows = read_results(tmp_path / "c_Y2.regenie")
    assert rows == [r for r in _ref_rows("Y2") if r[0] in ("1", "3")]


def test_main__pheno_col_list_and_gz(reference: Path, tmp_path: Path) -> None:
    assert main([*BASE, "--phenoColList", "Y2", "--gz", "--out", str(tmp_path / "g")]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.log", "g_Y2.regenie.gz"]
    with gzip.open(tmp_path / "g_Y2.regenie.gz", "rt") as handle:
        text = handle.read()
    assert text == (OUTPUTS / "qt_step2_nopred_Y2.regenie").read_text()


def test_main__one_phenotype_drops_its_missing_samples_several_mask_them(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 120
    ids = [str(i + 1) for i in range(n)]
    dosage = rng.binomial(2, 0.3, size=(n, 30)).astype(float)
    dosage[5, 3] = np.nan
    write_bed(tmp_path / "g", dosage, ["1"] * 30, list(range(1, 31)))
    y = rng.normal(size=(n, 2))
    y[:10, 0] = np.nan
    cov = rng.normal(size=n)
    write_table(tmp_path / "p.txt", ids, {"A": y[:, 0], "B": y[:, 1]})
    write_table(tmp_path / "c.txt", ids, {"C": cov})
    write_table(tmp_path / "p_a.txt", ids[10:], {"A": y[10:, 0]})
    common = ["--step", "2", "--bed", str(tmp_path / "g"), "--covarFile", str(tmp_path / "c.txt"),
              "--bsize", "7", "--ignore-pred", "--minMAC", "1"]
    assert main([*common, "--phenoFile", str(tmp_path / "p.txt"), "--out", str(tmp_path / "both")]) == 0
    assert main([*common, "--phenoFile", str(tmp_path / "p.txt"), "--phenoColList", "A",
                 "--out", str(tmp_path / "one")]) == 0
    assert main([*common, "--phenoFile", str(tmp_path / "p_a.txt"), "--out", str(tmp_path / "alone")]) == 0
    # one trait: regenie's strict mode, the samples missing it are not analysed at all
    assert (tmp_path / "one_A.regenie").read_text() == (tmp_path / "alone_A.regenie").read_text()
    # several traits: the covariates are projected out over every analysed sample (regenie's masking)
    _, rows_a = read_results(tmp_path / "both_A.regenie")
    _, rows_alone = read_results(tmp_path / "alone_A.regenie")
    assert [r[6] for r in rows_a] == [r[6] for r in rows_alone]
    assert [r[8] for r in rows_a] != [r[8] for r in rows_alone]
    _, rows_b = read_results(tmp_path / "both_B.regenie")
    assert [r[6] for r in rows_b[:5]] == ["120", "120", "120", "119", "120"]


def test_main__step2_with_own_step1_is_close_to_regenie(reference: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    inputs = ["--bed", str(INPUTS / "example_3chr"), "--covarFile", str(INPUTS / "covariates.txt"),
              "--phenoFile", str(INPUTS / "phenotype.txt")]
    assert main(["--step", "1", *inputs, "--bsize", "100", "--out", "s1"]) == 0
    assert main(["--step", "2", *inputs, "--bsize", "200", "--pred", "s1_pred.list", "--out", "s2"]) == 0
    for pheno in ("Y1", "Y2"):
        ours = np.array([[float(r[8]), float(r[11])] for r in read_results(tmp_path / f"s2_{pheno}.regenie")[1]])
        ref = np.array([[float(r[8]), float(r[11])] for r in read_results(OUTPUTS / f"qt_step2_{pheno}.regenie")[1]])
        assert np.max(np.abs(ours[:, 1] - ref[:, 1])) < 0.01  # 0.0041 when written
        assert np.max(np.abs(ours[:, 0] - ref[:, 0])) < 1e-3


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--bogus"], "--bogus: unknown option"),
        (["--bsize", "zero"], "--bsize: expected a positive integer"),
        (["--range", "2:10"], "--range: expected CHR:MIN-MAX"),
        (["--minMAC", "-1"], "--minMAC"),
        (["--step", "3"], "--step: expected 1 or 2"),
        (["--threads"], "--threads: missing value"),
    ],
)
def test_main__bad_flag_exits_2_with_one_error_line(argv: list[str], needle: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--out", str(tmp_path / "x"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 2 and needle in err
    assert err.splitlines()[-1] == "gwasflow-error: bad_input"


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    (tmp_path / "nonnum.txt").write_text("FID IID Y1\n1 1 0.5\n2 2 abc\n")
    (tmp_path / "other.txt").write_text("FID IID Y1\nx x 0.5\ny y 0.7\n")
    return {
        "missing_file": (["--phenoFile", str(tmp_path / "nope.txt")], "nope.txt"),
        "missing_column": (["--phenoColList", "Y9"], "'Y9' not found"),
        "non_numeric": (["--phenoFile", str(tmp_path / "nonnum.txt")], "nonnum.txt: line 3: column 'Y1' value 'abc'"),
        "no_overlap": (["--phenoFile", str(tmp_path / "other.txt")], "no sample"),
        "missing_bed": (["--bed", str(tmp_path / "nobed")], "--bed: bed file not found"),
        "missing_pred": (["--pred", str(tmp_path / "none.list")], "--pred: file not found"),
    }


@pytest.mark.parametrize("case", ["missing_file", "missing_column", "non_numeric", "no_overlap", "missing_bed",
                                  "missing_pred"])
def test_main__bad_input_exits_2_without_outputs(case: str, reference: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    extra, needle = _bad_inputs(tmp_path)[case]
    argv = [a for a in BASE if a != "--ignore-pred"] if case == "missing_pred" else BASE
    assert main([*argv, *extra, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 2 and needle in err, err
    assert err.splitlines()[-1] == "gwasflow-error: bad_input"
    assert not list(tmp_path.glob("x_*"))


def test_module__python_dash_m_runs_and_reports_errors(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "gwasflow.regenie", "--step", "2", "--nope"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr == "error: --nope: unknown option\ngwasflow-error: bad_input\n"


def test_parse_args__defaults_and_ignored_flags() -> None:
    opts = parse_args([*BASE, "--out", "o", "--lowmem", "--lowmem-prefix", "tmp", "--force-qt", "--threads=3",
                       "--range", "X:1-5"])
    assert opts.min_mac == 5 and opts.cv == 5 and opts.threads == 3 and opts.lowmem and opts.force_qt
    assert opts.range == VariantRange(23, 1, 5)


def test_parse_args__step2_needs_pred_or_ignore_pred() -> None:
    with pytest.raises(EngineInputError, match="--pred"):
        parse_args([a for a in BASE if a != "--ignore-pred"] + ["--out", "o"])


def test_pending_files__discard_leaves_no_final_file(tmp_path: Path) -> None:
    pending = PendingFiles()
    pending.open(tmp_path / "a.regenie").write("partial")
    assert next(p.name for p in tmp_path.iterdir()).startswith("a.regenie.tmp-")
    pending.discard()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("value", "text"), [(1.40442e-05, "1.40442e-05"), (0.023, "0.023"), (500.0, "500"),
                                             (123456789.0, "1.23457e+08"), (-0.0, "0"), (float("nan"), "NA")])
def test_format_g__prints_like_regenie(value: float, text: str) -> None:
    assert format_g(value) == text


def test_main__missing_out_folder_exits_2(reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--out", str(tmp_path / "no" / "x")]) == 2
    assert capsys.readouterr().err.startswith("error: --out: folder")


def test_main__step1_mean_imputes_missing_phenotypes(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    n = 80
    ids = [str(i + 1) for i in range(n)]
    write_bed(tmp_path / "g", rng.binomial(2, 0.3, size=(n, 40)).astype(float), ["1"] * 20 + ["2"] * 20,
              list(range(1, 41)))
    y = rng.normal(size=n)
    y[[3, 50]] = np.nan
    write_table(tmp_path / "p.txt", ids, {"A": y})
    out = tmp_path / "s1"
    assert main(["--step", "1", "--bed", str(tmp_path / "g"), "--phenoFile", str(tmp_path / "p.txt"),
                 "--bsize", "10", "--out", str(out)]) == 0
    lines = (tmp_path / "s1_1.loco").read_text().splitlines()
    assert lines[0].split()[1:4] == ["10_10", "11_11", "12_12"]
    assert len(lines) == 24 and all("NA" not in line for line in lines)
    assert (tmp_path / "s1_pred.list").read_text() == f"A {tmp_path / 's1_1.loco'}\n"


def test_main__help_lists_every_flag_by_group_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    from gwasflow.regenie.options import build_parser

    assert main(["--step", "2", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: gwasflow regenie")
    for group in ("genotypes:", "tables:", "samples and variants:", "step 1:", "step 2:", "binary traits:"):
        assert f"\n{group}\n" in out
    flags = {flag for action in build_parser()._actions for flag in action.option_strings}
    assert {"--bgen", "--catCovarList", "--minMAC", "--pThresh", "--strict"} <= flags
    assert all(flag in out for flag in flags)


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--bt=1"], "error: --bt: takes no value\n"),
        (["stray"], "error: stray: unexpected argument (every value follows its flag)\n"),
        (["--thread", "2"], "error: --thread: unknown option\n"),  # no abbreviations, as in regenie
    ],
)
def test_main__malformed_argv_is_one_error_line_and_the_bad_input_marker(argv: list[str], line: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--out", str(tmp_path / "x"), *argv]) == 2
    assert capsys.readouterr().err == f"{line}{BAD_INPUT_LINE}\n"
