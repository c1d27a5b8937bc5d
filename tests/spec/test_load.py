from __future__ import annotations

import json
from pathlib import Path

import pytest

from gwasflow.errors import SpecError
from gwasflow.spec import load
from gwasflow.spec.load import dotted

from .conftest import SpecWriter, base_spec


def test_load__yaml_resolves_relative_paths(tmp_path: Path, write_spec: SpecWriter) -> None:
    spec = load(write_spec())
    assert spec.datasets[0].bed == str(tmp_path / "data" / "example_3chr")
    assert spec.phenotypes.file == str(tmp_path / "data" / "phenotype.txt")
    assert spec.covariates is not None
    assert spec.covariates.file == str(tmp_path / "data" / "covariates.txt")
    assert spec.workdir == str(tmp_path / "work")
    assert spec.outdir == str(tmp_path / "out")


def test_load__json_spec(tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(base_spec()))
    spec = load(path)
    assert spec.name == "demo"
    assert Path(spec.workdir).is_absolute()


def test_load__absolute_paths_unchanged(tmp_path: Path) -> None:
    data = base_spec()
    data["workdir"] = "/scratch/run1"
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(data))
    assert load(path).workdir == "/scratch/run1"


def test_load__predictions_and_binary_with_slash_resolved(tmp_path: Path) -> None:
    data = base_spec()
    data["step1"] = {"skip": True, "predictions": "prev/demo_pred.list"}
    data["engine"] = {"kind": "regenie", "binary": "bin/regenie", "version": "4.1.2"}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(data))
    spec = load(path)
    assert spec.step1.predictions == str(tmp_path / "prev" / "demo_pred.list")
    assert spec.engine.binary == str(tmp_path / "bin" / "regenie")


def test_load__binary_name_without_slash_kept(tmp_path: Path) -> None:
    data = base_spec()
    data["engine"] = {"kind": "regenie", "binary": "regenie"}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(data))
    assert load(path).engine.binary == "regenie"


def test_load__field_error_names_dotted_field_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(
        "name: demo\n"
        "datasets:\n"
        "  - bed: data/x\n"
        "phenotypes: {file: p.txt, columns: [Y1]}\n"
        "step2:\n"
        "  variants_per_job: 0\n"
        "workdir: w\n"
        "outdir: o\n"
    )
    with pytest.raises(SpecError) as info:
        load(path)
    [problem] = info.value.problems
    assert problem.field == "step2.variants_per_job"
    assert problem.message == "must be > 0"
    assert problem.file == str(path)
    assert problem.line == 6


def test_load__reports_every_field_error(tmp_path: Path) -> None:
    data = base_spec()
    data["step1"] = {"bsize": -1}
    data["step2"] = {"phenotypes_per_job": 0}
    data["datasets"] = [{"label": "x"}]
    data["colour"] = "blue"
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SpecError) as info:
        load(path)
    fields = {p.field: p.message for p in info.value.problems}
    assert fields["step1.bsize"] == "must be > 0"
    assert fields["step2.phenotypes_per_job"] == "must be > 0"
    assert fields["datasets[0].bed"] == "is required"
    assert fields["colour"] == "unknown field"


def test_load__model_rule_error_names_section(tmp_path: Path) -> None:
    data = base_spec()
    data["step1"] = {"skip": True}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SpecError) as info:
        load(path)
    [problem] = info.value.problems
    assert problem.field == "step1"
    assert "predictions" in problem.message


def test_load__ill_formed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("name: demo\ndatasets:\n  - bed: x\n   label: [unclosed\n")
    with pytest.raises(SpecError) as info:
        load(path)
    [problem] = info.value.problems
    assert problem.file == str(path)
    assert problem.line is not None and problem.line >= 3
    assert "invalid YAML" in problem.message


def test_load__ill_formed_json_names_line(tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    path.write_text('{\n  "name": "demo",\n  "datasets": [,]\n}\n')
    with pytest.raises(SpecError) as info:
        load(path)
    assert info.value.problems[0].line == 3


def test_load__missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load(tmp_path / "nope.yaml")
    assert "cannot read" in info.value.problems[0].message


def test_load__unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "spec.toml"
    path.write_text("")
    with pytest.raises(SpecError, match=r"\.yaml"):
        load(path)


def test_load__top_level_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(SpecError, match="mapping"):
        load(path)


def test_dotted__indices_and_names() -> None:
    assert dotted(("datasets", 0, "bed")) == "datasets[0].bed"
    assert dotted(("phenotypes", "columns", 1)) == "phenotypes.columns[1]"
    assert dotted(()) == "spec"
