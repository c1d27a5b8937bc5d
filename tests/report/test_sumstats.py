"""GWAS-SSF export: the table's columns and values against the merged regenie result, its metadata, refusals.

The files are read with pandas and checked by the GWAS-SSF v1.0 rules (the GWAS Catalog's own validator,
``gwas-sumstats-tools``, needs pydantic 1 and cannot be installed beside gwasflow).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from gwasflow import __version__
from gwasflow.commands.demo import write_demo
from gwasflow.report.sumstats import Skip, SumstatsError, p_value_text, write_ssf_table

HEADER = "CHROM GENPOS ID ALLELE0 ALLELE1 A1FREQ INFO N TEST BETA SE CHISQ LOG10P EXTRA"
REPO = Path(__file__).resolve().parents[2]
SSF_FIRST = ["chromosome", "base_pair_location", "effect_allele", "other_allele", "beta", "standard_error",
             "effect_allele_frequency", "p_value"]


def _result(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_bytes(gzip.compress(("\t".join(header.split()) + "\n" + "".join(
        "\t".join(r.split()) + "\n" for r in rows)).encode()))
    return path


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", na_values=["#NA"], keep_default_na=False, dtype={"rsid": str})


def _regenie(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep=r"\s+", dtype={"CHROM": str, "ID": str})


def test_write_ssf_table__columns_and_values_follow_the_regenie_result(tmp_path: Path) -> None:
    source = _result(tmp_path / "Y1.regenie.gz", [
        "1 100 rs123 A G 0.25 0.98 500 ADD 0.12 0.03 16 4.2 NA",
        "1 250 1:250:C:T C T 0.5 NA 499 ADD -0.5 0.1 25 6.5 NA",
        "23 7 rsX A C 0.01 0.7 480 ADD 0.3 0.2 2.2 350.3 NA",
    ])
    table = write_ssf_table(source, tmp_path / "Y1.tsv.gz")
    ssf = _read(tmp_path / "Y1.tsv.gz")
    assert list(ssf.columns) == [*SSF_FIRST, "variant_id", "rsid", "n", "info"]
    assert (table.rows, table.skipped, table.max_n) == (3, {}, 500)
    assert ssf["chromosome"].tolist() == [1, 1, 23] and ssf["base_pair_location"].tolist() == [100, 250, 7]
    assert ssf["effect_allele"].tolist() == ["G", "T", "C"] and ssf["other_allele"].tolist() == ["A", "C", "A"]
    assert ssf["beta"].tolist() == [0.12, -0.5, 0.3] and ssf["standard_error"].tolist() == [0.03, 0.1, 0.2]
    assert ssf["effect_allele_frequency"].tolist() == [0.25, 0.5, 0.01]
    assert ssf["p_value"].tolist()[:2] == pytest.approx([10**-4.2, 10**-6.5], rel=1e-5)
    text = gzip.decompress((tmp_path / "Y1.tsv.gz").read_bytes()).decode().splitlines()
    assert text[3].split("\t")[7] == "5.01187e-351"  # below the smallest double, still exact as text
    assert ssf["variant_id"].tolist() == ["1_100_A_G", "1_250_C_T", "23_7_A_C"]
    assert ssf["rsid"].isna().tolist() == [False, True, True] and ssf["rsid"][0] == "rs123"
    assert ssf["n"].tolist() == [500, 499, 480]
    assert ssf["info"].isna().tolist() == [False, True, False] and ssf["info"][0] == 0.98
    assert table.md5 == hashlib.md5((tmp_path / "Y1.tsv.gz").read_bytes()).hexdigest()


def test_write_ssf_table__neg_log10_p_keeps_regenie_log10p_as_printed(tmp_path: Path) -> None:
    source = _result(tmp_path / "Y1.regenie.gz", ["2 5 v A G 0.3 1 90 ADD 0.1 0.05 4 1.35696 NA"])
    write_ssf_table(source, tmp_path / "o.tsv.gz", neg_log10_p=True)
    header, row = gzip.decompress((tmp_path / "o.tsv.gz").read_bytes()).decode().splitlines()
    assert header.split("\t")[7] == "neg_log_10_p_value" and row.split("\t")[7] == "1.35696"


def test_p_value_text__is_ten_to_minus_log10p_with_six_digits_at_any_size() -> None:
    assert p_value_text(0.0) == "1"
    assert p_value_text(2.0) == "0.01"
    assert p_value_text(350.3) == "5.01187e-351"
    assert p_value_text(400.0) == "1.00000e-400"
    assert p_value_text(399.9999999) == "1.00000e-400"
    assert p_value_text(399.0000001) == "1.00000e-399"  # a mantissa rounding up to 10 moves the exponent
    for log10p in (0.5, 7.3, 120.25, 306.9, 307.1, 1234.5678):
        mantissa, _, exponent = p_value_text(log10p).partition("e")
        assert -(math.log10(float(mantissa)) + int(exponent or "0")) == pytest.approx(log10p, abs=1e-5)


def test_write_ssf_table__rows_without_a_gwas_ssf_form_are_left_out_and_counted(tmp_path: Path) -> None:
    source = _result(tmp_path / "Y1.regenie.gz", [
        "1 1 a A G 0.3 1 90 ADD NA NA NA NA TEST_FAIL",
        "1 2 b I D 0.3 1 90 ADD 0.1 0.05 4 1.3 NA",
        "1 3 c a g 0.3 1 90 ADD 0.1 0.05 4 1.3 NA",
        "1 4 d A G 0.3 1 90 DOM 0.1 0.05 4 1.3 NA",
        "25 5 e A G 0.3 1 90 ADD 0.1 0.05 4 1.3 NA",
        "MT 6 f A G 0.3 1 90 ADD 0.1 0.05 4 1.3 NA",
    ])
    table = write_ssf_table(source, tmp_path / "o.tsv.gz")
    ssf = _read(tmp_path / "o.tsv.gz")
    assert table.skipped == {Skip.MISSING_STATISTIC: 1, Skip.ALLELE: 1, Skip.OTHER_TEST: 1, Skip.CHROMOSOME: 1}
    assert ssf[["chromosome", "effect_allele"]].values.tolist() == [[1, "G"], [25, "G"]]  # lower case made upper


def test_write_ssf_table__result_without_log10p_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    header = "CHROM GENPOS ID ALLELE0 ALLELE1 A1FREQ N"
    source = _result(tmp_path / "Y1.regenie.gz", ["1 1 a A G 0.3 90"], header=header)
    with pytest.raises(SumstatsError, match=r"Y1.regenie.gz: line 1: no BETA, SE, LOG10P column"):
        write_ssf_table(source, tmp_path / "o.tsv.gz")


def test_write_ssf_table__rows_out_of_order_are_an_error_not_a_file_claiming_sorted(tmp_path: Path) -> None:
    source = _result(tmp_path / "Y1.regenie.gz", [
        "2 10 a A G 0.3 1 90 ADD 0.1 0.05 4 1.3 NA",
        "1 10 b A G 0.3 1 90 ADD 0.1 0.05 4 1.3 NA",
    ])
    with pytest.raises(SumstatsError, match="line 3: chromosome 1 position 10 comes after chromosome 2 position 10"):
        write_ssf_table(source, tmp_path / "o.tsv.gz")


def _gwasflow(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gwasflow", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished small demo (600 samples x 3,000 variants), its spec without genome_build."""
    folder = tmp_path_factory.mktemp("demo") / "d"
    spec = write_demo(folder, n_samples=600, n_variants=3000, seed=5)
    proc = _gwasflow(["run", str(spec), "--quiet"], folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder


def test_export_sumstats__without_genome_build_refuses_in_one_line_and_writes_nothing(demo_run: Path) -> None:
    proc = _gwasflow(["export-sumstats", str(demo_run)], demo_run.parent)
    assert proc.returncode == 2
    assert proc.stderr == ("error: genome assembly unknown: set genome_build: GRCh37 or GRCh38 in the spec, "
                           "or pass --genome-build\n")
    assert not (demo_run / "sumstats").exists()


def test_export_sumstats__unknown_trait_is_refused_naming_the_run_traits(demo_run: Path) -> None:
    proc = _gwasflow(["export-sumstats", "--genome-build", "GRCh38", "--trait", "BMI"], demo_run)
    assert proc.returncode == 2 and "trait 'BMI' is not in this run (its traits: Y1, Y2)" in proc.stderr


def test_export_sumstats__demo_tables_hold_the_merged_results_and_metadata_describes_them(
    demo_run: Path, tmp_path: Path
) -> None:
    proc = _gwasflow(["export-sumstats", "--genome-build", "GRCh37", "--out", str(tmp_path)], demo_run)
    assert proc.returncode == 0, proc.stderr
    spec = json.loads((demo_run / ".gwasflow" / "spec.json").read_text())
    for trait in ("Y1", "Y2"):
        data = tmp_path / f"{trait}.tsv.gz"
        ssf, merged = _read(data), _regenie(demo_run / "results" / f"{trait}.regenie.gz")
        assert f"{trait}: 3000 rows (0 left out) -> {data}" in proc.stdout
        assert list(ssf.columns[:8]) == SSF_FIRST and len(ssf) == len(merged) == 3000
        assert ssf["chromosome"].tolist() == merged["CHROM"].astype(int).tolist()
        assert ssf["base_pair_location"].tolist() == merged["GENPOS"].tolist()
        assert ssf[["chromosome", "base_pair_location"]].apply(tuple, axis=1).is_monotonic_increasing
        assert ssf["effect_allele"].tolist() == merged["ALLELE1"].tolist()
        assert ssf["other_allele"].tolist() == merged["ALLELE0"].tolist()
        assert ssf["beta"].tolist() == merged["BETA"].tolist()
        assert ssf["standard_error"].tolist() == merged["SE"].tolist()
        assert ssf["effect_allele_frequency"].tolist() == merged["A1FREQ"].tolist()
        assert (-ssf["p_value"].map(math.log10)).tolist() == pytest.approx(merged["LOG10P"].tolist(), abs=1e-5)
        assert ssf["n"].tolist() == merged["N"].tolist()
        assert all(re.fullmatch(r"[1-9][0-9]?_[0-9]+_[ACGT]+_[ACGT]+", v) for v in ssf["variant_id"])
        meta = yaml.safe_load((tmp_path / f"{trait}.tsv.gz-meta.yaml").read_text())
        assert meta["file_type"] == "GWAS-SSF v1.0" and meta["data_file_name"] == f"{trait}.tsv.gz"
        assert meta["data_file_md5sum"] == hashlib.md5(data.read_bytes()).hexdigest()
        assert (meta["genome_assembly"], meta["coordinate_system"]) == ("GRCh37", "1-based")
        assert meta["trait_description"] == [trait]
        assert meta["samples"] == [{"sample_size": int(merged["N"].max()), "case_control_study": False}]
        assert meta["analysis_software"] == f"gwasflow {__version__} (built-in regenie-compatible engine)"
        assert meta["adjusted_covariates"] == spec["covariates"]["columns"]
        assert (meta["is_sorted"], meta["is_harmonised"]) == (True, False)


def test_export_sumstats__genome_build_comes_from_the_spec(demo_run: Path, tmp_path: Path) -> None:
    spec = json.loads((demo_run / ".gwasflow" / "spec.json").read_text())
    run = tmp_path / "run"
    (run / ".gwasflow").mkdir(parents=True)
    (run / ".gwasflow" / "gwasflow.sqlite").write_bytes((demo_run / ".gwasflow" / "gwasflow.sqlite").read_bytes())
    (run / ".gwasflow" / "spec.json").write_text(json.dumps({**spec, "genome_build": "GRCh38"}))
    (run / "results").mkdir()
    (run / "results" / "Y2.regenie.gz").write_bytes((demo_run / "results" / "Y2.regenie.gz").read_bytes())
    proc = _gwasflow(["export-sumstats", "--trait", "Y2"], run)
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load((run / "sumstats" / "Y2.tsv.gz-meta.yaml").read_text())["genome_assembly"] == "GRCh38"
    assert sorted(p.name for p in (run / "sumstats").iterdir()) == ["Y2.tsv.gz", "Y2.tsv.gz-meta.yaml"]


def _gwaslab_python() -> str:
    """gwaslab's interpreter: $GWASFLOW_GWASLAB_PYTHON (set by .ci/run), else .ci-venv-gwaslab/ in the clone."""
    found = os.environ.get("GWASFLOW_GWASLAB_PYTHON") or str(REPO / ".ci-venv-gwaslab" / "bin" / "python")
    assert Path(found).is_file(), (f"gwaslab not found at {found}: `python3 -m venv .ci-venv-gwaslab && "
                                   ".ci-venv-gwaslab/bin/pip install gwaslab` (bash .ci/run does it)")
    return found


def test_export_sumstats__gwaslab_reads_the_same_values(demo_run: Path, tmp_path: Path) -> None:
    """The done-when of issue 16 item 5: a library made for such files reads the export with the same values."""
    proc = _gwasflow(["export-sumstats", "--genome-build", "GRCh38", "--out", str(tmp_path)], demo_run)
    assert proc.returncode == 0, proc.stderr
    files = [str(tmp_path / f"{trait}.tsv.gz") for trait in ("Y1", "Y2")]
    read = subprocess.run([_gwaslab_python(), str(Path(__file__).with_name("gwaslab_read.py")), *files],
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert read.returncode == 0, read.stderr[-3000:]
    tables = json.loads(read.stdout)
    for trait, path in zip(("Y1", "Y2"), files, strict=True):
        got, merged = tables[path], _regenie(demo_run / "results" / f"{trait}.regenie.gz")
        assert len(got["POS"]) == len(merged) > 1000
        assert got["CHR"] == merged["CHROM"].astype(str).tolist()
        assert [int(p) for p in got["POS"]] == merged["GENPOS"].tolist()
        assert got["EA"] == merged["ALLELE1"].tolist() and got["NEA"] == merged["ALLELE0"].tolist()
        assert [float(v) for v in got["BETA"]] == merged["BETA"].tolist()
        assert [float(v) for v in got["SE"]] == merged["SE"].tolist()
        assert [float(v) for v in got["EAF"]] == merged["A1FREQ"].tolist()
        assert [int(v) for v in got["N"]] == merged["N"].tolist()
        log10p = [-math.log10(float(p)) for p in got["P"]]
        assert log10p == pytest.approx(merged["LOG10P"].tolist(), abs=1e-5)
