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
