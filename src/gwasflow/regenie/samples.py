"""The analysed samples: genotype-file order, intersected with the phenotype and covariate tables.

Following regenie (Mbatchou et al., Nat Genet 2021; regenie docs, "Input
files" and "Options"): a sample is analysed when it is in the genotype file,
in the phenotype file, passes ``--keep``/``--remove`` and, with
``--covarFile``, has every covariate; an intercept is always the first
covariate. Categorical covariates (``--catCovarList``) become ``k - 1``
indicator columns for their ``k`` levels among the analysed samples (the first
level in sorted order is the baseline; regenie caps ``k`` with
``--maxCatLevels``, default 10).

Missing phenotypes (regenie's Pheno.cpp, ``pheno_read`` and ``setMasks``): a
sample whose every trait is missing is not analysed; with ``--strict``, or
when there is a single trait, a sample missing any trait is not analysed.
Otherwise a missing value is masked for that trait only (how each step
treats a masked value is in the step's module).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gwasflow.errors import EngineInputError
from gwasflow.regenie.io.genotypes import GenotypeSource
from gwasflow.regenie.io.lists import read_sample_list
from gwasflow.regenie.io.tables import (
    SampleTable,
    TextTable,
    forget_scans,
    read_header,
    read_table,
    read_text_table,
)
from gwasflow.regenie.options import Options

__all__ = ["Analysis", "load_analysis"]


@dataclass(frozen=True)
class Analysis:
    """Aligned inputs, rows in genotype-file order of the analysed samples."""

    fam_index: NDArray[np.intp]  # row of each analysed sample in the genotype file's sample list
    sample_ids: list[str]  # FID_IID, as regenie writes them in .loco headers
    covariates: NDArray[np.float64]  # (n_samples, n_covariates), intercept first
    covariate_names: list[str]
    phenotypes: NDArray[np.float64]  # (n_samples, n_phenotypes), NaN = missing
    phenotype_names: list[str]
    n_fam: int
    n_genotyped: int  # samples of the genotype file left by --keep/--remove

    @property
    def n_samples(self) -> int:
        return int(self.fam_index.shape[0])

    @property
    def observed(self) -> NDArray[np.bool_]:
        return ~np.isnan(self.phenotypes)

    def subset(self, rows: NDArray[np.intp]) -> Analysis:
        """The same analysis restricted to the analysed samples ``rows`` (in order)."""
        return Analysis(
            fam_index=self.fam_index[rows], sample_ids=[self.sample_ids[i] for i in rows.tolist()],
            covariates=self.covariates[rows], covariate_names=self.covariate_names,
            phenotypes=self.phenotypes[rows], phenotype_names=self.phenotype_names, n_fam=self.n_fam,
            n_genotyped=self.n_genotyped,
        )

    @property
    def sample_index(self) -> NDArray[np.intp] | None:
        """Rows to read from the genotype file; None when every sample is analysed."""
        return None if self.n_samples == self.n_fam else self.fam_index


def _rows(table: SampleTable | TextTable, keys: list[tuple[str, str]]) -> NDArray[np.intp]:
    lookup = table.row_of()
    return np.asarray([lookup.get(key, -1) for key in keys], dtype=np.intp)


def _list_filter(opts: Options, keys: list[tuple[str, str]]) -> NDArray[np.bool_]:
    if opts.keep:
        listed = read_sample_list(opts.keep, "--keep")
        return np.asarray([key in listed for key in keys], dtype=bool)
    if opts.remove:
        listed = read_sample_list(opts.remove, "--remove")
        return np.asarray([key not in listed for key in keys], dtype=bool)
    return np.ones(len(keys), dtype=bool)


@dataclass
class _Covariates:
    numeric: NDArray[np.float64]  # (n_fam, n_numeric), NaN = missing or absent
    numeric_names: list[str]
    text: list[list[str | None]]  # per categorical column, per fam row
    text_names: list[str]
    present: NDArray[np.bool_]  # complete covariates, per fam row
    first_seen: list[list[str]]  # per categorical column, its levels in order of first appearance


def _read_covariates(opts: Options, keys: list[tuple[str, str]], listed: NDArray[np.bool_]) -> _Covariates:
    n = len(keys)
    empty = _Covariates(np.ones((n, 0)), [], [], [], np.ones(n, dtype=bool), [])
    if opts.covar_file is None:
        if opts.covar_cols is not None or opts.cat_covar_cols:
            raise EngineInputError("--covarColList/--catCovarList: need --covarFile")
        return empty
    cats = opts.cat_covar_cols
    names = opts.covar_cols
    if names is None:
        names = [c for c in read_header(opts.covar_file, flag="--covarFile") if c not in cats]
    overlap = sorted(set(names) & set(cats))
    if overlap:
        raise EngineInputError(f"--catCovarList: {overlap[0]} is also in --covarColList")
    present = np.ones(n, dtype=bool)
    numeric = np.ones((n, 0))
    if names:
        table = read_table(opts.covar_file, names, flag="--covarFile")
        crow = _rows(table, keys)
        numeric = np.where((crow >= 0)[:, None], table.values[crow], np.nan)
        present &= (crow >= 0) & ~np.isnan(numeric).any(axis=1)
        names = table.columns
    text: list[list[str | None]] = []
    first_seen: list[list[str]] = []
    if cats:
        ttable = read_text_table(opts.covar_file, cats, flag="--covarFile")
        trow = _rows(ttable, keys).tolist()
        genotyped = {key for key, kept in zip(keys, listed.tolist(), strict=True) if kept}
        in_file = [row for row, key in enumerate(ttable.keys) if key in genotyped]
        for column in ttable.values:
            values = [column[r] if r >= 0 else None for r in trow]
            present &= np.asarray([v is not None for v in values], dtype=bool)
            text.append(values)
            first_seen.append(list(dict.fromkeys(str(column[r]) for r in in_file if column[r] is not None)))
    return _Covariates(numeric, names, text, list(cats), present, first_seen)


def _dummies(cov: _Covariates, rows: NDArray[np.intp], max_levels: int) -> tuple[NDArray[np.float64], list[str]]:
    """Indicator columns of each categorical covariate: every level but the baseline.

    As regenie (Pheno.cpp ``covariate_read``, ``convertNumLevel``): levels are
    numbered in order of first appearance in the covariate file, among the
    genotyped samples, and the first one is the baseline. The span is the same
    whatever the baseline; the basis regenie's logistic fits stop in is not.
    """
    columns: list[NDArray[np.float64]] = []
    names: list[str] = []
    for name, values, order in zip(cov.text_names, cov.text, cov.first_seen, strict=True):
        kept = [str(values[i]) for i in rows.tolist()]
        present = set(kept)
        levels = [level for level in order if level in present]
        if len(levels) > max_levels:
            raise EngineInputError(f"--catCovarList: '{name}' has {len(levels)} levels, more than --maxCatLevels "
                                   f"{max_levels}")
        codes = np.asarray(kept)
        for level in levels[1:]:
            columns.append((codes == level).astype(np.float64))
            names.append(f"{name}_{level}")
    if not columns:
        return np.ones((rows.shape[0], 0)), []
    return np.column_stack(columns), names


def load_analysis(opts: Options, source: GenotypeSource) -> Analysis:
    """Read ``--phenoFile``/``--covarFile`` and align them with the samples of ``source``."""
    pheno = read_table(opts.pheno_file, opts.pheno_cols, flag="--phenoFile")
    fam_keys = list(zip(source.fid, source.iid, strict=True))
    listed = _list_filter(opts, fam_keys)
    prow_all = _rows(pheno, fam_keys)
    seen = np.zeros((len(fam_keys), len(pheno.columns)), dtype=bool)
    seen[prow_all >= 0] = ~np.isnan(pheno.values[prow_all[prow_all >= 0]])
    strict = opts.strict or len(pheno.columns) == 1
    keep = (prow_all >= 0) & listed & (seen.all(axis=1) if strict else seen.any(axis=1))
    cov = _read_covariates(opts, fam_keys, listed)
    keep &= cov.present
    fam_index = np.flatnonzero(keep).astype(np.intp)
    if fam_index.size == 0:
        raise EngineInputError(
            f"no sample is in the genotype file, {opts.pheno_file}"
            + (f" and {opts.covar_file}" if opts.covar_file else "")
            + " with complete covariates" + (" (after --keep/--remove)" if opts.keep or opts.remove else "")
        )
    forget_scans()
    prow = _rows(pheno, [fam_keys[i] for i in fam_index])
    dummies, dummy_names = _dummies(cov, fam_index, opts.max_cat_levels)
    intercept = np.ones((fam_index.size, 1))
    return Analysis(
        fam_index=fam_index,
        sample_ids=[f"{source.fid[i]}_{source.iid[i]}" for i in fam_index],
        covariates=np.hstack([intercept, cov.numeric[fam_index], dummies]),
        covariate_names=["intercept", *cov.numeric_names, *dummy_names],
        phenotypes=pheno.values[prow],
        phenotype_names=pheno.columns,
        n_fam=len(fam_keys),
        n_genotyped=int(listed.sum()),
    )
