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

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

from gwasflow.errors import EngineInputError

__all__ = ["NullLogistic", "check_binary", "fit_null_logistic", "log_likelihood", "logistic_sums", "njit_kernel",
           "power_moments"]

F64 = NDArray[np.float64]
_MAX_ITER = 100
_TOL = 1e-8


def check_binary(values: F64, name: str) -> None:
    """Raise unless the observed values of phenotype ``name`` are 0 (control) and 1 (case), both present."""
    seen = values[~np.isnan(values)]
    if seen.size and not np.isin(seen, (0.0, 1.0)).all():
        bad = seen[~np.isin(seen, (0.0, 1.0))][0]
        raise EngineInputError(f"--phenoFile: binary phenotype '{name}' has value {bad:g}; expected 0, 1 or NA")
    if not (seen == 1.0).any() or not (seen == 0.0).any():
        raise EngineInputError(f"--phenoFile: binary phenotype '{name}' needs both cases (1) and controls (0)")


def njit_kernel(func: Callable[..., None]) -> Callable[..., None]:
    """``func`` compiled by ``numba.njit(cache=True, fastmath=False, nogil=True)`` on its first call.

    Exact IEEE arithmetic (no fastmath), so a kernel rounds as its Python
    source reads. numba is imported only then (about 0.25 s, which runs
    without a binary-trait correction do not pay). The machine code is cached
    next to the module, or in the user's cache folder where that is
    read-only; where numba finds no writable place at all, the kernel is
    compiled in every process instead.
    """
    compiled: Callable[..., None] | None = None

    def kernel(*args: object) -> None:
        nonlocal compiled
        if compiled is None:
            import numba

            try:
                compiled = numba.njit(cache=True, fastmath=False, nogil=True)(func)
            except RuntimeError:  # numba: "cannot cache function ...: no locator available"
                compiled = numba.njit(cache=False, fastmath=False, nogil=True)(func)
        assert compiled is not None
        compiled(*args)

    kernel.__doc__ = func.__doc__
    return kernel


def _power_moments_py(g: F64, weights: F64, out: F64) -> None:
    """``out[k, j] = sum_i g[i, j]^(k+1) weights[i, k]`` for k = 0..3, in one pass over the rows of ``g``."""
    n_rows, n_cols = g.shape
    for k in range(4):
        for j in range(n_cols):
            out[k, j] = 0.0
    for i in range(n_rows):
        w1 = weights[i, 0]
        w2 = weights[i, 1]
        w3 = weights[i, 2]
        w4 = weights[i, 3]
        for j in range(n_cols):
            x = g[i, j]
            x2 = x * x
            out[0, j] += x * w1
            out[1, j] += x2 * w2
            out[2, j] += x2 * x * w3
            out[3, j] += x2 * x2 * w4


_power_moments = njit_kernel(_power_moments_py)


def power_moments(g: F64, weights: F64) -> F64:
    """``sum_i g_ij w1_i``, ``sum g_ij^2 w2_i``, ``sum g_ij^3 w3_i``, ``sum g_ij^4 w4_i`` per column: (4, n_cols).

    ``weights`` is (n_samples, 4). The sums of the four matrix products
    ``(g^k)' w_k``, from one fused pass (numba) instead of forming ``g``'s
    square, cube and fourth power as (n_samples x n_cols) arrays first.
    """
    out = np.empty((4, g.shape[1]))
    _power_moments(np.ascontiguousarray(g), np.ascontiguousarray(weights), out)
    return out


def _logistic_sums_py(gr: F64, offset: F64, coef: F64, out: F64) -> None:
    """Fill ``out`` (5, n_cols) with :func:`logistic_sums`, in one pass over the rows of ``gr`` (C order).

    Each column's sums are kept in arrays of n_cols: nothing of size
    n_samples x n_cols is allocated. ``e = exp(-|u|)`` (one ``exp`` per
    entry, no overflow) gives ``q = 1 / (1 + e)`` for ``u >= 0``,
    ``e / (1 + e)`` otherwise, and ``softplus(u) = max(u, 0) + log(1 + e)``;
    the factors ``1 + e`` lie in [1, 2], so the product of 32 of them (at
    most 2^32) is formed and one ``log`` taken per 32 rows. Compiled by numba
    (``_logistic_sums``); plain Python otherwise.
    """
    n_rows, n_cols = gr.shape
    u = np.empty(n_cols)
    e = np.empty(n_cols)
    prod = np.ones(n_cols)
    pos_sum = np.zeros(n_cols)
    log_sum = np.zeros(n_cols)
    k1 = np.zeros(n_cols)
    k2 = np.zeros(n_cols)
    k3 = np.zeros(n_cols)
    k4 = np.zeros(n_cols)
    for i in range(n_rows):
        offset_i = offset[i]
        for j in range(n_cols):
            u[j] = gr[i, j] * coef[j] + offset_i
        for j in range(n_cols):
            e[j] = math.exp(-abs(u[j]))
        for j in range(n_cols):  # no calls: the compiler can vectorize this loop
            g = gr[i, j]
            e_j = e[j]
            positive = u[j] >= 0.0
            q = (1.0 if positive else e_j) / (1.0 + e_j)
            pos_sum[j] += u[j] if positive else 0.0
            prod[j] *= 1.0 + e_j
            v = (1.0 - q) * q
            g2 = g * g
            k1[j] += g * q
            k2[j] += g2 * v
            k3[j] += g2 * g * ((1.0 - 2.0 * q) * v)
            k4[j] += g2 * g2 * (v * (1.0 - 6.0 * v))
        if i % 32 == 31:
            for j in range(n_cols):
                log_sum[j] += math.log(prod[j])
                prod[j] = 1.0
    for j in range(n_cols):
        out[0, j] = pos_sum[j] + (log_sum[j] + math.log(prod[j]))
        out[1, j] = k1[j]
        out[2, j] = k2[j]
        out[3, j] = k3[j]
        out[4, j] = k4[j]


_logistic_sums = njit_kernel(_logistic_sums_py)


def logistic_sums(g: F64, offset: F64, coef: F64) -> F64:
    """Sums over the samples at ``u_ij = g_ij coef_j + offset_i``, ``q = expit(u)``, ``v = q (1 - q)``: (5, n_cols).

    Rows: ``sum softplus(u)``, ``sum g q``, ``sum g^2 v``, ``sum g^3 v (1 - 2q)``
    and ``sum g^4 v (1 - 6v)``: the log-likelihood, score and information
    terms of a logistic model with one free coefficient per column, and
    their derivatives in it. Shared by the SPA cumulant generating function
    (:mod:`gwasflow.regenie.spa`) and approximate Firth's Newton steps
    (:mod:`gwasflow.regenie.firth`). One fused pass (numba kernel).
    """
    out = np.empty((5, g.shape[1]))
    _logistic_sums(np.ascontiguousarray(g), np.ascontiguousarray(offset, dtype=np.float64),
                   np.ascontiguousarray(coef, dtype=np.float64), out)
    return out


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
    """Maximum-likelihood fit of ``logit P(y = 1) = x b + offset`` (x: (n_samples, n_covariates))."""
    n_samples, n_cov = x.shape
    off = np.zeros(n_samples) if offset is None else offset
    coef = np.zeros(n_cov)
    eta = off.copy()
    loglik = log_likelihood(y, eta)
    for _ in range(_MAX_ITER):
        p = expit(eta)
        w = p * (1.0 - p)
        step = np.linalg.solve(x.T @ (w[:, None] * x), x.T @ (y - p))
        for _halving in range(30):
            trial = x @ (coef + step) + off
            new_loglik = log_likelihood(y, trial)
            if new_loglik >= loglik - 1e-12 * abs(loglik):
                break
            step = step / 2.0
        coef = coef + step
        eta = trial
        converged = float(np.max(np.abs(step))) < _TOL or abs(new_loglik - loglik) < _TOL * 1e-3
        loglik = new_loglik
        if converged:
            break
    else:
        raise EngineInputError(f"null logistic regression did not converge for phenotype '{name}'")
    p = expit(eta)
    w = p * (1.0 - p)
    return NullLogistic(coef=coef, eta=eta, p=p, w=w, xtwx_inv=np.linalg.inv(x.T @ (w[:, None] * x)))
