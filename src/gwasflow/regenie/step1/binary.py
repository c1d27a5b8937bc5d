"""Step 1 for binary traits (``--bt``): ridge level 0, logistic ridge level 1, LOCO on the linear predictor scale.

Mbatchou et al., Nat Genet 2021 (Methods, "Step 1"); regenie docs ("Overview
/ Step 1"). For each phenotype a covariates-only null logistic model is fitted
on its observed samples (:mod:`gwasflow.regenie.binary.logistic`); level 0 is exactly
the ridge regression of quantitative traits (:mod:`gwasflow.regenie.step1.ridge`),
on the 0/1 trait residualized on the covariates and scaled (0 for samples
without a value; "level 0 as for quantitative traits", and the LOCO files then
correlate with regenie's at r > 0.99, against 0.91 with the logistic null
residuals ``y - p0`` as target); level 1 is a logistic
ridge regression of y on the scaled level 0 predictions with the null linear
predictor as offset (:mod:`gwasflow.regenie.step1.logistic_ridge`).

As regenie does: with fewer than 5,000 samples, leave-one-out CV replaces
K-fold CV (a warning in the log); the level 1 grid is the quantitative one
divided by ``pi^2 / 3``, the variance of the standard logistic distribution
(the liability scale of a logit model); samples without a phenotype value get
``NA`` in that phenotype's ``.loco`` file.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import NDArray

from gwasflow.regenie.binary.logistic import check_binary, fit_null_logistic
from gwasflow.regenie.io.genotypes import open_genotypes
from gwasflow.regenie.linalg import check_scales, covariate_basis, masked_residuals
from gwasflow.regenie.options import Options
from gwasflow.regenie.runlog import RunLog
from gwasflow.regenie.samples import Analysis, load_analysis
from gwasflow.regenie.step1 import ridge
from gwasflow.regenie.step1.logistic_ridge import level1_logistic_kfold, level1_logistic_loo
from gwasflow.regenie.step1.prepared import Prepared

__all__ = ["LOGISTIC_VARIANCE", "LOOCV_BELOW", "fit_level1_bt", "prepare_bt"]

F64 = NDArray[np.float64]
LOOCV_BELOW = 5000
LOGISTIC_VARIANCE = float(np.pi**2 / 3.0)


def _null_models(analysis: Analysis, q: F64, log: RunLog) -> F64:
    """Null linear predictors ``X b0`` of each phenotype (0 where missing), (n_samples, n_phenotypes)."""
    eta = np.zeros_like(analysis.phenotypes)
    log.add(" * case-control counts for each trait:")
    for j, name in enumerate(analysis.phenotype_names):
        values = analysis.phenotypes[:, j]
        check_binary(values, name)
        log.add(f"   - '{name}': {int((values == 1).sum())} cases and {int((values == 0).sum())} controls")
        seen = ~np.isnan(values)
        null = fit_null_logistic(q[seen], values[seen], name=name)  # regenie's basis, for its stopping rule
        eta[seen, j] = null.eta
    return eta


def prepare_bt(opts: Options, log: RunLog) -> Prepared:
    """Genotypes, analysed samples, null models, and the masked 0/1 residuals level 0 runs on (as regenie)."""
    source = open_genotypes(opts)
    analysis = load_analysis(opts, source)
    log.add("Fitting null model (gwasflow built-in engine, binary traits)")
    log.add(f" * number of individuals used in analysis = {analysis.n_samples}")
    q = covariate_basis(analysis.covariates)
    eta0 = _null_models(analysis, q, log)
    if not opts.loocv and analysis.n_samples < LOOCV_BELOW:
        log.add("   -WARNING: Sample size is less than 5,000 so using LOOCV instead of 5-fold CV.")
        opts = dataclasses.replace(opts, loocv=True)
    y, scale = masked_residuals(q, analysis.phenotypes)
    check_scales(scale, analysis.phenotype_names)
    log.add(f" * # CV folds       : [{analysis.n_samples if opts.loocv else opts.cv}]")
    return Prepared(source=source, analysis=analysis, opts=opts, q=q, y=y, observed=analysis.observed, eta0=eta0)


def fit_level1_bt(prep: Prepared, trait: int, w: F64, chrom_of_column: NDArray[np.int64],
                  log: RunLog) -> ridge.Level1Fit:
    """Logistic level 1 of one trait on its observed samples; ``NA`` predictions for the others."""
    assert prep.eta0 is not None
    analysis = prep.analysis
    chroms = sorted(set(chrom_of_column.tolist()))
    taus = ridge.shrinkage_grid(w.shape[1]) / LOGISTIC_VARIANCE
    seen = prep.observed[:, trait]
    y = analysis.phenotypes[seen, trait]
    ws, offset = w[seen], prep.eta0[seen, trait]
    if prep.opts.loocv:
        fit = level1_logistic_loo(ws, y, offset, taus, chrom_of_column, chroms)
    else:
        folds = ridge.fold_slices(int(seen.sum()), prep.opts.cv)
        fit = level1_logistic_kfold(ws, y, offset, folds, taus, chrom_of_column, chroms)
    log.add(f"phenotype {trait + 1} ({analysis.phenotype_names[trait]}) : ")
    for i, h2 in enumerate(ridge.H2_GRID):
        mark = "<- min value" if i == fit.best else ""
        log.add(f"  {h2:<5g} : Rsq = {fit.r2[i]:g}, -logLik/N = {fit.mse[i]:g}{mark}")
    predictions = np.full((analysis.n_samples, fit.predictions.shape[1]), np.nan)
    predictions[seen] = fit.predictions
    return dataclasses.replace(fit, predictions=predictions)
