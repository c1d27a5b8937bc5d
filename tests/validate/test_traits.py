"""Per-trait sanity checks of ``gwasflow validate`` (validate/traits.py): degenerate traits are refused by name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gwasflow.errors import Problem, SpecError
from gwasflow.spec import load
from gwasflow.validate import validate
from tests.spec.conftest import SpecWriter

N_SAMPLES = 500  # rows of the example phenotype.txt, all in example_3chr.fam


def _problems(path: Path) -> list[Problem]:
    with pytest.raises(SpecError) as info:
        validate(load(path))
    return info.value.problems


def _only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


def _add_column(table: Path, name: str, value_of: Callable[[int], str]) -> None:
    """Append column ``name`` to ``table``; ``value_of(i)`` is the text of data row ``i`` (from 0)."""
    lines = table.read_text().splitlines()
    out = [f"{lines[0]} {name}"] + [f"{line} {value_of(i)}" for i, line in enumerate(lines[1:])]
    table.write_text("\n".join(out) + "\n")


def _set_cells(table: Path, column: str, values: dict[int, str]) -> None:
    """Replace the cells of ``column`` in the given data rows (from 0)."""
    lines = [line.split() for line in table.read_text().splitlines()]
    position = lines[0].index(column)
    for row, text in values.items():
        lines[row + 1][position] = text
    table.write_text("\n".join(" ".join(cells) for cells in lines) + "\n")


def _with_trait(write_spec: SpecWriter, name: str, **phenotypes: object) -> Path:
    return write_spec(phenotypes={"file": "data/phenotype.txt", "columns": ["Y1", name], **phenotypes})


def _binary(data_dir: Path, n_cases: int, *, case: str = "1", control: str = "0") -> None:
    """Add binary trait B to phenotype.txt: the first ``n_cases`` samples cases, the others controls."""
    _add_column(data_dir / "phenotype.txt", "B", lambda i: case if i < n_cases else control)


def test_validate__constant_trait_refused(write_spec: SpecWriter, data_dir: Path) -> None:
    pheno = data_dir / "phenotype.txt"
    _add_column(pheno, "C", lambda i: "3.25")
    problem = _only(_problems(_with_trait(write_spec, "C")))
    assert (problem.field, problem.file) == ("phenotypes.columns[1]", str(pheno))
    assert "'C' is constant (3.25)" in problem.message and f"{N_SAMPLES} samples analysed" in problem.message


def test_validate__constant_over_analysed_samples_only_refused(write_spec: SpecWriter, data_dir: Path) -> None:
    pheno = data_dir / "phenotype.txt"
    _add_column(pheno, "C", lambda i: "1" if i < 400 else "2")
    _set_cells(data_dir / "covariates.txt", "V1", {i: "NA" for i in range(400, N_SAMPLES)})
    problem = _only(_problems(_with_trait(write_spec, "C")))
    assert problem.field == "phenotypes.columns[1]" and "constant (1) over the 400 samples" in problem.message


def test_validate__trait_also_listed_as_covariate_refused(write_spec: SpecWriter, data_dir: Path) -> None:
    path = write_spec(covariates={"file": "data/phenotype.txt", "columns": ["Y2"]})
    problem = _only(_problems(path))
    assert (problem.field, problem.file) == ("covariates.columns[0]", str(data_dir / "phenotype.txt"))
    assert "'Y2' is also listed as a phenotype" in problem.message


def test_validate__trait_with_six_phenotyped_samples_refused(write_spec: SpecWriter, data_dir: Path) -> None:
    _add_column(data_dir / "phenotype.txt", "F", lambda i: f"{i * 0.5}" if i < 6 else "NA")
    problem = _only(_problems(_with_trait(write_spec, "F")))
    assert problem.field == "phenotypes.columns[1]"
    assert "6 samples analysed" in problem.message and "phenotypes.min_samples = 50" in problem.message


def test_validate__min_samples_is_configurable(write_spec: SpecWriter, data_dir: Path) -> None:
    _add_column(data_dir / "phenotype.txt", "F", lambda i: f"{i * 0.5}" if i < 60 else "NA")
    assert validate(load(_with_trait(write_spec, "F")))
    problem = _only(_problems(_with_trait(write_spec, "F", min_samples=61)))
    assert "60 samples analysed" in problem.message and "min_samples = 61" in problem.message


def test_validate__samples_without_genotypes_are_not_counted(write_spec: SpecWriter, data_dir: Path) -> None:
    pheno = data_dir / "phenotype.txt"
    _add_column(pheno, "F", lambda i: f"{i}" if i < 40 else "NA")
    with pheno.open("a") as handle:  # 30 phenotyped samples that no .fam lists
        handle.writelines(f"X{i} X{i} 0.1 0.2 {i}\n" for i in range(30))
    problem = _only(_problems(_with_trait(write_spec, "F", min_samples=41)))
    assert "40 samples analysed (in " in problem.message and "example_3chr.fam" in problem.message


def test_validate__samples_missing_a_covariate_are_not_counted(write_spec: SpecWriter, data_dir: Path) -> None:
    _add_column(data_dir / "phenotype.txt", "F", lambda i: f"{i}" if i < 60 else "NA")
    _set_cells(data_dir / "covariates.txt", "V3", {i: "NA" for i in range(15)})
    problem = _only(_problems(_with_trait(write_spec, "F")))
    assert "45 samples analysed" in problem.message


def test_validate__all_missing_trait_named(write_spec: SpecWriter, data_dir: Path) -> None:
    _add_column(data_dir / "phenotype.txt", "Gone", lambda i: "NA")
    problem = _only(_problems(_with_trait(write_spec, "Gone")))
    assert problem.field == "phenotypes.columns[1]"
    assert problem.message == "trait 'Gone' has no value: every sample is missing"


def test_validate__plink_missing_code_in_quantitative_trait_refused(write_spec: SpecWriter, data_dir: Path) -> None:
    pheno = data_dir / "phenotype.txt"
    _set_cells(pheno, "Y2", {9: "-9", 20: "-9", 30: "-9"})
    problem = _only(_problems(write_spec()))
    assert (problem.field, problem.file, problem.line) == ("phenotypes.columns[1]", str(pheno), 11)
    assert "-9 on 3 row(s)" in problem.message and "use NA for missing values" in problem.message


def test_validate__implausible_trait_value_refused(write_spec: SpecWriter, data_dir: Path) -> None:
    _set_cells(data_dir / "phenotype.txt", "Y1", {4: "1e308"})
    problem = _only(_problems(write_spec()))
    assert (problem.field, problem.line) == ("phenotypes.columns[0]", 6)
    assert "value 1e+308 of sample 5 5 is implausibly large" in problem.message


def test_validate__implausible_covariate_value_refused(write_spec: SpecWriter, data_dir: Path) -> None:
    covar = data_dir / "covariates.txt"
    _set_cells(covar, "V2", {0: "-2e200"})
    problem = _only(_problems(write_spec()))
    assert (problem.field, problem.file, problem.line) == ("covariates.columns[1]", str(covar), 2)
    assert "implausibly large" in problem.message


def test_validate__binary_trait_of_controls_only_refused(write_spec: SpecWriter, data_dir: Path) -> None:
    _binary(data_dir, 0)
    problem = _only(_problems(write_spec(trait="binary", phenotypes={"file": "data/phenotype.txt", "columns": ["B"]})))
    assert problem.field == "phenotypes.columns[0]"
    assert "0 cases among 500 samples analysed" in problem.message and "min_cases = 10" in problem.message


def test_validate__binary_trait_with_nine_cases_refused_unless_allowed(write_spec: SpecWriter, data_dir: Path) -> None:
    _binary(data_dir, 9)
    phenotypes = {"file": "data/phenotype.txt", "columns": ["B"]}
    problem = _only(_problems(write_spec(trait="binary", phenotypes=phenotypes)))
    assert "9 cases among 500" in problem.message
    assert validate(load(write_spec(trait="binary", phenotypes={**phenotypes, "min_cases": 9})))


def test_validate__binary_trait_with_few_controls_refused(write_spec: SpecWriter, data_dir: Path) -> None:
    _binary(data_dir, N_SAMPLES - 4)
    problem = _only(_problems(write_spec(trait="binary", phenotypes={"file": "data/phenotype.txt", "columns": ["B"]})))
    assert "4 controls among 500" in problem.message and "min_controls = 10" in problem.message


def test_validate__binary_trait_in_plink_1_2_coding_named_once(write_spec: SpecWriter, data_dir: Path) -> None:
    pheno = data_dir / "phenotype.txt"
    _binary(data_dir, 100, case="2", control="1")
    _set_cells(pheno, "B", {0: "-9", 1: "0"})
    problem = _only(_problems(write_spec(trait="binary", phenotypes={"file": "data/phenotype.txt", "columns": ["B"]})))
    assert (problem.field, problem.file, problem.line) == ("phenotypes.columns[0]", str(pheno), 4)
    assert "PLINK's 1 (control) / 2 (case)" in problem.message
    assert "recode it to 0 (control), 1 (case)" in problem.message


def test_validate__binary_minus9_named_as_missing_code(write_spec: SpecWriter, data_dir: Path) -> None:
    _binary(data_dir, 100)
    _set_cells(data_dir / "phenotype.txt", "B", {7: "-9"})
    problem = _only(_problems(write_spec(trait="binary", phenotypes={"file": "data/phenotype.txt", "columns": ["B"]})))
    assert problem.line == 9 and problem.message.endswith("write NA for missing values")


def test_validate__duplicate_column_name_in_header_refused(write_spec: SpecWriter, data_dir: Path) -> None:
    pheno = data_dir / "phenotype.txt"
    _add_column(pheno, "Y2", lambda i: f"{i}")
    problem = _only(_problems(write_spec()))
    assert (problem.file, problem.line) == (str(pheno), 1)
    assert "column name 'Y2' appears twice in the header" in problem.message


def test_validate__covariate_name_with_comma_refused(write_spec: SpecWriter, data_dir: Path) -> None:
    covar = data_dir / "covariates.txt"
    _add_column(covar, "age,sex", lambda i: f"{i % 7}")
    problem = _only(_problems(write_spec(covariates={"file": "data/covariates.txt", "columns": ["V1", "age,sex"]})))
    assert (problem.field, problem.file) == ("covariates.columns[1]", str(covar))
    assert "--covarColList cannot take a comma" in problem.message


def test_validate__covariate_name_with_space_refused(write_spec: SpecWriter, data_dir: Path) -> None:
    problem = _only(_problems(write_spec(covariates={"file": "data/covariates.txt", "columns": ["V1", "V 2"]})))
    assert problem.field == "covariates.columns[1]" and "'V 2' not in the header" in problem.message


def test_validate__every_degenerate_trait_reported_at_once(write_spec: SpecWriter, data_dir: Path) -> None:
    pheno = data_dir / "phenotype.txt"
    _add_column(pheno, "C", lambda i: "0")
    _add_column(pheno, "Gone", lambda i: "NA")
    _set_cells(pheno, "Y2", {3: "-9"})
    path = write_spec(phenotypes={"file": "data/phenotype.txt", "columns": ["Y1", "Y2", "C", "Gone"]})
    fields = [p.field for p in _problems(path)]
    assert fields == ["phenotypes.columns[1]", "phenotypes.columns[2]", "phenotypes.columns[3]"]


def test_validate__all_missing_covariate_named(write_spec: SpecWriter, data_dir: Path) -> None:
    covar = data_dir / "covariates.txt"
    _set_cells(covar, "V2", dict.fromkeys(range(N_SAMPLES), "NA"))
    problems = _problems(write_spec())
    assert (problems[0].field, problems[0].file) == ("covariates.columns[1]", str(covar))
    assert problems[0].message == "covariate 'V2' has no value: every sample is missing"
    assert [p.field for p in problems[1:]] == ["phenotypes.columns[0]", "phenotypes.columns[1]"]
    assert "0 samples analysed" in problems[1].message


def test_validate__quantitative_trait_with_two_values_refused(write_spec: SpecWriter, data_dir: Path) -> None:
    _add_column(data_dir / "phenotype.txt", "D", lambda i: "1" if i % 3 == 0 else "0")
    problem = _only(_problems(_with_trait(write_spec, "D")))
    assert problem.field == "phenotypes.columns[1]"
    assert "only 2 distinct values over the 500 samples" in problem.message and "trait: binary" in problem.message
    _add_column(data_dir / "phenotype.txt", "E", lambda i: str(i % 3))
    assert validate(load(_with_trait(write_spec, "E")))
