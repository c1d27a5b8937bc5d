"""Per-trait sanity checks: a degenerate trait is refused before compute, never analysed into noise.

:func:`gwasflow.validate.inputs.validate` runs :func:`check_traits` once the phenotype and covariate
tables read cleanly. A trait is judged over the samples the engine will really analyse: listed in a
genotype file set's ``.fam``, ``.psam``, BGEN ``.sample`` or BGEN-stored ids, with a value for the
trait and with every listed covariate (regenie drops a
sample with a missing covariate from every trait). With several datasets, the one leaving the
fewest samples counts. Refused, each as one problem naming the spec field and the file:

* a trait with no value at all, or fewer analysed samples than ``phenotypes.min_samples``;
* binary traits: fewer analysed cases or controls than ``phenotypes.min_cases`` /
  ``phenotypes.min_controls`` (regenie drops a binary trait with fewer than 10 cases);
  PLINK's 1 (control) / 2 (case) coding (:func:`binary_issues`);
* quantitative traits: a constant trait (SD 0 over the analysed samples) or one with two
  distinct values (regenie refuses it without ``--force-qt``: a case/control trait?); the
  value -9, PLINK's missing code, which would be analysed as a value (write ``NA`` instead);
* a value beyond 1e100 in magnitude, in a phenotype or a used covariate;
* a column listed both as a phenotype and as a covariate (:func:`check_columns`), and a
  covariate name that regenie's comma-separated ``--covarColList`` would break (comma, braces).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gwasflow.errors import Problem
from gwasflow.regenie.io import tables
from gwasflow.spec.model import RunSpec, Trait

__all__ = ["binary_issues", "check_columns", "check_traits"]

SampleId = tuple[str, str]

_HUGE = 1e100  # no phenotype or covariate is measured in units that make this plausible
_PLINK_MISSING = -9.0
_PLINK_CODES = frozenset({0.0, 1.0, 2.0, _PLINK_MISSING})  # 1 control, 2 case, 0 or -9 missing
_RELATIVE_SD = 1e-12  # an SD this small relative to the mean is rounding noise: the trait is constant
_MIN_DISTINCT_QT = 3  # regenie: "phenotype has very few unique values (=2) ... use --force-qt"
_COVAR_LIST_SYNTAX = re.compile(r"[,{}]")  # --covarColList splits at commas and expands {a:b} ranges


@dataclass(frozen=True)
class _Column:
    """One numeric column: its values (NaN missing) with the file line and sample of each row."""

    values: NDArray[np.float64]
    lines: list[int]
    keys: list[SampleId]


@dataclass(frozen=True)
class _Dataset:
    """Which phenotype rows a dataset genotypes and that have every covariate."""

    fam_file: str
    rows: NDArray[np.bool_]


def binary_issues(column: str, cells: Sequence[tuple[int, str]], values: Sequence[float]) -> list[tables.Issue]:
    """What is wrong with a case/control column (0 control, 1 case, missing): ``cells`` are (line, text) per row.

    A column coded as PLINK codes case/control (1, 2, with 0 or -9 missing) gives one issue naming
    the fix; otherwise each value other than 0 or 1 gives one.
    """
    present = {v for v in values if not math.isnan(v)}
    if 2.0 in present and present <= _PLINK_CODES:
        line = next(n for (n, _), v in zip(cells, values, strict=True) if v == 2.0)
        message = (f"column {column!r} is coded as PLINK's 1 (control) / 2 (case); "
                   f"recode it to 0 (control), 1 (case), NA (missing)")
        return [tables.Issue("non-binary values", message, line, column)]
    issues = []
    for (line, text), value in zip(cells, values, strict=True):
        if not math.isnan(value) and value not in (0.0, 1.0):
            hint = "; write NA for missing values" if value == _PLINK_MISSING else ""
            message = f"value {text!r} in column {column!r} is not 0 (control), 1 (case) or missing{hint}"
            issues.append(tables.Issue("non-binary values", message, line, column))
    return issues


def check_columns(spec: RunSpec, problems: list[Problem]) -> None:
    """Spec-level column rules: no trait is also a covariate; covariate names regenie can take."""
    if spec.covariates is None:
        return
    for k, col in enumerate(spec.covariates.columns):
        fld = f"covariates.columns[{k}]"
        if col in spec.phenotypes.columns:
            problems.append(Problem(fld, f"{col!r} is also listed as a phenotype; a trait cannot be its own "
                                         f"covariate", spec.covariates.file))
        if _COVAR_LIST_SYNTAX.search(col):
            problems.append(Problem(fld, f"{col!r}: regenie's --covarColList cannot take a comma or brace in a "
                                         f"name; rename the column (letters, digits, _ . -)", spec.covariates.file))


def check_traits(
    spec: RunSpec,
    fams: Sequence[tuple[str, AbstractSet[SampleId]]],
    pheno: tables.Scan,
    covar: tables.Scan | None,
    problems: list[Problem],
) -> None:
    """Check every trait over the samples analysed.

    ``fams`` holds each genotype file set's sample id file (``.fam``, ``.psam``, ``.sample`` or the
    BGEN file) and samples (empty when unreadable); ``pheno`` and ``covar`` are the
    tables as split by :func:`gwasflow.regenie.io.tables.scan_text`, free of problems.
    """
    columns = _numeric_columns(pheno, spec.phenotypes.columns)
    complete = _complete_covariates(spec, covar, problems)
    keys = [(fields[0], fields[1]) for _, fields in pheno.rows]
    datasets = _datasets(fams, keys, complete)
    for k, name in enumerate(spec.phenotypes.columns):
        message, line = _trait_problem(spec, name, columns[name], datasets)
        if message:
            problems.append(Problem(f"phenotypes.columns[{k}]", message, pheno.path, line))


def _numeric_columns(scan: tables.Scan, names: Sequence[str]) -> dict[str, _Column]:
    lines = [line for line, _ in scan.rows]
    keys = [(fields[0], fields[1]) for _, fields in scan.rows]
    out: dict[str, _Column] = {}
    for name in names:
        out[name] = _Column(_values(scan, scan.header.index(name)), lines, keys)
    return out


def _values(scan: tables.Scan, position: int) -> NDArray[np.float64]:
    """A column of a table that :func:`gwasflow.regenie.io.tables.numeric_column` accepted, read again faster."""
    texts = [fields[position] for _, fields in scan.rows]
    try:
        return np.array(texts, dtype=np.float64)  # no missing value: every cell is a plain decimal number
    except ValueError:
        return np.array([math.nan if tables.is_missing(t) else float(t) for t in texts], dtype=np.float64)


def _complete_covariates(spec: RunSpec, covar: tables.Scan | None, problems: list[Problem]) -> set[SampleId] | None:
    """Samples with every used covariate (None: no covariates); reports empty and implausible covariates."""
    if spec.covariates is None or not spec.covariates.columns or covar is None:
        return None
    columns = _numeric_columns(covar, spec.covariates.columns)
    keys = [(fields[0], fields[1]) for _, fields in covar.rows]
    complete = np.ones(len(keys), dtype=bool)
    for k, name in enumerate(spec.covariates.columns):
        column = columns[name]
        complete &= ~np.isnan(column.values)
        huge = _first_huge(column)
        fld = f"covariates.columns[{k}]"
        if np.isnan(column.values).all():
            problems.append(Problem(fld, f"covariate {name!r} has no value: every sample is missing", covar.path))
        elif huge is not None:
            problems.append(Problem(fld, f"covariate {name!r} {huge[0]}", covar.path, huge[1]))
    return {key for key, ok in zip(keys, complete, strict=True) if ok}


def _datasets(
    fams: Sequence[tuple[str, AbstractSet[SampleId]]], keys: Sequence[SampleId], complete: set[SampleId] | None
) -> list[_Dataset]:
    """Each readable genotype file set's analysable phenotype rows."""
    n = len(keys)
    usable = np.ones(n, dtype=bool) if complete is None else np.fromiter(map(complete.__contains__, keys), bool, n)
    return [_Dataset(name, usable & np.fromiter(map(fam.__contains__, keys), bool, n)) for name, fam in fams if fam]


def _first_huge(column: _Column) -> tuple[str, int] | None:
    """(message, line) of the first value beyond 1e100 in magnitude, if any."""
    huge = np.flatnonzero(np.abs(np.nan_to_num(column.values)) > _HUGE)
    if huge.size == 0:
        return None
    row = int(huge[0])
    value = float(column.values[row])
    sample = " ".join(column.keys[row])
    return f"value {value:g} of sample {sample} is implausibly large (|x| > 1e100)", column.lines[row]


def _trait_problem(spec: RunSpec, name: str, column: _Column, datasets: Sequence[_Dataset]) -> tuple[str, int | None]:
    """The first thing wrong with one trait, as (message, line); an empty message when nothing is."""
    present = ~np.isnan(column.values)
    if not present.any():
        return f"trait {name!r} has no value: every sample is missing", None
    huge = _first_huge(column)
    if huge is not None:
        return f"trait {name!r} {huge[0]}", huge[1]
    binary = spec.trait is Trait.BINARY
    minus9 = np.flatnonzero(column.values == _PLINK_MISSING)
    if not binary and minus9.size:
        return (f"trait {name!r} holds -9 on {minus9.size} row(s), PLINK's missing code, which would be "
                f"analysed as a value; use NA for missing values"), column.lines[int(minus9[0])]
    if not datasets:
        return "", None
    worst = min(datasets, key=lambda d: int(np.count_nonzero(present & d.rows)))
    analysed = column.values[present & worst.rows]
    return _analysed_problem(spec, name, analysed, worst.fam_file, binary), None


def _analysed_problem(spec: RunSpec, name: str, values: NDArray[np.float64], fam_file: str, binary: bool) -> str:
    rules = spec.phenotypes
    n = values.size
    which = f"samples analysed (in {fam_file}, with a value and every covariate)"
    if n < rules.min_samples:
        return f"trait {name!r}: {n} {which}, fewer than phenotypes.min_samples = {rules.min_samples}"
    if binary:
        cases = int(np.count_nonzero(values == 1.0))
        controls = n - cases
        if cases < rules.min_cases:
            return (f"trait {name!r}: {cases} cases among {n} {which}, fewer than "
                    f"phenotypes.min_cases = {rules.min_cases}")
        if controls < rules.min_controls:
            return (f"trait {name!r}: {controls} controls among {n} {which}, fewer than "
                    f"phenotypes.min_controls = {rules.min_controls}")
        return ""
    sd = float(np.std(values))
    if sd == 0.0 or sd <= _RELATIVE_SD * abs(float(np.mean(values))):
        return f"trait {name!r} is constant ({float(values[0]):g}) over the {n} {which}: nothing to test"
    if np.unique(values).size < _MIN_DISTINCT_QT:
        return (f"trait {name!r} has only 2 distinct values over the {n} {which}: for a case/control trait "
                f"set trait: binary (regenie refuses it as quantitative without --force-qt)")
    return ""
