"""Bad specs and inputs through the real command: exit 2, one clear line per problem, nothing written."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.spec.conftest import FILES, base_spec


def _truncate_bed(d: Path) -> None:
    bed = d / "example_3chr.bed"
    bed.write_bytes(bed.read_bytes()[:-10])


def _letters_in_pheno(d: Path) -> None:
    p = d / "phenotype.txt"
    lines = p.read_text().splitlines()
    cells = lines[3].split()
    cells[2] = "tall"
    lines[3] = " ".join(cells)
    p.write_text("\n".join(lines) + "\n")


def _other_samples_in_covar(d: Path) -> None:
    p = d / "covariates.txt"
    lines = p.read_text().splitlines()
    p.write_text(lines[0] + "\n" + "\n".join("X" + line for line in lines[1:]) + "\n")


def _drop_fam(d: Path) -> None:
    (d / "example_3chr.fam").unlink()


def _short_row(d: Path) -> None:
    p = d / "covariates.txt"
    lines = p.read_text().splitlines()
    lines[5] = " ".join(lines[5].split()[:3])
    p.write_text("\n".join(lines) + "\n")


def _nothing(d: Path) -> None:
    return None


def _rewrite(table: Path, column: str, value_of: Callable[[int, str], str]) -> None:
    """Set every cell of ``column``: ``value_of(row from 0, old text)``."""
    rows = [line.split() for line in table.read_text().splitlines()]
    k = rows[0].index(column)
    for i, cells in enumerate(rows[1:]):
        cells[k] = value_of(i, cells[k])
    table.write_text("\n".join(" ".join(cells) for cells in rows) + "\n")


def _constant_y2(d: Path) -> None:
    _rewrite(d / "phenotype.txt", "Y2", lambda i, v: "1.5")


def _six_phenotyped_y2(d: Path) -> None:
    _rewrite(d / "phenotype.txt", "Y2", lambda i, v: v if i < 6 else "NA")


def _all_missing_y2(d: Path) -> None:
    _rewrite(d / "phenotype.txt", "Y2", lambda i, v: "NA")


def _minus9_in_y2(d: Path) -> None:
    _rewrite(d / "phenotype.txt", "Y2", lambda i, v: "-9" if i % 10 == 3 else v)


def _huge_y1(d: Path) -> None:
    _rewrite(d / "phenotype.txt", "Y1", lambda i, v: "1e308" if i == 7 else v)


def _all_control(d: Path) -> None:
    _rewrite(d / "phenotype.txt", "Y1", lambda i, v: "0")
    _rewrite(d / "phenotype.txt", "Y2", lambda i, v: str(i % 2))


def _plink_case_control(d: Path) -> None:
    for col in ("Y1", "Y2"):
        _rewrite(d / "phenotype.txt", col, lambda i, v: "2" if i % 3 == 0 else "1")


def _duplicate_header_column(d: Path) -> None:
    p = d / "phenotype.txt"
    p.write_text(p.read_text().replace("FID IID Y1 Y2", "FID IID Y1 Y1", 1))


def _comma_in_covariate_name(d: Path) -> None:
    p = d / "covariates.txt"
    p.write_text(p.read_text().replace("V3", "V,3", 1))


def _tab_separated_empty_cell(d: Path) -> None:
    p = d / "phenotype.txt"
    rows = [line.split() for line in p.read_text().splitlines()]
    rows[12][2] = ""
    p.write_text("\n".join("\t".join(cells) for cells in rows) + "\n")


Case = tuple[str, Callable[[Path], None], dict[str, Any], str]

CASES: list[Case] = [
    ("missing_bed_prefix", _nothing, {"datasets": [{"bed": "data/nope"}]}, "datasets[0]"),
    ("missing_fam", _drop_fam, {}, ".fam"),
    ("bed_size_mismatch", _truncate_bed, {}, ".bed"),
    ("unknown_pheno_column", _nothing, {"phenotypes": {"file": "data/phenotype.txt", "columns": ["Y9"]}}, "Y9"),
    ("unknown_covar_column", _nothing, {"covariates": {"file": "data/covariates.txt", "columns": ["V7"]}}, "V7"),
    ("non_numeric_pheno", _letters_in_pheno, {}, "line 4"),
    ("no_sample_overlap", _other_samples_in_covar, {}, "in common"),
    ("zero_batch_size", _nothing, {"step2": {"variants_per_job": 0}}, "step2.variants_per_job"),
    ("negative_bsize", _nothing, {"step1": {"bsize": -5}}, "step1.bsize"),
    ("skip_without_predictions", _nothing, {"step1": {"skip": True}}, "step1"),
    ("missing_pheno_file", _nothing, {"phenotypes": {"file": "data/none.txt", "columns": ["Y1"]}}, "none.txt"),
    ("short_covar_row", _short_row, {}, "line 6"),
    ("unknown_field", _nothing, {"colour": "blue"}, "colour"),
    ("regenie_without_binary", _nothing, {"engine": {"kind": "regenie"}}, "engine"),
    ("unknown_executor_setting", _nothing, {"executor": {"kind": "local", "settings": {"colour": 3}}}, "colour"),
    # issue 14: degenerate traits and inputs the engine would reject
    ("constant_trait", _constant_y2, {}, "'Y2' is constant (1.5)"),
    ("trait_as_covariate", _nothing, {"covariates": {"file": "data/phenotype.txt", "columns": ["Y2"]}},
     "'Y2' is also listed as a phenotype"),
    ("six_phenotyped_samples", _six_phenotyped_y2, {}, "6 samples analysed"),
    ("all_missing_trait", _all_missing_y2, {}, "trait 'Y2' has no value"),
    ("plink_missing_code", _minus9_in_y2, {}, "use NA for missing values"),
    ("implausible_value", _huge_y1, {}, "implausibly large"),
    ("all_control_binary", _all_control, {"trait": "binary"}, "0 cases among 500"),
    ("plink_case_control_coding", _plink_case_control, {"trait": "binary"}, "recode it to 0 (control), 1 (case)"),
    ("duplicate_header_column", _duplicate_header_column, {"phenotypes": {"file": "data/phenotype.txt",
                                                                          "columns": ["Y1"]}}, "appears twice"),
    ("column_listed_twice", _nothing, {"phenotypes": {"file": "data/phenotype.txt", "columns": ["Y1", "Y1"]}},
     "listed twice"),
    ("comma_in_covariate_name", _comma_in_covariate_name,
     {"covariates": {"file": "data/covariates.txt", "columns": ["V1", "V,3"]}}, "cannot take a comma"),
    ("tab_separated_empty_cell", _tab_separated_empty_cell, {}, "line 13): field 3 is empty"),
]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gwasflow", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.mark.parametrize(("name", "corrupt", "fields", "needle"), CASES, ids=[c[0] for c in CASES])
def test_run__bad_input_exits_2_with_a_clear_line_and_writes_nothing(
    tmp_path: Path, regenie_example: Path, name: str, corrupt: Callable[[Path], None], fields: dict[str, Any],
    needle: str,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for f in FILES:
        shutil.copyfile(regenie_example / "inputs" / f, data / f)
    corrupt(data)
    spec = base_spec()
    spec.update(fields)
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    before = sorted(p.name for p in tmp_path.iterdir())
    proc = _run(["run", "spec.yaml", "--quiet"], tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("error: ") for line in lines), proc.stderr
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_validate__reports_every_problem_at_once(tmp_path: Path, regenie_example: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for f in FILES:
        shutil.copyfile(regenie_example / "inputs" / f, data / f)
    _truncate_bed(data)
    spec = base_spec()
    spec["phenotypes"] = {"file": "data/phenotype.txt", "columns": ["Y1", "Nope"]}
    spec["covariates"] = {"file": "data/covariates.txt", "columns": ["V1", "Missing"]}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    proc = _run(["validate", "spec.yaml"], tmp_path)
    assert proc.returncode == 2
    for needle in (".bed", "Nope", "Missing"):
        assert needle in proc.stderr
    assert len(proc.stderr.strip().splitlines()) >= 3


def test_validate__good_spec_exits_0(tmp_path: Path, regenie_example: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for f in FILES:
        shutil.copyfile(regenie_example / "inputs" / f, data / f)
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(base_spec()))
    proc = _run(["validate", "spec.yaml"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "ok:" in proc.stdout
