"""Level 0 of step 1: standardized genotype blocks and their ridge predictions, for every trait kind.

Mbatchou et al., Nat Genet 2021 (Methods, "Step 1"); regenie docs ("Overview /
Step 1"). Genotypes, in blocks of ``--bsize`` variants within each chromosome,
are mean-imputed, residualized on the covariates and standardized; each block
gives out-of-fold ridge predictions for a grid of shrinkage values
(:mod:`gwasflow.regenie.step1.ridge`), centred and scaled per trait right
away, as regenie does before it keeps or writes them (:func:`scale_level0`):
a block's predictions are then the same whether the whole run or one
``--run-l0`` job computed them.
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

__all__ = ["Blocks", "Level0", "level0", "scale_level0", "standardize_block", "step1_blocks"]

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


Blocks = list[tuple[int, NDArray[np.intp]]]


@dataclass(frozen=True)
class _Design:
    folds: list[slice] | None  # None for leave-one-out
    lambdas: F64
    n_blocks: int


@dataclass(frozen=True)
class Level0:
    """Level 0 predictions, centred and scaled per trait, and what the level 0 files need besides."""

    w: F64  # (n_samples, n_blocks * n_shrink, n_phenotypes)
    chrom_of_column: NDArray[np.int64]
    fill: F64  # (n_blocks * n_shrink, n_phenotypes): regenie's value for samples outside a trait's analysis


def step1_blocks(source: GenotypeSource, opts: Options) -> Blocks:
    """The step 1 blocks: ``--bsize`` variants within each chromosome, of the variants the options select."""
    index = select_variants(source.variants, opts)
    if index.size == 0:
        raise EngineInputError("no variant left for step 1 after --extract/--exclude/--chr/--range")
    return list(iter_blocks(index, source.variants.chrom, opts.bsize))


def scale_level0(preds: F64, observed: NDArray[np.bool_]) -> tuple[F64, F64]:
    """Centre and scale one block's predictions (n_samples, n_shrink, n_phenotypes) per trait; and the fill.

    As regenie's ``ridge_level_0`` ("center and scale using the whole
    sample"): a trait's predictions are set to 0 where ``observed`` is False,
    then centred by their mean over the observed samples and divided by
    their standard deviation (divisor n - 1). The fill (n_shrink,
    n_phenotypes) is the value unobserved samples get, ``(0 - mean) / sd``.
    """
    mask = observed[:, None, :]
    x = np.where(mask, preds, 0.0)
    n_eff = observed.sum(axis=0).astype(np.float64)[None, :]
    mean = x.sum(axis=0) / n_eff
    spread = np.einsum("isp,isp->sp", x, x) - n_eff * mean**2
    sd = np.sqrt(np.maximum(spread, 0.0) / (n_eff - 1.0))
    inv = np.divide(1.0, sd, out=np.zeros_like(sd), where=sd > 0)
    scaled: F64 = (x - mean[None]) * inv[None]
    fill: F64 = -mean * inv
    return scaled, fill


def level0(source: GenotypeSource, analysis: Analysis, opts: Options, q: F64, y: F64,
           observed: NDArray[np.bool_], log: RunLog, *, blocks: Blocks | None = None,
           n_variants: int | None = None) -> Level0:
    """Level 0 over ``blocks`` (default: all step 1 blocks); ``n_variants`` sets the shrinkage grid
    (default: the variants in ``blocks``; a ``--run-l0`` job passes the whole run's count)."""
    if blocks is None:
        blocks = step1_blocks(source, opts)
    if n_variants is None:
        n_variants = sum(int(block.size) for _, block in blocks)
    design = _design(opts, analysis.n_samples, n_variants, len(blocks))
    sample_index = analysis.sample_index
    n_shrink = design.lambdas.shape[0]
    w = np.empty((analysis.n_samples, len(blocks) * n_shrink, y.shape[1]))
    fill = np.empty((len(blocks) * n_shrink, y.shape[1]))
    chrom_of_column = np.repeat([chrom for chrom, _ in blocks], n_shrink).astype(np.int64)
    current = -1
    for b, (chrom, block) in enumerate(blocks):
        if chrom != current:
            log.add(f"Chromosome {chrom}")
            current = chrom
        x = standardize_block(source.read_block(block, sample_index), q)
        if design.folds is None:
            preds = ridge.level0_loo(x, y, design.lambdas)
        else:
            preds = ridge.level0_kfold(x, y, design.folds, design.lambdas)
        columns = slice(b * n_shrink, (b + 1) * n_shrink)
        w[:, columns, :], fill[columns] = scale_level0(preds, observed)
        log.add(f" block [{b + 1}] : {block.size} snps")
    return Level0(w=w, chrom_of_column=chrom_of_column, fill=fill)


def _design(opts: Options, n_samples: int, n_variants: int, n_blocks: int) -> _Design:
    folds = None
    if not opts.loocv:
        if n_samples < opts.cv:
            raise EngineInputError(f"--cv: {n_samples} samples cannot be split into {opts.cv} folds")
        folds = ridge.fold_slices(n_samples, opts.cv)
    return _Design(folds=folds, lambdas=ridge.shrinkage_grid(n_variants), n_blocks=n_blocks)
