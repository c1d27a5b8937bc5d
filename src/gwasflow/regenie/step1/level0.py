"""Level 0 of step 1: standardized genotype blocks and their ridge predictions, for every trait kind.

Mbatchou et al., Nat Genet 2021 (Methods, "Step 1"); regenie docs ("Overview /
Step 1"). Genotypes, in blocks of ``--bsize`` variants within each chromosome,
are mean-imputed, residualized on the covariates and standardized; each block
gives out-of-fold ridge predictions for a grid of shrinkage values
(:mod:`gwasflow.regenie.step1.ridge`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gwasflow.errors import EngineInputError
from gwasflow.regenie.blocks import iter_blocks, select_variants
from gwasflow.regenie.io.genotypes import GenotypeSource
from gwasflow.regenie.linalg import residualize
from gwasflow.regenie.options import Options
from gwasflow.regenie.runlog import RunLog
from gwasflow.regenie.samples import Analysis
from gwasflow.regenie.step1 import ridge

__all__ = ["level0", "standardize_block"]

F64 = NDArray[np.float64]


def standardize_block(geno: F64, q: F64) -> F64:
    """Mean-impute, residualize on the covariates and scale each column to ``g'g = n - k``.

    ``k`` is the number of covariates, intercept included, as regenie's
    ``residualize_genotypes`` scales (``[N - C]``).
    """
    missing = np.isnan(geno)
    if missing.any():
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(np.where(missing.all(axis=0), 0.0, geno), axis=0)
        geno = np.where(missing, mean, geno)
    resid = residualize(q, geno)
    norm = np.sqrt(np.einsum("ij,ij->j", resid, resid) / (geno.shape[0] - q.shape[1]))
    scale = np.where(norm > 1e-8, norm, np.inf)
    result: F64 = resid / scale
    return result


@dataclass(frozen=True)
class _Design:
    folds: list[slice] | None  # None for leave-one-out
    lambdas: F64
    n_blocks: int


def level0(bed: GenotypeSource, analysis: Analysis, opts: Options, q: F64, y: F64,
            log: RunLog) -> tuple[F64, NDArray[np.int64]]:
    """W (n_samples, n_blocks * n_shrink, n_phenotypes) and the chromosome of each column."""
    index = select_variants(bed.variants, opts)
    if index.size == 0:
        raise EngineInputError("no variant left for step 1 after --extract/--exclude/--chr/--range")
    blocks = list(iter_blocks(index, bed.variants.chrom, opts.bsize))
    design = _design(opts, analysis.n_samples, int(index.size), len(blocks))
    sample_index = analysis.sample_index
    n_shrink = design.lambdas.shape[0]
    w = np.empty((analysis.n_samples, len(blocks) * n_shrink, y.shape[1]))
    chrom_of_column = np.repeat([chrom for chrom, _ in blocks], n_shrink).astype(np.int64)
    current = -1
    for b, (chrom, block) in enumerate(blocks):
        if chrom != current:
            log.add(f"Chromosome {chrom}")
            current = chrom
        x = standardize_block(bed.read_block(block, sample_index), q)
        if design.folds is None:
            preds = ridge.level0_loo(x, y, design.lambdas)
        else:
            preds = ridge.level0_kfold(x, y, design.folds, design.lambdas)
        w[:, b * n_shrink:(b + 1) * n_shrink, :] = preds
        log.add(f" block [{b + 1}] : {block.size} snps")
    return w, chrom_of_column


def _design(opts: Options, n_samples: int, n_variants: int, n_blocks: int) -> _Design:
    folds = None
    if not opts.loocv:
        if n_samples < opts.cv:
            raise EngineInputError(f"--cv: {n_samples} samples cannot be split into {opts.cv} folds")
        folds = ridge.fold_slices(n_samples, opts.cv)
    return _Design(folds=folds, lambdas=ridge.shrinkage_grid(n_variants), n_blocks=n_blocks)
