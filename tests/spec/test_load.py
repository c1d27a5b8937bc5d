from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml

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
    assert fields["datasets[0]"] == "give exactly one of bed, pgen or bgen (got none)"
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


# -- hardened parsing (issue 14, item 6) ------------------------------------------------------------

BILLION_LAUGHS = "".join(
    [f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n"
     for prev, name in zip("abcdefgh", "bcdefghi", strict=True)]
)
BILLION_LAUGHS = 'name: demo\na: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + BILLION_LAUGHS


def test_load__yaml_alias_bomb_refused_in_bounded_time_and_memory(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(BILLION_LAUGHS)
    assert len(BILLION_LAUGHS) < 1024  # 9^9 = 387,420,489 "lol"s once expanded
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(SpecError) as info:
            load(path)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 2.0
    assert peak < 20 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    [problem] = info.value.problems
    assert (problem.field, problem.file) == ("spec", str(path))
    assert "aliases expand to more than 10,000 nodes" in problem.message
    assert problem.line == 6  # e: the first level whose aliases pass the bound (9 + 90 + 900 + 9000 + ...)


def test_load__yaml_aliases_and_merge_keys_within_the_bound_are_expanded(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(
        "name: demo\n"
        "datasets: [{bed: data/x}]\n"
        "phenotypes: {file: p.txt, columns: &cols [Y1, Y2]}\n"
        "step1:\n"
        "  resources: &res {cpus: 2, memory_mb: 4000, time_s: 600}\n"
        "step2:\n"
        "  resources:\n"
        "    <<: *res\n"
        "    cpus: 4\n"   # overrides the merged key: not a duplicate
        "executor: {settings: {columns: *cols}}\n"
        "workdir: w\n"
        "outdir: o\n"
    )
    spec = load(path)
    assert spec.step1.resources.cpus == 2
    assert (spec.step2.resources.cpus, spec.step2.resources.memory_mb, spec.step2.resources.time_s) == (4, 4000, 600)
    assert spec.executor.settings["columns"] == ["Y1", "Y2"]


def test_load__yaml_recursive_alias_refused(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("name: demo\nexecutor:\n  settings: &s {inner: *s}\n")
    with pytest.raises(SpecError) as info:
        load(path)
    [problem] = info.value.problems
    assert "alias *s is used inside its own anchor" in problem.message
    assert problem.line == 3


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_load__nesting_deeper_than_the_bound_is_refused_with_its_line(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"spec.{fmt}"
    deep = "[" * 5000 + "]" * 5000
    path.write_text(f'{{"name": "demo",\n"executor": {{"settings": {{"x": {deep}}}}}}}\n')
    with pytest.raises(SpecError) as info:
        load(path)
    [problem] = info.value.problems
    assert "nested more than 64 levels deep" in problem.message
    assert problem.line == 2


def test_load__yaml_duplicate_keys_at_every_level_name_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(
        "name: demo\n"                       # 1
        "datasets:\n"                        # 2
        "  - bed: data/a\n"                  # 3
        "    bed: data/b\n"                  # 4
        "phenotypes:\n"                      # 5
        "  file: p.txt\n"                    # 6
        "  columns: [Y1]\n"                  # 7
        "  file: q.txt\n"                    # 8
        "executor: {settings: {qos: a, qos: b}}\n"  # 9
        "workdir: w\n"                       # 10
        "outdir: o\n"                        # 11
        "name: other\n"                      # 12
    )
    with pytest.raises(SpecError) as info:
        load(path)
    found = [(p.field, p.line, p.message) for p in info.value.problems]
    assert found == [
        ("datasets[0].bed", 4, "duplicate key 'bed': first at line 3, again at line 4"),
        ("phenotypes.file", 8, "duplicate key 'file': first at line 6, again at line 8"),
        ("executor.settings.qos", 9, "duplicate key 'qos': first at line 9, again at line 9"),
        ("name", 12, "duplicate key 'name': first at line 1, again at line 12"),
    ]


def test_load__yaml_keys_equal_once_read_are_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("name: demo\nexecutor:\n  settings:\n    'qos': a\n    \"qos\": b\n")
    with pytest.raises(SpecError) as info:
        load(path)
    assert [(p.field, p.line) for p in info.value.problems] == [("executor.settings.qos", 5)]


def test_load__json_duplicate_keys_at_every_level_name_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "spec.json"
    path.write_text(
        '{"name": "demo",\n'                                  # 1
        ' "datasets": [{"bed": "data/a",\n'                   # 2
        '               "bed": "data/b"}],\n'                 # 3
        ' "phenotypes": {"file": "p.txt", "columns": ["Y1"],\n'  # 4
        '                "file": "q.txt"},\n'                 # 5
        ' "workdir": "w", "outdir": "o",\n'                   # 6
        ' "name": "other"}\n'                                 # 7
    )
    with pytest.raises(SpecError) as info:
        load(path)
    found = [(p.field, p.line, p.message) for p in info.value.problems]
    assert found == [
        ("datasets[0].bed", 3, "duplicate key 'bed': first at line 2, again at line 3"),
        ("phenotypes.file", 5, "duplicate key 'file': first at line 4, again at line 5"),
        ("name", 7, "duplicate key 'name': first at line 1, again at line 7"),
    ]


def test_load__json_field_error_names_its_line(tmp_path: Path) -> None:
    data = base_spec()
    data["step2"] = {"variants_per_job": 0}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(data, indent=1))
    with pytest.raises(SpecError) as info:
        load(path)
    [problem] = info.value.problems
    assert problem.field == "step2.variants_per_job"
    assert problem.line == path.read_text().splitlines().index('  "variants_per_job": 0') + 1


def test_load__json_still_reads_every_json_value(tmp_path: Path) -> None:
    data = base_spec()
    data["executor"] = {"settings": {"a": [1, 2.5, True, False, None, "\u00e9\\n", {}], "b": {"c": []}}}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(data, indent=2))
    assert load(path).executor.settings == data["executor"]["settings"]


SECRET = "wJalrXUtnFEMI-K7MDENG-sekrit"


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("phenotypes.file", f"s3://AKIAEXAMPLE:{SECRET}@bucket/pheno.txt", "s3://***@bucket/pheno.txt"),
        ("outdir", f"https://user:{SECRET}@example.org/out", "https://***@example.org/out"),
        ("datasets[0].bed", f"gs://{SECRET}@bucket/chr1", "gs://***@bucket/chr1"),
        # a "/" in the secret (AWS secret keys may hold one)
        ("datasets[0].bed", f"s3://AKIAEXAMPLE:{SECRET[:9]}/{SECRET[9:]}@bucket/chr1", "s3://***@bucket/chr1"),
        ("failure_log", f"s3://k:{SECRET}@bucket/failures/", "s3://***@bucket/failures/"),
        ("executor.settings.sbatch_args[1]", f"--export=URL=ftp://u:{SECRET}@host/x", "--export=URL=ftp://***@host/x"),
    ],
)
def test_load__url_with_credentials_refused_without_echoing_the_secret(
    tmp_path: Path, field: str, value: str, shown: str
) -> None:
    data = base_spec()
    data["failure_log"] = None
    data["executor"] = {"kind": "slurm", "settings": {"sbatch_args": ["--exclusive", "--x"]}}
    target = {
        "phenotypes.file": (data["phenotypes"], "file"),
        "outdir": (data, "outdir"),
        "datasets[0].bed": (data["datasets"][0], "bed"),
        "failure_log": (data, "failure_log"),
        "executor.settings.sbatch_args[1]": (data["executor"]["settings"]["sbatch_args"], 1),
    }[field]
    target[0][target[1]] = value
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(SpecError) as info:
        load(path)
    [problem] = info.value.problems
    assert problem.field == field
    assert problem.file == str(path)
    assert problem.line is not None and value in path.read_text().splitlines()[problem.line - 1]
    assert f"URL with credentials ({shown})" in problem.message
    for part in (SECRET, SECRET[:9], SECRET[9:]):
        assert part not in str(info.value) and part not in repr(info.value.problems)


def test_load__credentials_in_a_mapping_key_are_refused_and_the_key_not_named(tmp_path: Path) -> None:
    data = base_spec()
    data["executor"] = {"settings": {f"s3://k:{SECRET}@bucket/x": 1}}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SpecError) as info:
        load(path)
    [problem] = info.value.problems
    assert problem.field == "executor.settings"
    assert SECRET not in str(info.value)


def test_load__urls_without_credentials_and_at_signs_elsewhere_are_fine(tmp_path: Path) -> None:
    data = base_spec()
    data["outdir"] = "s3://bucket/results/run@2024"  # an @ in the key, not in the bucket
    data["engine"] = {"kind": "regenie", "image": "ghcr.io/rgcgithub/regenie@sha256:abcd", "version": "4.1.2"}
    data["executor"] = {"kind": "slurm", "settings": {"sbatch_args": ["--mail-user=me@example.org"]}}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(data))
    spec = load(path)
    assert spec.outdir == "s3://bucket/results/run@2024"


@pytest.mark.parametrize(("fmt", "line"), [("yaml", 3), ("json", None)])
def test_load__integer_too_long_to_convert_is_a_spec_error(tmp_path: Path, fmt: str, line: int | None) -> None:
    path = tmp_path / f"spec.{fmt}"
    digits = "1" + "0" * 5000  # past Python's 4300-digit conversion limit
    path.write_text(f'{{"name": "demo",\n"retry":\n {{"max_attempts": {digits}}}}}\n')
    with pytest.raises(SpecError) as info:
        load(path)
    [problem] = info.value.problems
    assert problem.message.endswith("an integer of 5001 characters (at most 100)")
    assert problem.line == line


def test_load__yaml_integer_key_too_long_is_a_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("name: demo\nexecutor:\n  settings:\n    ? " + "9" * 5000 + "\n    : x\n")  # an explicit key
    with pytest.raises(SpecError) as info:
        load(path)
    assert [(p.line, p.message) for p in info.value.problems] == [
        (4, "invalid YAML: an integer of 5000 characters (at most 100)")
    ]


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_load__duplicate_keys_on_one_line_and_secret_keys_are_reported_without_the_secret(
    tmp_path: Path, fmt: str
) -> None:
    key = f"s3://k:{SECRET}@bucket/x"
    path = tmp_path / f"spec.{fmt}"
    path.write_text(f'{{"name": "demo", "executor": {{"settings": {{"a": 1, "a": 2, "{key}": 1, "{key}": 2}}}}}}\n')
    with pytest.raises(SpecError) as info:
        load(path)
    assert [(p.field, p.line) for p in info.value.problems] == [
        ("executor.settings.a", 1), ("executor.settings.s3://***@bucket/x", 1)
    ]
    assert "duplicate key 's3://***@bucket/x'" in info.value.problems[1].message
    assert SECRET not in str(info.value)
