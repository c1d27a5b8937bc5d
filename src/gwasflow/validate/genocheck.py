"""Validate's genotype checks: every genotype file set, its samples against the tables, the sample and variant lists.

Run by :func:`gwasflow.validate.inputs.validate`. Each ``datasets`` entry is expanded over its
``chromosomes`` (``{chrom}`` templates) and each file set is scanned without reading genotypes
(``plan/meta.py`` for ``.bed``, ``plan/genofiles.py`` for ``.pgen`` and BGEN). A problem on one
chromosome's file names the dataset, the chromosome and the path. Sample ids come from the ``.fam``,
``.psam``, BGEN ``.sample`` or the ids stored in the BGEN file; a table that shares no FID IID pair
with them is reported with what the two files hold, in particular the FID/IID mismatch (same IIDs,
different FIDs) behind regenie's "all individuals have missing/invalid values".
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

from gwasflow.core.uri import is_remote
from gwasflow.errors import Problem
from gwasflow.plan import genofiles, meta
from gwasflow.plan.meta import DatasetMeta, DatasetScan
from gwasflow.spec.genotypes import DatasetFile, GenoFormat
from gwasflow.spec.model import RunSpec
from gwasflow.storage import probe
from gwasflow.validate import remote_genotypes

__all__ = ["GenoSamples", "check_genotypes", "check_lists", "check_overlap", "id_file"]

SampleId = tuple[str, str]


@dataclass(frozen=True)
class GenoSamples:
    """The samples of one genotype file set and the file they come from."""

    id_file: str
    ids: frozenset[SampleId]


def id_file(item: DatasetFile) -> str:
    """Where a file set's sample ids are read: ``.fam``, ``.psam``, ``.sample`` or the BGEN file."""
    if item.fmt is GenoFormat.BED:
        return f"{item.source}.fam"
    if item.fmt is GenoFormat.PGEN:
        return f"{item.source}.psam"
    return item.sample or f"{item.source} (ids stored in the file)"


def _scan(item: DatasetFile) -> DatasetScan:
    if item.fmt is GenoFormat.BED:
        return probe.scan_remote_dataset(item.label, item.source) if is_remote(item.source) \
            else meta.scan_dataset(item.label, item.source)
    if is_remote(item.source) or (item.sample is not None and is_remote(item.sample)):
        return remote_genotypes.scan_remote(item)
    if item.fmt is GenoFormat.PGEN:
        return genofiles.scan_pgen(item.label, item.source)
    return genofiles.scan_bgen(item.label, item.source, item.sample)


def check_genotypes(spec: RunSpec, problems: list[Problem]) -> tuple[list[DatasetMeta], list[GenoSamples]]:
    """Scan ``step1.genotypes`` (first, when given) and every expanded dataset file.

    Returns their metadata (for the planner) and their distinct sample sets, in that order.
    """
    items = spec.dataset_files()
    step1 = spec.step1_file()
    metas: list[DatasetMeta] = []
    samples: dict[str, GenoSamples] = {}  # by id file: a .sample shared by 22 files is one set
    for item in ([step1] if step1 is not None else []) + items:
        scan = _scan(item)
        where = f"dataset {spec.dataset_labels()[item.index]}, chromosome {item.chrom}: " if item.chrom else ""
        problems.extend(Problem(item.field, where + x.message, x.file, x.line) for x in scan.issues)
        if scan.meta is not None:
            metas.append(dataclasses.replace(
                scan.meta, fmt=item.fmt, sample=item.sample, ref_first=item.ref_first, min_info=item.min_info,
                step1_only=item.index < 0))
        if scan.sample_ids and id_file(item) not in samples:
            samples[id_file(item)] = GenoSamples(id_file(item), frozenset(scan.sample_ids))
    return metas, list(samples.values())


def check_overlap(
    spec: RunSpec, genos: Sequence[GenoSamples], pheno: set[SampleId] | None, cov: set[SampleId] | None,
    problems: list[Problem],
) -> None:
    """Each table must share samples (FID IID) with every genotype file set, and with each other."""
    tables = [("phenotypes.file", spec.phenotypes.file, pheno)]
    if spec.covariates is not None:
        tables.append(("covariates.file", spec.covariates.file, cov))
    for geno in genos:
        for fld, path, ids in tables:
            if ids and not ids & geno.ids:
                problems.append(Problem(fld, _no_overlap(ids, path, geno), path))
    if pheno and cov and spec.covariates and not pheno & cov:
        problems.append(Problem("covariates.file", "no sample (FID IID) in common with the phenotype file",
                                spec.covariates.file))


def _no_overlap(table: set[SampleId], path: str, geno: GenoSamples) -> str:
    """Why a table and a genotype file set share no FID IID pair, as precisely as the ids tell."""
    base = f"no sample (FID IID) in common with {geno.id_file} ({len(geno.ids)} samples)"
    geno_iids = {iid for _, iid in geno.ids}
    shared = sum(1 for _, iid in table if iid in geno_iids)
    if shared:
        return (f"FID/IID mismatch: {shared} IIDs are in both files but no FID IID pair is; {path} uses "
                f"{_describe(table)} while {geno.id_file} uses {_describe(geno.ids)}; write the genotype file's "
                f"FID in the first column (regenie would stop with 'all individuals have missing/invalid values')")
    if any((iid, fid) in geno.ids for fid, iid in table):
        return f"{base}: the FID and IID columns of {path} are swapped relative to {geno.id_file}"
    return base


def _describe(ids: Iterable[SampleId]) -> str:
    example = min(ids)
    same = all(fid == iid for fid, iid in ids)
    kind = "the IID in both columns (FID = IID)" if same else "FIDs that differ from the IIDs"
    return f"{kind}, e.g. '{example[0]} {example[1]}'"


def check_lists(
    spec: RunSpec, genos: Sequence[GenoSamples], problems: list[Problem]
) -> list[tuple[str, AbstractSet[SampleId]]]:
    """``samples.keep/remove`` must exist and name genotyped samples; ``variants.extract/exclude`` must exist.

    Returns each genotype file set's samples as the engine analyses them (``keep``/``remove`` applied),
    named for :func:`gwasflow.validate.traits.check_traits`.
    """
    analysed: list[tuple[str, AbstractSet[SampleId]]] = [(g.id_file, g.ids) for g in genos]
    for name in ("keep", "remove"):
        path: str | None = getattr(spec.samples, name)
        if path is None:
            continue
        ids = _read_ids(path, f"samples.{name}", problems)
        if ids is None:
            continue
        if genos and not any(ids & g.ids for g in genos):
            problems.append(Problem(f"samples.{name}", f"no sample (FID IID) in common with the genotype "
                                                       f"files (e.g. {genos[0].id_file})", path))
        keep = name == "keep"
        analysed = [(f"{file}, samples.{name} applied", (g & ids) if keep else (g - ids)) for file, g in analysed]
    for name in ("extract", "exclude"):
        path = getattr(spec.variants, name)
        if path is not None and not (probe.exists(path) if is_remote(path) else os.path.isfile(path)):
            problems.append(Problem(f"variants.{name}", "file not found", path))
    return analysed


def _read_ids(path: str, fld: str, problems: list[Problem]) -> set[SampleId] | None:
    """The FID IID pairs of a sample list (no header; more columns are ignored, as regenie does)."""
    try:
        text = probe.read_text(path) if is_remote(path) else Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(Problem(fld, "file not found", path))
        return None
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(fld, f"cannot read: {exc}", path))
        return None
    ids: set[SampleId] = set()
    for lineno, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if len(parts) == 1:
            problems.append(Problem(fld, "expected FID and IID", path, lineno))
            return None
        if parts:
            ids.add((parts[0], parts[1]))
    return ids
