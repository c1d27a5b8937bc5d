"""Check every input of a run spec and report every problem at once.

:func:`validate` reads (never writes) the genotype file sets (``.bed``, ``.pgen`` and
BGEN metadata, ``{chrom}`` templates expanded, sample ids against the tables: ``validate/genocheck.py``),
the sample and variant lists, the phenotype and covariate tables, the step 1
predictions when step 1 is skipped, and asks the regenie binary its version. Inputs given as URIs (``s3://``, ``gs://``)
are read through fsspec in place, without staging (``storage/probe.py``); a
scheme whose package is missing (``gs://`` without gcsfs) is a problem like
any other. Phenotype and covariate tables go through the engine's own reader
(``regenie/io/tables.py``: separators, missing values ``NA``/``nan``/``.``), so
a table valid here is one the engine accepts. It raises one :class:`SpecError` carrying
every :class:`Problem` found, each naming the spec field, the file and, for
table files, the line. On success it returns the dataset metadata the
planner needs.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gwasflow.core.uri import has_credentials, is_remote, join, redact, unsupported
from gwasflow.errors import GwasflowError, Problem, SpecError
from gwasflow.plan.meta import DatasetMeta
from gwasflow.regenie.io import predictions, tables
from gwasflow.spec.model import (
    CovariateSpec,
    EngineKind,
    GeneticModel,
    GenoFormat,
    PhenotypeSpec,
    QcEngineKind,
    RunSpec,
    Trait,
)
from gwasflow.storage import probe
from gwasflow.storage.ownership import overlap_problems
from gwasflow.validate import genocheck, traits, version

__all__ = ["validate"]

_MAX_PER_KIND = 5
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
SampleId = tuple[str, str]


def validate(spec: RunSpec) -> list[DatasetMeta]:
    """Check every input of ``spec``; return the dataset metadata, or raise one :class:`SpecError`."""
    problems: list[Problem] = []
    if _check_schemes(spec, problems):
        raise SpecError(problems)
    unreachable = probe.unreachable_field(_uri_fields(spec))
    if unreachable is not None:  # every remote read would fail the same way, slowly
        raise SpecError([unreachable])
    metas, genos = genocheck.check_genotypes(spec, problems)
    pheno = _check_table(spec.phenotypes, "phenotypes", problems, binary=spec.trait is Trait.BINARY)
    cov = _check_table(spec.covariates, "covariates", problems) if spec.covariates else None
    pheno_ids = set(pheno.keys) if pheno is not None else None
    genocheck.check_overlap(spec, genos, pheno_ids, set(cov.keys) if cov is not None else None, problems)
    analysed = genocheck.check_lists(spec, genos, problems)
    _check_names(spec, problems)
    if pheno is not None and not _table_problems(problems):
        traits.check_traits(spec, analysed, pheno, cov, problems)
    traits.check_columns(spec, problems)
    _check_options(spec, cov, problems)
    if spec.step1.skip:
        _check_predictions(spec, problems)
    version.check_engine(spec, problems)
    _check_qc(spec, problems)
    _check_regenie_workdir(spec, problems)
    _check_dirs(spec, problems)
    _check_genes(spec, problems)
    if problems:
        raise SpecError(problems)
    return metas


# -- inputs ---------------------------------------------------------------------------------------


def _uri_fields(spec: RunSpec) -> list[tuple[str, str]]:
    """(field, path) of every input and of ``outdir``: the paths that may be URIs."""
    fields = [(f"datasets[{i}].{d.fmt.value}", d.source) for i, d in enumerate(spec.datasets)]
    fields += [(f"datasets[{i}].sample", d.sample) for i, d in enumerate(spec.datasets) if d.sample]
    if spec.step1.genotypes is not None:
        fields.append((f"step1.genotypes.{spec.step1.genotypes.fmt.value}", spec.step1.genotypes.source))
    for name in ("keep", "remove"):
        if getattr(spec.samples, name):
            fields.append((f"samples.{name}", getattr(spec.samples, name)))
    for name in ("extract", "exclude"):
        if getattr(spec.variants, name):
            fields.append((f"variants.{name}", getattr(spec.variants, name)))
    fields += [("phenotypes.file", spec.phenotypes.file), ("outdir", spec.outdir)]
    if spec.covariates is not None:
        fields.append(("covariates.file", spec.covariates.file))
    if spec.step1.predictions:
        fields.append(("step1.predictions", spec.step1.predictions))
    if spec.report.genes:
        fields.append(("report.genes", spec.report.genes))
    return fields


def _check_genes(spec: RunSpec, problems: list[Problem]) -> None:
    """``report.genes``: the gene file is there and parses as a GTF or BED of genes."""
    if not spec.report.genes:
        return
    from gwasflow.regenie.io.remote import localize
    from gwasflow.report.loci.genes import GeneFileError, load_genes

    try:
        local = localize(spec.report.genes, flag="report.genes", required=False)
    except GwasflowError as exc:
        problems.append(Problem("report.genes", str(exc), spec.report.genes))
        return
    if local is None or not Path(local).is_file():
        problems.append(Problem("report.genes", "file not found", spec.report.genes))
        return
    try:
        load_genes(Path(local))
    except GeneFileError as exc:
        problems.append(Problem("report.genes", str(exc)))


def _check_schemes(spec: RunSpec, problems: list[Problem]) -> bool:
    """Report every URI that cannot be read or written here; True when there is any."""
    found = False
    for name, value in _uri_fields(spec):
        why = unsupported(value)
        if why is not None:
            problems.append(Problem(name, why, value))
            found = True
    if is_remote(spec.workdir):
        problems.append(Problem("workdir", "must be a local or shared-disk folder, not a URI", spec.workdir))
        found = True
    return found


def _table_problems(problems: list[Problem]) -> bool:
    """Whether a phenotype or covariate table is unusable or one of its values is wrong."""
    return any(p.field.startswith(("phenotypes.", "covariates.")) for p in problems)


def _read_text(path: str) -> str:
    if is_remote(path):
        return probe.read_text(path)
    with open(path, encoding="utf-8", newline="") as fh:  # line ends as in the file, as the engine reads it
        return fh.read()


# -- phenotype / covariate tables ------------------------------------------------------------------


@dataclass
class _TableCheck:
    """Running state of one table scan: what is reported and how much was left unsaid."""

    section: str
    path: str
    problems: list[Problem]
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, fld: str, message: str, line: int | None) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if self.counts[kind] <= _MAX_PER_KIND:
            self.problems.append(Problem(fld, message, self.path, line))

    def close(self) -> None:
        for kind, n in self.counts.items():
            if n > _MAX_PER_KIND:
                self.problems.append(
                    Problem(f"{self.section}.file", f"{n - _MAX_PER_KIND} more {kind} not listed", self.path)
                )


def _check_table(
    table: PhenotypeSpec | CovariateSpec, section: str, problems: list[Problem], *, binary: bool = False
) -> tables.Scan | None:
    """Check one FID/IID table; return its rows, split (None when the file is unusable).

    The file is read by the engine's reader (:func:`gwasflow.regenie.io.tables.scan_text`), so a
    table passes here exactly when the engine accepts it. ``binary``: the used columns are
    case/control traits, coded 0 (control), 1 (case) or missing.
    """
    path = table.file
    try:
        text = _read_text(path)
    except FileNotFoundError:
        problems.append(Problem(f"{section}.file", "file not found", path))
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(f"{section}.file", f"cannot read: {exc}", path))
        return None
    scan = tables.scan_text(text, path)
    if not scan.header:
        problems.extend(Problem(f"{section}.file", i.message, path, i.line) for i in scan.issues)
        return None
    used = _used_columns(table.columns, scan.header, section, path, problems)
    found = [(issue, f"{section}.file") for issue in scan.issues]
    for index, fld in used:
        values, issues = tables.numeric_column(scan, index)
        found += [(issue, fld) for issue in issues]
        if binary:
            cells = [(line, fields[index]) for line, fields in scan.rows]
            found += [(issue, fld) for issue in traits.binary_issues(scan.header[index], cells, values)]
    check = _TableCheck(section, path, problems)
    for issue, fld in sorted(found, key=lambda f: f[0].line if f[0].line is not None else math.inf):
        check.add(issue.kind, fld, issue.message, issue.line)
    check.close()
    return scan


def _used_columns(
    columns: Sequence[str], header: list[str], section: str, path: str, problems: list[Problem]
) -> list[tuple[int, str]]:
    """(header index, field name) of every requested column that exists; report the others."""
    used: list[tuple[int, str]] = []
    seen: set[str] = set()
    for k, col in enumerate(columns):
        fld = f"{section}.columns[{k}]"
        if col in seen:
            problems.append(Problem(fld, f"column {col!r} is listed twice", path, 1))
        elif col in ("FID", "IID") or col not in header:
            have = ", ".join(header[2:]) or "none"
            problems.append(Problem(fld, f"column {col!r} not in the header (columns: {have})", path, 1))
        else:
            used.append((header.index(col), fld))
        seen.add(col)
    return used


def _check_options(spec: RunSpec, cov: tables.Scan | None, problems: list[Problem]) -> None:
    """Categorical covariates exist and are not also numeric ones; ``test`` needs an engine that has it."""
    if spec.covariates is not None:
        for k, col in enumerate(spec.covariates.categorical):
            fld = f"covariates.categorical[{k}]"
            if col in spec.covariates.columns:
                problems.append(Problem(fld, f"{col!r} is also in covariates.columns; list it in one of the two",
                                        spec.covariates.file))
            elif cov is not None and col not in cov.header[2:]:
                problems.append(Problem(fld, f"column {col!r} not in the header", spec.covariates.file, 1))
    if spec.test is not GeneticModel.ADDITIVE and spec.engine.kind is EngineKind.BUILTIN:
        problems.append(Problem("test", f"test: {spec.test.value} needs engine: regenie (the built-in engine "
                                        f"runs the additive test only)"))


# -- names, predictions, engine, folders ------------------------------------------------------------


def _check_names(spec: RunSpec, problems: list[Problem]) -> None:
    """Labels and phenotype names become parts of job ids and file names."""
    for i, ds in enumerate(spec.datasets):
        if ds.label is not None and not _SAFE_NAME.match(ds.label):
            problems.append(Problem(f"datasets[{i}].label", f"{ds.label!r}: use only letters, digits, _ . -"))
    for k, col in enumerate(spec.phenotypes.columns):
        if not _SAFE_NAME.match(col):
            problems.append(
                Problem(
                    f"phenotypes.columns[{k}]",
                    f"{col!r}: use only letters, digits, _ . -",
                    spec.phenotypes.file,
                )
            )


def _check_predictions(spec: RunSpec, problems: list[Problem]) -> None:
    path = spec.step1.predictions
    assert path is not None  # Step1Spec: skip needs predictions
    fld = "step1.predictions"
    try:
        lines = _read_text(path).splitlines()
    except FileNotFoundError:
        problems.append(Problem(fld, "file not found", path))
        return
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(fld, f"cannot read: {exc}", path))
        return
    listed: set[str] = set()
    base = path.rsplit("/", 1)[0] if is_remote(path) else str(Path(path).parent)
    for lineno, line in enumerate(lines, start=1):
        try:
            parts = predictions.parse_pred_line(line)
        except ValueError as exc:
            problems.append(Problem(fld, str(exc), path, lineno))
            continue
        if not parts:
            continue
        if spec.engine.kind is EngineKind.REGENIE and len(line.split()) != 2:
            why = f"regenie splits this line at every space and cannot read the path {parts[1]!r}"
            problems.append(Problem(fld, why, path, lineno))
        listed.add(parts[0])
        if has_credentials(parts[1]):
            problems.append(Problem(fld, f"LOCO entry {redact(parts[1])}: a URL with credentials", path, lineno))
            continue
        loco = parts[1] if is_remote(parts[1]) else join(base, parts[1])
        if parts[0] in spec.phenotypes.columns and not _is_file(loco):
            problems.append(Problem(fld, f"LOCO file {loco} not found", path, lineno))
    for k, col in enumerate(spec.phenotypes.columns):
        if col not in listed:
            problems.append(Problem(f"phenotypes.columns[{k}]", f"phenotype {col!r} has no LOCO file in {path}", path))


def _check_regenie_workdir(spec: RunSpec, problems: list[Problem]) -> None:
    """regenie's step 2 splits ``<workdir>/..._pred.list`` lines at spaces: a workdir path with one breaks it."""
    if spec.engine.kind is EngineKind.REGENIE and not spec.step1.skip and re.search(r"\s", spec.workdir):
        problems.append(Problem("workdir", f"{spec.workdir!r} holds whitespace: regenie's step 2 cannot read "
                                           f"step 1 predictions under it; choose a path without spaces "
                                           f"(the built-in engine accepts it)"))


def _is_file(path: str) -> bool:
    return probe.exists(path) if is_remote(path) else os.path.isfile(path)


def _check_qc(spec: RunSpec, problems: list[Problem]) -> None:
    """``step1.qc`` reads the step 1 ``.bed``/``.pgen`` (not BGEN); ``engine: plink2`` needs plink2 on PATH
    (there and in a dataset's ``qc``)."""
    for i, ds in enumerate(spec.datasets):
        if ds.qc is not None and ds.qc.engine is QcEngineKind.PLINK2 and shutil.which("plink2") is None:
            problems.append(Problem(f"datasets[{i}].qc.engine", "plink2 is not on PATH (install it or use "
                                                                 "engine: builtin)"))
    target = spec.qc_genotypes()
    if target is None or spec.step1.qc is None:
        return
    fld, fmt, path = target
    if fmt is GenoFormat.BGEN:
        problems.append(Problem("step1.qc", f"QC reads .bed or .pgen genotypes; {fld} is BGEN", path))
    if spec.step1.qc.engine is QcEngineKind.PLINK2 and shutil.which("plink2") is None:
        problems.append(Problem("step1.qc.engine", "plink2 is not on PATH (install it or use engine: builtin)"))


def _check_dirs(spec: RunSpec, problems: list[Problem]) -> None:
    for name in ("workdir", "outdir"):
        value: str = getattr(spec, name)
        if not is_remote(value) and os.path.exists(value) and not os.path.isdir(value):
            problems.append(Problem(name, f"{value} exists and is not a folder"))
    fsx = spec.workspace.fsx
    if fsx is not None and Path(fsx.mount_path) not in Path(spec.workdir).parents:
        problems.append(Problem("workdir", f"with workspace kind fsx, workdir must be under {fsx.mount_path}"))
    _check_paths(spec, problems)


def _check_paths(spec: RunSpec, problems: list[Problem]) -> None:
    """``outdir`` and ``workdir`` must not overlap once resolved, symlinks followed (``storage/ownership.py``)."""
    if not is_remote(spec.outdir) and not is_remote(spec.workdir):
        problems += overlap_problems(spec.workdir, spec.outdir)
