"""Fixtures: a copy of regenie's example data in tmp_path and a spec writer."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REGENIE_EXAMPLE

EXAMPLE = REGENIE_EXAMPLE / "inputs"
FILES = ["example_3chr.bed", "example_3chr.bim", "example_3chr.fam", "phenotype.txt", "covariates.txt"]

SpecWriter = Callable[..., Path]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A writable copy of the example inputs, in ``tmp_path/data``."""
    if not EXAMPLE.is_dir():
        raise FileNotFoundError(f"regenie example data not found at {EXAMPLE}")
    out = tmp_path / "data"
    out.mkdir()
    for name in FILES:
        shutil.copyfile(EXAMPLE / name, out / name)
    return out


def base_spec() -> dict[str, Any]:
    """A valid spec, paths relative to ``tmp_path``."""
    return {
        "name": "demo",
        "datasets": [{"bed": "data/example_3chr", "label": "ex"}],
        "phenotypes": {"file": "data/phenotype.txt", "columns": ["Y1", "Y2"]},
        "covariates": {"file": "data/covariates.txt", "columns": ["V1", "V2", "V3"]},
        "step1": {"bsize": 100},
        "step2": {"variants_per_job": 100, "phenotypes_per_job": 1},
        "workdir": "work",
        "outdir": "out",
    }


@pytest.fixture
def write_spec(tmp_path: Path, data_dir: Path) -> SpecWriter:
    """Write ``base_spec()`` updated with the given top-level fields to ``tmp_path/spec.yaml``."""

    def write(name: str = "spec.yaml", **fields: Any) -> Path:
        spec = base_spec()
        spec.update(fields)
        path = tmp_path / name
        path.write_text(yaml.safe_dump(spec, sort_keys=False))
        return path

    return write
