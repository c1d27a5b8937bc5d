"""Null logistic regression with an offset, the model every binary-trait test is conditional on.

regenie docs ("Overview / Step 2: binary traits"): the logistic model of the
trait includes the covariates X in the linear predictor and the step 1 LOCO
prediction as an *offset*; Mbatchou et al., Nat Genet 2021 (Methods, "Step 2")
fit it once per phenotype and chromosome. Fitted by iteratively reweighted
least squares (Newton-Raphson on the log-likelihood
``sum y log p + (1 - y) log(1 - p)``, ``logit p = X b + offset``), with the
step halved while the deviance increases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

from gwasflow.errors import EngineInputError

__all__ = ["LANES", "NullLogistic", "check_binary", "fit_null_logistic", "log_likelihood", "logistic_sums",
           "logistic_sums_of", "moment_weights", "pad_columns", "power_moments"]

F64 = NDArray[np.float64]
_MAX_ITER = 50  # regenie's --niter default
_MAX_HALVING = 25
_SCORE_TOL = 1e-6  # regenie's numtol


def check_binary(values: F64, name: str) -> None:
    """Raise unless the observed values of phenotype ``name`` are 0 (control) and 1 (case), both present."""
    seen = values[~np.isnan(values)]
    if seen.size and not np.isin(seen, (0.0, 1.0)).all():
        bad = seen[~np.isin(seen, (0.0, 1.0))][0]
        raise EngineInputError(f"--phenoFile: binary phenotype '{name}' has value {bad:g}; expected 0, 1 or NA")
    if not (seen == 1.0).any() or not (seen == 0.0).any():
        raise EngineInputError(f"--phenoFile: binary phenotype '{name}' needs both cases (1) and controls (0)")


LANES = 8  # the compiled loops over columns run vectorized on whole groups of 8 only (two 4-double vectors a step)


def pad_columns(g: F64) -> F64:
    """``g`` as the kernels run fastest on it: C order, zero columns appended up to a whole number of :data:`LANES`.

    For fewer than 8 columns, or the last few of a wider block, the kernels
    would otherwise run scalar code: 4x slower per entry. Callers that pass
    the same matrix to several kernel calls pad it once; the kernels pad
    anything else themselves.
    """
    n_rows, n_cols = g.shape
    width = -(-n_cols // LANES) * LANES
    if width == n_cols:
        return np.ascontiguousarray(g, dtype=np.float64)
    padded = np.zeros((n_rows, width))
    padded[:, :n_cols] = g
    return padded


def moment_weights(p: F64) -> F64:
    """``p``, ``w``, ``w (1 - 2p)`` and ``w (1 - 6w)`` (``w = p (1 - p)``) as columns, (n_samples, 4).

    The weights whose :func:`power_moments` with a genotype column are the
    terms of :func:`logistic_sums` at its coefficient 0 (``q = p``): the
    score, information and their derivatives, with no exponential.
    """
    w = p * (1.0 - p)
    return np.column_stack([p, w, w * (1.0 - 2.0 * p), w * (1.0 - 6.0 * w)])


def _kernel_input(g: F64, n_cols: int) -> F64:
    """``g`` padded (:func:`pad_columns`) unless it already is, with at least ``n_cols`` columns."""
    if g.shape[1] % LANES == 0 and g.flags.c_contiguous and g.dtype == np.float64:
        return g
    return pad_columns(g[:, :n_cols])


def power_moments(g: F64, weights: F64, n_cols: int | None = None) -> F64:
    """``sum_i g_ij w1_i``, ``sum g_ij^2 w2_i``, ``sum g_ij^3 w3_i``, ``sum g_ij^4 w4_i`` per column: (4, n_cols).

    ``weights`` is (n_samples, 4). The sums of the four matrix products
    ``(g^k)' w_k``, from one fused pass (numba) instead of forming ``g``'s
    square, cube and fourth power as (n_samples x n_cols) arrays first. Of a
    ``g`` from :func:`pad_columns`, only the first ``n_cols`` columns are
    reported (all by default).
    """
    from gwasflow.regenie.kernels import power_moments_kernel

    n_cols = g.shape[1] if n_cols is None else n_cols
    g = _kernel_input(g, n_cols)
    out = np.empty((4, g.shape[1]))
    power_moments_kernel(g, np.ascontiguousarray(weights), out)
    return out[:, :n_cols]


def logistic_sums(g: F64, offset: F64, coef: F64) -> F64:
    """Sums over the samples at ``u_ij = g_ij coef_j + offset_i``, ``q = expit(u)``, ``v = q (1 - q)``: (5, n_cols).

    Rows: ``sum softplus(u)``, ``sum g q``, ``sum g^2 v``, ``sum g^3 v (1 - 2q)``
    and ``sum g^4 v (1 - 6v)``: the log-likelihood, score and information
    terms of a logistic model with one free coefficient per column, and
    their derivatives in it. Shared by the SPA cumulant generating function
    (:mod:`gwasflow.regenie.binary.spa`) and approximate Firth's Newton steps
    (:mod:`gwasflow.regenie.binary.firth`). One fused pass (numba kernel). ``g``
    may be padded (:func:`pad_columns`): the sums cover its first
    ``coef.size`` columns.
    """
    from gwasflow.regenie.kernels import logistic_sums_kernel

    n_cols = coef.size
    g = _kernel_input(g, n_cols)
    padded_coef = np.zeros(g.shape[1])
    padded_coef[:n_cols] = coef
    out = np.empty((5, g.shape[1]))
    logistic_sums_kernel(g, np.ascontiguousarray(offset, dtype=np.float64), padded_coef, out)
    return out[:, :n_cols]


def logistic_sums_of(g: F64, cols: NDArray[np.intp], offset: F64, coef: F64) -> F64:
    """:func:`logistic_sums` of the columns ``cols`` of ``g`` (padded), at ``coef`` (one per entry of ``cols``).

    ``cols`` may repeat a column. All of ``g``'s columns in order are passed
    as they are; a subset is gathered into a new array of a whole number of
    :data:`LANES` (no further copy): iterations whose columns converge at
    different speeds evaluate only those still running.
    """
    n_cols = g.shape[1]
    if cols.size <= n_cols and g.shape[1] % LANES == 0 and np.array_equal(cols, np.arange(cols.size)):
        return logistic_sums(g, offset, coef)
    width = -(-cols.size // LANES) * LANES
    gathered = np.zeros(width, dtype=np.intp)
    gathered[:cols.size] = cols
    return logistic_sums(np.take(g, gathered, axis=1), offset, coef)


def log_likelihood(y: F64, eta: F64) -> float:
    """Bernoulli log-likelihood at linear predictor ``eta``, computed without overflow."""
    # y log p + (1 - y) log(1 - p) = y eta - log(1 + e^eta)
    return float(np.sum(y * eta - np.logaddexp(0.0, eta)))


@dataclass(frozen=True)
class NullLogistic:
    """Fitted null model of one phenotype: ``logit p = X b + offset``."""

    coef: F64  # (n_covariates,)
    eta: F64  # (n_samples,) linear predictor, offset included
    p: F64  # fitted case probabilities
    w: F64  # p (1 - p)
    xtwx_inv: F64  # (X'WX)^-1, (n_covariates, n_covariates)


def fit_null_logistic(x: F64, y: F64, offset: F64 | None = None, *, name: str = "") -> NullLogistic:
    """Maximum-likelihood fit of ``logit P(y = 1) = x b + offset`` (x: (n_samples, n_covariates)).

    Newton-Raphson from ``b = 0`` with step halving while the deviance does
    not decrease, stopped as regenie stops it (Step1_Models.cpp
    ``fit_logistic``): after the first step where every score ``x'(y - p)``
    is below 1e-6 in absolute value. regenie's ``x`` is an orthonormal basis of
    the covariates; pass the same basis to stop where regenie stops, which
    matters for its sparse-genotype score test (it leaves out the small
    covariate part of the score that the stopping rule leaves behind).
    """
    n_samples, n_cov = x.shape
    off = np.zeros(n_samples) if offset is None else offset
    coef = np.zeros(n_cov)
    eta = off.copy()
    loglik = log_likelihood(y, eta)
    for _ in range(_MAX_ITER):
        p = expit(eta)
        w = p * (1.0 - p)
        step = np.linalg.solve(x.T @ (w[:, None] * x), x.T @ (y - p))
        for _halving in range(_MAX_HALVING):
            trial = x @ (coef + step) + off
            new_loglik = log_likelihood(y, trial)
            if new_loglik > loglik:
                break
            step = step / 2.0
        coef = coef + step
        eta = trial
        loglik = new_loglik
        if float(np.max(np.abs(x.T @ (y - expit(eta))))) < _SCORE_TOL:
            break
    else:
        raise EngineInputError(f"null logistic regression did not converge for phenotype '{name}'")
    p = expit(eta)
    w = p * (1.0 - p)
    return NullLogistic(coef=coef, eta=eta, p=p, w=w, xtwx_inv=np.linalg.inv(x.T @ (w[:, None] * x)))
