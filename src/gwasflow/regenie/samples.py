"""The analysed samples: .fam order, intersected with the phenotype and covariate tables.

Following regenie (Mbatchou et al., Nat Genet 2021; regenie docs, "Input
files"): a sample is analysed when it is in the .fam, in the phenotype file and,
with ``--covarFile``, has every covariate; an intercept is always the first
covariate. A missing phenotype value drops the sample for that phenotype only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gwasflow.errors import EngineInputError
from gwasflow.regenie.io.bed import BedFile
from gwasflow.regenie.io.tables import SampleTable, read_table
from gwasflow.regenie.options import Options

__all__ = ["Analysis", "load_analysis"]


@dataclass(frozen=True)
class Analysis:
    """Aligned inputs, rows in .fam order of the analysed samples."""

    fam_index: NDArray[np.intp]  # row of each analysed sample in the .fam
    sample_ids: list[str]  # FID_IID, as regenie writes them in .loco headers
    covariates: NDArray[np.float64]  # (n_samples, n_covariates), intercept first
    covariate_names: list[str]
    phenotypes: NDArray[np.float64]  # (n_samples, n_phenotypes), NaN = missing
    phenotype_names: list[str]
    n_fam: int

    @property
    def n_samples(self) -> int:
        return int(self.fam_index.shape[0])

    @property
    def observed(self) -> NDArray[np.bool_]:
        return ~np.isnan(self.phenotypes)


def _rows(table: SampleTable, keys: list[tuple[str, str]]) -> NDArray[np.intp]:
    lookup = table.row_of()
    return np.asarray([lookup.get(key, -1) for key in keys], dtype=np.intp)


def load_analysis(opts: Options, bed: BedFile) -> Analysis:
    """Read ``--phenoFile``/``--covarFile`` and align them with the .fam of ``bed``."""
    pheno = read_table(opts.pheno_file, opts.pheno_cols, flag="--phenoFile")
    fam_keys = list(zip(bed.fid, bed.iid, strict=True))
    keep = _rows(pheno, fam_keys) >= 0
    covar_values = np.ones((len(fam_keys), 0))
    covar_names: list[str] = []
    if opts.covar_file is not None:
        covar = read_table(opts.covar_file, opts.covar_cols, flag="--covarFile")
        crow = _rows(covar, fam_keys)
        covar_values = np.where((crow >= 0)[:, None], covar.values[crow], np.nan)
        keep &= (crow >= 0) & ~np.isnan(covar_values).any(axis=1)
        covar_names = covar.columns
    elif opts.covar_cols is not None:
        raise EngineInputError("--covarColList: needs --covarFile")
    fam_index = np.flatnonzero(keep).astype(np.intp)
    if fam_index.size == 0:
        raise EngineInputError(
            f"no sample is in {bed.prefix}.fam, {opts.pheno_file}"
            + (f" and {opts.covar_file}" if opts.covar_file else "")
            + " with complete covariates"
        )
    prow = _rows(pheno, [fam_keys[i] for i in fam_index])
    intercept = np.ones((fam_index.size, 1))
    return Analysis(
        fam_index=fam_index,
        sample_ids=[f"{bed.fid[i]}_{bed.iid[i]}" for i in fam_index],
        covariates=np.hstack([intercept, covar_values[fam_index]]),
        covariate_names=["intercept", *covar_names],
        phenotypes=pheno.values[prow],
        phenotype_names=pheno.columns,
        n_fam=len(fam_keys),
    )
