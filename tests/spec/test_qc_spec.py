"""Issue 12: ``step1.qc`` in the run spec: field ranges, BGEN refusal, plink2 on PATH."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gwasflow.errors import SpecError
from gwasflow.spec import load
from gwasflow.spec.model import QcEngineKind
from gwasflow.validate import validate

from .conftest import SpecWriter


def _step1(qc: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"bsize": 100, "qc": qc, **extra}


def _load_error(path: Path) -> str:
    with pytest.raises(SpecError) as info:
        load(path)
    return str(info.value)


def test_load__qc_fields_parsed(write_spec: SpecWriter) -> None:
    qc = {"maf": 0.01, "mac": 5, "geno": 0.1, "mind": 0.1, "hwe": 1e-6,
          "prune": {"window": 50, "step": 5, "r2": 0.2}, "engine": "builtin"}
    spec = load(write_spec(step1=_step1(qc)))
    assert spec.step1.qc is not None
    assert spec.step1.qc.maf == 0.01 and spec.step1.qc.hwe == 1e-6
    assert spec.step1.qc.prune is not None and spec.step1.qc.prune.window == 50
    assert spec.step1.qc.engine is QcEngineKind.BUILTIN
    validate(spec)  # the example .bed is a valid QC target


@pytest.mark.parametrize(("qc", "needle"), [
    ({"maf": 0.6}, "maf"),
    ({"geno": -0.1}, "geno"),
    ({"mind": 1.5}, "mind"),
    ({"hwe": 2}, "hwe"),
    ({"mac": -1}, "mac"),
    ({"prune": {"window": 0, "step": 1, "r2": 0.2}}, "window"),
    ({"prune": {"window": 50, "step": 0, "r2": 0.2}}, "step"),
    ({"prune": {"window": 50, "step": 60, "r2": 0.2}}, "step"),
    ({"prune": {"window": 50, "step": 5, "r2": 0}}, "r2"),
    ({"prune": {"window": 50, "step": 5, "r2": 1.5}}, "r2"),
    ({"prune": {"window": 50.5, "step": 5, "r2": 0.2}}, "window"),
    ({"engine": "plink3"}, "engine"),
    ({"maf": 0.01, "bogus": 1}, "bogus"),
])
def test_load__qc_out_of_range_refused(write_spec: SpecWriter, qc: dict[str, Any], needle: str) -> None:
    message = _load_error(write_spec(step1=_step1(qc)))
    assert "step1.qc" in message and needle in message


def test_load__qc_with_skip_refused(write_spec: SpecWriter, tmp_path: Path) -> None:
    message = _load_error(write_spec(step1={"skip": True, "predictions": "p.list", "qc": {"maf": 0.01}}))
    assert "skip" in message and "qc" in message


def test_validate__qc_on_bgen_step1_refused(write_spec: SpecWriter, tmp_path: Path) -> None:
    bgen = tmp_path / "data" / "arr.bgen"
    spec = load(write_spec(step1={"qc": {"maf": 0.01}, "genotypes": {"bgen": str(bgen)}}))
    with pytest.raises(SpecError) as info:
        validate(spec)
    hits = [p for p in info.value.problems if p.field == "step1.qc"]
    assert len(hits) == 1
    assert "BGEN" in hits[0].message and "step1.genotypes.bgen" in hits[0].message


def test_validate__qc_engine_plink2_needs_plink2_on_path(write_spec: SpecWriter,
                                                         monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spec = load(write_spec(step1=_step1({"maf": 0.01, "engine": "plink2"})))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(SpecError) as info:
        validate(spec)
    assert [str(p) for p in info.value.problems] == [
        "step1.qc.engine: plink2 is not on PATH (install it or use engine: builtin)"]
