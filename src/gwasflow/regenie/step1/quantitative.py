"""Step 1 for quantitative traits: whole-genome ridge regression and LOCO predictions.

Mbatchou et al., Nat Genet 2021 (Methods, "Step 1"); regenie docs ("Overview /
Step 1"). Phenotypes are residualized on the covariates and scaled to unit
residual variance (missing values mean-imputed, i.e. zero after
residualizing); level 0 is :mod:`gwasflow.regenie.step1.level0`, the ridge
stages :mod:`gwasflow.regenie.step1.ridge`. The LOCO predictions are on the
scaled residual phenotype, the scale step 2 subtracts them on.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from gwasflow.regenie.io.genotypes import open_genotypes
from gwasflow.regenie.linalg import check_scales, covariate_basis, residualize
from gwasflow.regenie.options import Options
from gwasflow.regenie.runlog import RunLog
from gwasflow.regenie.samples import load_analysis
from gwasflow.regenie.step1 import ridge
from gwasflow.regenie.step1.level0 import level0
from gwasflow.regenie.step1.loco import write_outputs

__all__ = ["prepare_phenotypes", "run_step1_qt"]

F64 = NDArray[np.float64]


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


def run_step1_qt(opts: Options, log: RunLog) -> None:
    """Step 1 for quantitative traits, end to end: the LOCO files and the prediction list."""
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
