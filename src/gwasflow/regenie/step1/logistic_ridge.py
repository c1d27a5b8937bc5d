"""Level 1 of step 1 for binary traits: logistic ridge regression on the level 0 predictions.

regenie docs ("Overview / Step 1: Cross-validation (level 1)"): for binary
traits the level 0 predictors W are combined by a logistic ridge model
``logit p = mu + W alpha``, where ``mu`` (the offset) is the linear predictor
of the covariates-only null model, and ``alpha`` maximizes
``l(alpha) - tau/2 ||alpha||^2``. ``tau`` is picked from its grid by
cross-validation on the held-out negative log-likelihood (the ``-logLik/N``
column of regenie's log; the ``Rsq`` column is the squared correlation of the
held-out case probabilities with y). Mbatchou et al., Nat Genet 2021 (Methods) and the
regenie docs: with fewer than 5,000 samples leave-one-out CV replaces K-fold.

Leave-one-out uses the one-step (Newton) approximation from the full fit:
with ``H = W'diag(w)W + tau I``, ``h_i = w_i' H^-1 w_i`` and ``r_i = y_i - p_i``,
``alpha_(-i) = alpha - H^-1 w_i r_i / (1 - p_i (1 - p_i) h_i)``.
The LOCO prediction of a sample drops the left-out chromosome's columns of W
from its own held-out ``alpha``; on the linear predictor scale, without ``mu``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

from gwasflow.regenie.step1.ridge import Level1Fit, loco_sums

__all__ = ["fit_logistic_ridge", "level1_logistic_kfold", "level1_logistic_loo"]

F64 = NDArray[np.float64]
_MAX_ITER = 100
_TOL = 1e-8


def fit_logistic_ridge(w: F64, y: F64, offset: F64, tau: float, *, start: F64 | None = None) -> F64:
    """``alpha`` maximizing ``sum y eta - log(1 + e^eta) - tau/2 ||alpha||^2``, ``eta = offset + w alpha``."""
    alpha = np.zeros(w.shape[1]) if start is None else start.copy()
    for _ in range(_MAX_ITER):
        p = expit(offset + w @ alpha)
        grad = w.T @ (y - p) - tau * alpha
        hess = w.T @ ((p * (1.0 - p))[:, None] * w)
        hess[np.diag_indices_from(hess)] += tau
        step = np.linalg.solve(hess, grad)
        alpha = alpha + step
        if float(np.max(np.abs(step))) < _TOL:
            break
    return alpha


def _neg_loglik(y: F64, eta: F64) -> float:
    return float(np.mean(np.logaddexp(0.0, eta) - y * eta))


def level1_logistic_loo(w: F64, y: F64, offset: F64, shrink: F64, chrom_of_column: NDArray[np.int64],
                        chroms: list[int]) -> Level1Fit:
    """Logistic level 1 with approximate leave-one-out CV; ``mse`` holds the CV ``-logLik/N``."""
    losses = np.empty(shrink.shape[0])
    cv_eta = np.empty((w.shape[0], shrink.shape[0]))
    fits = []
    alpha = None
    for s, tau in enumerate(shrink.tolist()):
        alpha = fit_logistic_ridge(w, y, offset, tau, start=alpha)
        eta = offset + w @ alpha
        p = expit(eta)
        weight = p * (1.0 - p)
        hess = w.T @ (weight[:, None] * w)
        hess[np.diag_indices_from(hess)] += tau
        solved = np.linalg.solve(hess, w.T).T  # rows: H^-1 w_i
        hat = np.einsum("ij,ij->i", w, solved)
        shift = (y - p) / (1.0 - weight * hat)
        cv_eta[:, s] = eta - hat * shift
        losses[s] = _neg_loglik(y, cv_eta[:, s])
        fits.append((alpha, solved, shift))
    best = int(np.argmin(losses))
    alpha, solved, shift = fits[best]
    per_sample = alpha[None, :] - solved * shift[:, None]
    preds = loco_sums(w, per_sample, chrom_of_column, chroms)
    return Level1Fit(best=best, mse=losses, r2=_r2(y, cv_eta), predictions=preds)


def level1_logistic_kfold(w: F64, y: F64, offset: F64, folds: list[slice], shrink: F64,
                          chrom_of_column: NDArray[np.int64], chroms: list[int]) -> Level1Fit:
    """Logistic level 1 with K-fold CV; ``mse`` holds the CV ``-logLik/N``."""
    n = w.shape[0]
    alphas = np.empty((len(folds), shrink.shape[0], w.shape[1]))
    cv_eta = np.empty((n, shrink.shape[0]))
    for f, fold in enumerate(folds):
        train = np.ones(n, dtype=bool)
        train[fold] = False
        alpha = None
        for s, tau in enumerate(shrink.tolist()):
            alpha = fit_logistic_ridge(w[train], y[train], offset[train], tau, start=alpha)
            alphas[f, s] = alpha
            cv_eta[fold, s] = offset[fold] + w[fold] @ alpha
    losses = np.asarray([_neg_loglik(y, cv_eta[:, s]) for s in range(shrink.shape[0])])
    best = int(np.argmin(losses))
    preds = np.empty((n, len(chroms) + 1))
    for f, fold in enumerate(folds):
        preds[fold] = loco_sums(w[fold], alphas[f, best], chrom_of_column, chroms)
    return Level1Fit(best=best, mse=losses, r2=_r2(y, cv_eta), predictions=preds)


def _r2(y: F64, cv_eta: F64) -> F64:
    """Per tau, squared correlation of the held-out case probabilities with y (for the log)."""
    p = expit(cv_eta)
    pc = p - p.mean(axis=0)
    yc = y - y.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        result: F64 = (yc @ pc) ** 2 / ((yc @ yc) * np.einsum("ij,ij->j", pc, pc))
    return result
