"""Shared fixtures: the real regenie v4.1.2 reference runs, committed in ``tests/data/regenie``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
REFERENCE = REPO_ROOT / "tests" / "data" / "regenie"
INPUTS = REFERENCE / "inputs"
OUTPUTS = REFERENCE / "outputs"


@pytest.fixture
def reference() -> Path:
    if not (INPUTS / "example_3chr.bed").is_file():
        raise FileNotFoundError(f"regenie reference data not found under {REFERENCE}")
    return REFERENCE


@pytest.fixture
def ref_workdir(reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temp folder holding copies of regenie's step 1 outputs, made the current directory."""
    for path in OUTPUTS.glob("qt_step1_*"):
        shutil.copy(path, tmp_path / path.name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def read_results(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and rows (as string fields) of a ``.regenie`` file."""
    lines = path.read_text().splitlines()
    return lines[0].split(), [line.split() for line in lines[1:]]


def write_bed(prefix: Path, dosage: np.ndarray, chrom: list[str], pos: list[int],
              fid: list[str] | None = None) -> None:
    """Write a .bed/.bim/.fam with bed-reader; ``dosage`` counts A1 (NaN = missing)."""
    from bed_reader import to_bed

    n_samples, n_variants = dosage.shape
    ids = fid or [str(i + 1) for i in range(n_samples)]
    props = {
        "fid": ids,
        "iid": ids,
        "chromosome": chrom,
        "bp_position": pos,
        "sid": [f"v{i}" for i in range(n_variants)],
        "allele_1": ["A"] * n_variants,
        "allele_2": ["G"] * n_variants,
    }
    to_bed(prefix.with_suffix(".bed"), dosage.astype(np.float32), properties=props, count_A1=True)


def write_table(path: Path, ids: list[str], columns: dict[str, np.ndarray]) -> None:
    """A whitespace table with ``FID IID`` header; NaN written as NA."""
    lines = ["FID IID " + " ".join(columns)]
    for row, sample in enumerate(ids):
        values = ["NA" if np.isnan(col[row]) else repr(float(col[row])) for col in columns.values()]
        lines.append(f"{sample} {sample} " + " ".join(values))
    path.write_text("\n".join(lines) + "\n")
