from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gwasflow.errors import Problem, SpecError
from gwasflow.spec import load
from gwasflow.validate import validate
from tests.spec.conftest import SpecWriter, base_spec


def _problems(path: Path) -> list[Problem]:
    spec = load(path)
    with pytest.raises(SpecError) as info:
        validate(spec)
    return info.value.problems


def _only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


def _rewrite_line(path: Path, lineno: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[lineno - 1] = text
    path.write_text("\n".join(lines) + "\n")


def _fake_regenie(tmp_path: Path, output: str, *, executable: bool = True) -> Path:
    binary = tmp_path / "bin" / "regenie"
    binary.parent.mkdir(exist_ok=True)
    binary.write_text(f"#!/bin/sh\necho '{output}'\n")
    if executable:
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return binary


def test_validate__example_data_is_valid(write_spec: SpecWriter) -> None:
    [meta] = validate(load(write_spec()))
    assert (meta.label, meta.n_samples, meta.n_variants) == ("ex", 500, 500)
    assert list(meta.chrom[[0, -1]]) == ["1", "3"]


def test_validate__writes_nothing(tmp_path: Path, write_spec: SpecWriter) -> None:
    spec = load(write_spec())
    before = sorted(p.name for p in tmp_path.rglob("*"))
    validate(spec)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_validate__missing_bim(write_spec: SpecWriter, data_dir: Path) -> None:
    (data_dir / "example_3chr.bim").unlink()
    problem = _only(_problems(write_spec()))
    assert problem.field == "datasets[0].bed"
    assert problem.file == str(data_dir / "example_3chr.bim")
    assert problem.message == "file not found"


def test_validate__bed_wrong_size(write_spec: SpecWriter, data_dir: Path) -> None:
    bed = data_dir / "example_3chr.bed"
    bed.write_bytes(bed.read_bytes()[:-125])
    problem = _only(_problems(write_spec()))
    assert (problem.field, problem.file) == ("datasets[0].bed", str(bed))
    assert "expected 62503" in problem.message


def test_validate__bed_bad_magic(write_spec: SpecWriter, data_dir: Path) -> None:
    bed = data_dir / "example_3chr.bed"
    bed.write_bytes(b"\x00\x00\x00" + bed.read_bytes()[3:])
    problem = _only(_problems(write_spec()))
    assert problem.file == str(bed)
    assert "magic" in problem.message


def test_validate__bim_wrong_field_count(write_spec: SpecWriter, data_dir: Path) -> None:
    bim = data_dir / "example_3chr.bim"
    _rewrite_line(bim, 7, "1\tmog_6\t0\t7\tD")
    problem = _only(_problems(write_spec()))
    assert (problem.field, problem.file, problem.line) == ("datasets[0].bed", str(bim), 7)
    assert "expected 6 fields, found 5" in problem.message


def test_validate__bim_unsorted_positions(write_spec: SpecWriter, data_dir: Path) -> None:
    bim = data_dir / "example_3chr.bim"
    _rewrite_line(bim, 10, "1\tmog_9\t0\t2\tD\td")
    problem = _only(_problems(write_spec()))
    assert (problem.file, problem.line) == (str(bim), 10)
    assert "not sorted" in problem.message


def test_validate__fam_duplicate_sample(write_spec: SpecWriter, data_dir: Path) -> None:
    fam = data_dir / "example_3chr.fam"
    _rewrite_line(fam, 5, "1\t1\t0\t0\t0\t-0.5")
    problem = _only(_problems(write_spec()))
    assert (problem.field, problem.file, problem.line) == ("datasets[0].bed", str(fam), 5)
    assert "duplicate sample 1 1 (first on line 1)" in problem.message


def test_validate__phenotype_column_not_in_header(write_spec: SpecWriter, data_dir: Path) -> None:
    path = write_spec(phenotypes={"file": "data/phenotype.txt", "columns": ["Y1", "Y9"]})
    problem = _only(_problems(path))
    assert problem.field == "phenotypes.columns[1]"
    assert (problem.file, problem.line) == (str(data_dir / "phenotype.txt"), 1)
    assert "'Y9' not in the header" in problem.message


def test_validate__covariate_column_not_in_header(write_spec: SpecWriter, data_dir: Path) -> None:
    path = write_spec(covariates={"file": "data/covariates.txt", "columns": ["V1", "PC1"]})
    problem = _only(_problems(path))
    assert (problem.field, problem.file) == ("covariates.columns[1]", str(data_dir / "covariates.txt"))


def test_validate__header_without_fid_iid(write_spec: SpecWriter, data_dir: Path) -> None:
    pheno = data_dir / "phenotype.txt"
    _rewrite_line(pheno, 1, "ID IID Y1 Y2")
    problem = _only(_problems(write_spec()))
    assert (problem.field, problem.file, problem.line) == ("phenotypes.file", str(pheno), 1)
    assert "FID IID" in problem.message


def test_validate__non_numeric_value_names_column_and_line(write_spec: SpecWriter, data_dir: Path) -> None:
    pheno = data_dir / "phenotype.txt"
    _rewrite_line(pheno, 12, "11 11 abc 0.5")
    problem = _only(_problems(write_spec()))
    assert (problem.field, problem.file, problem.line) == ("phenotypes.columns[0]", str(pheno), 12)
    assert "'abc'" in problem.message


def test_validate__non_numeric_values_reported_first_few_then_counted(write_spec: SpecWriter, data_dir: Path) -> None:
    cov = data_dir / "covariates.txt"
    for lineno in range(2, 12):
        _rewrite_line(cov, lineno, f"{lineno - 1} {lineno - 1} x 1 1")
    problems = _problems(write_spec())
    lines = [p.line for p in problems if p.field == "covariates.columns[0]"]
    assert lines == [2, 3, 4, 5, 6]
    assert any("5 more non-numeric values" in p.message for p in problems)


def test_validate__missing_markers_accepted(write_spec: SpecWriter, data_dir: Path) -> None:
    pheno = data_dir / "phenotype.txt"
    _rewrite_line(pheno, 2, "1 1 NA nan")
    _rewrite_line(pheno, 3, "2 2 NaN 1e-3")
    _rewrite_line(pheno, 4, "3 3 . na")
    validate(load(write_spec()))


def test_validate__empty_cell_in_tab_separated_table_is_an_error(write_spec: SpecWriter, data_dir: Path) -> None:
    pheno = data_dir / "phenotype.txt"
    rows = [line.split() for line in pheno.read_text().splitlines()]
    rows[1][2] = ""
    pheno.write_text("\n".join("\t".join(r) for r in rows) + "\n")
    problem = _only(_problems(write_spec()))
    assert (problem.field, problem.file, problem.line) == ("phenotypes.file", str(pheno), 2)
    assert "field 3 is empty" in problem.message and "NA" in problem.message


def test_validate__row_with_wrong_field_count(write_spec: SpecWriter, data_dir: Path) -> None:
    pheno = data_dir / "phenotype.txt"
    _rewrite_line(pheno, 4, "3 3 0.1")
    problem = _only(_problems(write_spec()))
    assert (problem.field, problem.file, problem.line) == ("phenotypes.file", str(pheno), 4)
    assert "expected 4 fields, found 3" in problem.message


def test_validate__duplicate_sample_in_phenotypes(write_spec: SpecWriter, data_dir: Path) -> None:
    pheno = data_dir / "phenotype.txt"
    _rewrite_line(pheno, 6, "1 1 0.1 0.2")
    problem = _only(_problems(write_spec()))
    assert (problem.field, problem.file, problem.line) == ("phenotypes.file", str(pheno), 6)
    assert "duplicate sample" in problem.message


def test_validate__phenotype_ids_do_not_overlap_fam(write_spec: SpecWriter, data_dir: Path) -> None:
    pheno = data_dir / "phenotype.txt"
    rows = pheno.read_text().splitlines()
    pheno.write_text("\n".join([rows[0]] + [f"X{r}" for r in rows[1:]]) + "\n")
    problems = _problems(write_spec())
    assert [(p.field, p.file) for p in problems] == [
        ("phenotypes.file", str(pheno)),
        ("covariates.file", str(data_dir / "covariates.txt")),
    ]
    assert "example_3chr.fam" in problems[0].message
    assert "phenotype file" in problems[1].message


def test_validate__missing_covariate_file(write_spec: SpecWriter, data_dir: Path) -> None:
    (data_dir / "covariates.txt").unlink()
    problem = _only(_problems(write_spec()))
    assert (problem.field, problem.file) == ("covariates.file", str(data_dir / "covariates.txt"))


def test_validate__predictions_missing_loco(tmp_path: Path, write_spec: SpecWriter) -> None:
    prev = tmp_path / "prev"
    prev.mkdir()
    (prev / "demo_1.loco").write_text("")
    (prev / "demo_pred.list").write_text(f"Y1 {prev}/demo_1.loco\nY2 demo_2.loco\n")
    path = write_spec(step1={"skip": True, "predictions": "prev/demo_pred.list"})
    problem = _only(_problems(path))
    assert (problem.field, problem.file, problem.line) == (
        "step1.predictions",
        str(prev / "demo_pred.list"),
        2,
    )
    assert "demo_2.loco" in problem.message


def test_validate__predictions_file_missing_and_phenotype_unlisted(tmp_path: Path, write_spec: SpecWriter) -> None:
    path = write_spec(step1={"skip": True, "predictions": "prev/demo_pred.list"})
    assert _only(_problems(path)).field == "step1.predictions"
    (tmp_path / "prev").mkdir()
    (tmp_path / "prev" / "demo_1.loco").write_text("")
    (tmp_path / "prev" / "demo_pred.list").write_text("Y1 demo_1.loco\n")
    problem = _only(_problems(path))
    assert problem.field == "phenotypes.columns[1]"
    assert "Y2" in problem.message


def test_validate__regenie_binary_not_found(write_spec: SpecWriter) -> None:
    path = write_spec(engine={"kind": "regenie", "binary": "bin/regenie"})
    problem = _only(_problems(path))
    assert problem.field == "engine.binary"
    assert "not found" in problem.message


def test_validate__regenie_binary_not_executable(tmp_path: Path, write_spec: SpecWriter) -> None:
    _fake_regenie(tmp_path, "v4.1.2.gz", executable=False)
    path = write_spec(engine={"kind": "regenie", "binary": "bin/regenie"})
    problem = _only(_problems(path))
    assert (problem.field, "not executable" in problem.message) == ("engine.binary", True)


def test_validate__regenie_version_probed(tmp_path: Path, write_spec: SpecWriter) -> None:
    _fake_regenie(tmp_path, "v4.1.2.gz")
    validate(load(write_spec(engine={"kind": "regenie", "binary": "bin/regenie"})))


def test_validate__probed_regenie_too_old_for_range(tmp_path: Path, write_spec: SpecWriter) -> None:
    _fake_regenie(tmp_path, "v1.0.6.5")
    problem = _only(_problems(write_spec(engine={"kind": "regenie", "binary": "bin/regenie"})))
    assert problem.field == "engine.version"
    assert "--range" in problem.message and "1.0.6.8" in problem.message and "1.0.6.5" in problem.message


def test_validate__image_version_lacks_flags(write_spec: SpecWriter) -> None:
    path = write_spec(engine={"kind": "regenie", "image": "ghcr.io/rgcgithub/regenie/regenie", "version": "1.0.5.5"})
    problems = _problems(path)
    flags = sorted(p.message.split()[3].rstrip(",") for p in problems)
    assert flags == ["--gz", "--range"]
    assert {p.field for p in problems} == {"engine.version"}


def test_validate__unprobeable_version(tmp_path: Path, write_spec: SpecWriter) -> None:
    _fake_regenie(tmp_path, "hello")
    problem = _only(_problems(write_spec(engine={"kind": "regenie", "binary": "bin/regenie"})))
    assert problem.field == "engine.binary"
    assert "version" in problem.message


def test_validate__outdir_inside_workdir(write_spec: SpecWriter) -> None:
    problem = _only(_problems(write_spec(workdir="run", outdir="run/out")))
    assert problem.field == "outdir"


def test_validate__outdir_through_a_symlink_into_workdir(tmp_path: Path, write_spec: SpecWriter) -> None:
    (tmp_path / "scratch" / "res").mkdir(parents=True)
    (tmp_path / "out").symlink_to(tmp_path / "scratch" / "res")
    problem = _only(_problems(write_spec(workdir="scratch", outdir="out")))
    assert problem.field == "outdir"
    assert "workdir" in problem.message and str(tmp_path / "scratch" / "res") in problem.message


def test_validate__workdir_inside_outdir_results(write_spec: SpecWriter) -> None:
    problem = _only(_problems(write_spec(workdir="out/results/tmp", outdir="out")))
    assert problem.field == "workdir" and "outdir" in problem.message


def test_validate__unsafe_phenotype_name(write_spec: SpecWriter, data_dir: Path) -> None:
    pheno = data_dir / "phenotype.txt"
    _rewrite_line(pheno, 1, "FID IID Y/1 Y2")
    problem = _only(_problems(write_spec(phenotypes={"file": "data/phenotype.txt", "columns": ["Y/1", "Y2"]})))
    assert problem.field == "phenotypes.columns[0]"


def test_validate__reports_every_problem_at_once(tmp_path: Path, write_spec: SpecWriter, data_dir: Path) -> None:
    bed = data_dir / "example_3chr.bed"
    bed.write_bytes(bed.read_bytes()[:-1])
    (data_dir / "covariates.txt").unlink()
    pheno = data_dir / "phenotype.txt"
    _rewrite_line(pheno, 3, "2 2 oops 0.1")
    _rewrite_line(pheno, 9, "8 8 0.1")
    spec = base_spec()
    spec["phenotypes"] = {"file": "data/phenotype.txt", "columns": ["Y1", "Y2", "Y3"]}
    spec["datasets"].append({"bed": "data/absent", "label": "gone"})
    path = write_spec(datasets=spec["datasets"], phenotypes=spec["phenotypes"], outdir="work/out")
    problems = _problems(path)
    got = {(p.field, os.path.basename(p.file or ""), p.line) for p in problems}
    assert got == {
        ("datasets[0].bed", "example_3chr.bed", None),
        ("datasets[1].bed", "absent.bed", None),
        ("datasets[1].bed", "absent.bim", None),
        ("datasets[1].bed", "absent.fam", None),
        ("covariates.file", "covariates.txt", None),
        ("phenotypes.columns[2]", "phenotype.txt", 1),
        ("phenotypes.columns[0]", "phenotype.txt", 3),
        ("phenotypes.file", "phenotype.txt", 9),
        ("outdir", "", None),
    }
    message = str(SpecError(problems))
    assert "9 problems" in message


def test_validate__binary_trait_values_must_be_0_1_or_missing(tmp_path: Path, write_spec: SpecWriter) -> None:
    pheno = tmp_path / "data" / "bin.txt"
    pheno.write_text("FID IID B1\n1 1 0\n2 2 1\n3 3 NA\n4 4 2\n5 5 0.5\n")
    path = write_spec(trait="binary", phenotypes={"file": "data/bin.txt", "columns": ["B1"]})
    problems = [p for p in _problems(path) if "not 0 (control)" in p.message]
    assert [(p.field, p.line) for p in problems] == [("phenotypes.columns[0]", 5), ("phenotypes.columns[0]", 6)]


def test_validate__binary_example_phenotypes_pass(tmp_path: Path, write_spec: SpecWriter, data_dir: Path) -> None:
    from tests.conftest import REGENIE_EXAMPLE

    (data_dir / "pb.txt").write_bytes((REGENIE_EXAMPLE / "inputs" / "phenotype_bin_wNA.txt").read_bytes())
    path = write_spec(trait="binary", correction="spa", phenotypes={"file": "data/pb.txt", "columns": ["Y1", "Y2"]})
    assert validate(load(path))


def test_validate__workdir_with_space_accepted_by_builtin_refused_for_regenie(
    tmp_path: Path, write_spec: SpecWriter
) -> None:
    assert validate(load(write_spec(workdir="my work", outdir="my out")))
    _fake_regenie(tmp_path, "v4.1.2.gz")
    problem = _only(_problems(write_spec(workdir="my work", engine={"kind": "regenie", "binary": "bin/regenie"})))
    assert (problem.field, "holds whitespace" in problem.message) == ("workdir", True)


def test_validate__predictions_path_with_space(tmp_path: Path, write_spec: SpecWriter) -> None:
    prev = tmp_path / "prev run"
    prev.mkdir()
    for k in (1, 2):
        (prev / f"demo_{k}.loco").write_text("")
    (prev / "demo_pred.list").write_text(f"Y1 {prev}/demo_1.loco\nY2 {prev}/demo_2.loco\n")
    step1 = {"skip": True, "predictions": "prev run/demo_pred.list"}
    assert validate(load(write_spec(step1=step1)))
    _fake_regenie(tmp_path, "v4.1.2.gz")
    problems = _problems(write_spec(step1=step1, engine={"kind": "regenie", "binary": "bin/regenie"}))
    assert [(p.field, p.line) for p in problems] == [("step1.predictions", 1), ("step1.predictions", 2)]
    assert "regenie splits this line at every space" in problems[0].message
