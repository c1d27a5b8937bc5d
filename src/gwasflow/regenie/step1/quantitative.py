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
from gwasflow.regenie.step1.prepared import Prepared

__all__ = ["fit_level1_qt", "prepare_phenotypes", "prepare_qt"]

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


def prepare_qt(opts: Options, log: RunLog) -> Prepared:
    """Genotypes, analysed samples, covariate basis and scaled trait residuals (every sample counts)."""
    source = open_genotypes(opts)
    analysis = load_analysis(opts, source)
    q = covariate_basis(analysis.covariates)
    y = prepare_phenotypes(q, analysis.phenotypes, analysis.phenotype_names)
    log.add("Fitting null model (gwasflow built-in engine, quantitative traits)")
    log.add(f" * number of individuals used in analysis = {analysis.n_samples}")
    log.add(f" * # CV folds       : [{'LOOCV' if opts.loocv else opts.cv}]")
    log.add(f" * ridge data_l0    : [ {len(ridge.H2_GRID)} : {' '.join(f'{h:g}' for h in ridge.H2_GRID)} ]")
    return Prepared(source=source, analysis=analysis, opts=opts, q=q, y=y, observed=np.ones(y.shape, dtype=bool),
                    eta0=None)


def fit_level1_qt(prep: Prepared, trait: int, w: F64, chrom_of_column: NDArray[np.int64],
                  log: RunLog) -> ridge.Level1Fit:
    """Level 1 ridge of one trait on its level 0 predictions (already centred and scaled at level 0)."""
    chroms = sorted(set(chrom_of_column.tolist()))
    taus = ridge.shrinkage_grid(w.shape[1])
    y = prep.y[:, trait]
    if prep.opts.loocv:
        fit = ridge.level1_loo(w, y, taus, chrom_of_column, chroms)
    else:
        fit = ridge.level1_kfold(w, y, ridge.fold_slices(y.shape[0], prep.opts.cv), taus, chrom_of_column, chroms)
    log.add(f"phenotype {trait + 1} ({prep.analysis.phenotype_names[trait]}) : ")
    for i, h2 in enumerate(ridge.H2_GRID):
        mark = "<- min value" if i == fit.best else ""
        log.add(f"  {h2:<5g} : Rsq = {fit.r2[i]:g}, MSE = {fit.mse[i]:g}{mark}")
    return fit
