"""Step 1 for quantitative traits: whole-genome ridge regression and LOCO predictions.

Mbatchou et al., Nat Genet 2021 (Methods, "Step 1"); regenie docs ("Overview /
Step 1"). Phenotypes are residualized on the covariates and scaled to unit
residual variance (missing values mean-imputed, i.e. zero after
residualizing); genotypes, in blocks of ``--bsize`` variants within each
chromosome, are mean-imputed, residualized on the covariates and standardized.
The ridge stages are in :mod:`gwasflow.regenie.ridge`. Outputs:
``<out>_<k>.loco`` (predictions on the scaled residual phenotype, the scale
step 2 subtracts them on) and ``<out>_pred.list``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gwasflow.errors import EngineInputError
from gwasflow.regenie import ridge
from gwasflow.regenie.io.genotypes import GenotypeSource, open_genotypes
from gwasflow.regenie.linalg import check_scales, covariate_basis, residualize
from gwasflow.regenie.options import Options
from gwasflow.regenie.output import loco_text, write_text_atomic
from gwasflow.regenie.runlog import RunLog
from gwasflow.regenie.samples import Analysis, load_analysis
from gwasflow.regenie.step2 import iter_blocks, select_variants

__all__ = ["level0", "prepare_phenotypes", "run_step1", "standardize_block", "write_outputs"]

F64 = NDArray[np.float64]
N_LOCO_ROWS = 23


def prepare_phenotypes(q: F64, phenotypes: F64, names: list[str]) -> F64:
    """Mean-impute each phenotype's missing values, residualize on the covariates and scale.

    As regenie's step 1 for quantitative traits (Pheno.cpp
    ``pheno_impute_miss``, ``residualize_phenotypes``): a missing value takes
    the mean of the trait's observed values and then counts as observed;
    scaling is to ``r'r = n_samples - n_covariates``.
    """
    seen = ~np.isnan(phenotypes)
    means = np.where(seen, phenotypes, 0.0).sum(axis=0) / np.maximum(seen.sum(axis=0), 1)
    resid = residualize(q, np.where(seen, phenotypes, means[None, :]))
    scale = np.sqrt(np.einsum("ij,ij->j", resid, resid) / (phenotypes.shape[0] - q.shape[1]))
    check_scales(scale, names)
    result: F64 = resid / scale
    return result


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


def _level1(w: F64, y: F64, chrom_of_column: NDArray[np.int64], opts: Options, names: list[str],
            log: RunLog) -> list[ridge.Level1Fit]:
    chroms = sorted(set(chrom_of_column.tolist()))
    taus = ridge.shrinkage_grid(w.shape[1])
    n = y.shape[0]
    folds = None if opts.loocv else ridge.fold_slices(n, opts.cv)
    fits = []
    for p, name in enumerate(names):
        wp = ridge.scale_columns(w[:, :, p])
        if folds is None:
            fit = ridge.level1_loo(wp, y[:, p], taus, chrom_of_column, chroms)
        else:
            fit = ridge.level1_kfold(wp, y[:, p], folds, taus, chrom_of_column, chroms)
        log.add(f"phenotype {p + 1} ({name}) : ")
        for i, h2 in enumerate(ridge.H2_GRID):
            mark = "<- min value" if i == fit.best else ""
            log.add(f"  {h2:<5g} : Rsq = {fit.r2[i]:g}, MSE = {fit.mse[i]:g}{mark}")
        fits.append(fit)
    return fits


def _loco_rows(fit: ridge.Level1Fit, chroms: list[int], order: NDArray[np.intp]) -> list[tuple[int, F64]]:
    codes = sorted(set(range(1, N_LOCO_ROWS + 1)) | set(chroms))
    rows = []
    for code in codes:
        column = chroms.index(code) if code in chroms else len(chroms)
        rows.append((code, fit.predictions[order, column]))
    return rows


def write_outputs(opts: Options, analysis: Analysis, fits: list[ridge.Level1Fit], chroms: list[int],
                   log: RunLog) -> None:
    order = np.asarray(sorted(range(analysis.n_samples), key=lambda i: analysis.sample_ids[i].encode()),
                       dtype=np.intp)
    ids = [analysis.sample_ids[i] for i in order.tolist()]
    entries = []
    for k, (name, fit) in enumerate(zip(analysis.phenotype_names, fits, strict=True), start=1):
        path = f"{opts.out}_{k}.loco"
        write_text_atomic(path, loco_text(ids, _loco_rows(fit, chroms, order)))
        shown = os.path.basename(path) if opts.use_relative_path else os.path.abspath(path)
        entries.append(f"{name} {shown}\n")
    write_text_atomic(f"{opts.out}_pred.list", "".join(entries))
    log.add()
    log.add(f"List of blup files written to: [{opts.out}_pred.list]")


def run_step1(opts: Options, log: RunLog) -> None:
    """Run step 1 end to end and write the LOCO files and the prediction list."""
    if opts.bt:
        from gwasflow.regenie.step1_bt import run_step1_bt

        run_step1_bt(opts, log)
        return
    bed = open_genotypes(opts)
    analysis = load_analysis(opts, bed)
    q = covariate_basis(analysis.covariates)
    y = prepare_phenotypes(q, analysis.phenotypes, analysis.phenotype_names)
    log.add("Fitting null model (gwasflow built-in engine, quantitative traits)")
    log.add(f" * number of individuals used in analysis = {analysis.n_samples}")
    log.add(f" * # CV folds       : [{'LOOCV' if opts.loocv else opts.cv}]")
    log.add(f" * ridge data_l0    : [ {len(ridge.H2_GRID)} : {' '.join(f'{h:g}' for h in ridge.H2_GRID)} ]")
    w, chrom_of_column = level0(bed, analysis, opts, q, y, log)
    log.add()
    log.add(" Level 1 ridge...")
    fits = _level1(w, y, chrom_of_column, opts, analysis.phenotype_names, log)
    write_outputs(opts, analysis, fits, sorted(set(chrom_of_column.tolist())), log)
