"""Saddle-point approximation (SPA) of the score test's p-value (``--spa``).

Dey et al., "A fast and accurate algorithm to test for binary phenotypes and
its application to PheWAS", Am J Hum Genet 101, 37-49 (2017); regenie docs
("Overview / Saddle point approximation (SPA) test"). Under the null model the
score ``T = g_r'(y - p)`` (``g_r`` the genotype residualized on the covariates
with the null logistic weights) is a sum of independent centred Bernoulli
terms with cumulant generating function::

    K(t)   = sum_i log(1 - p_i + p_i e^(g_i t)) - t sum_i g_i p_i
    K'(t)  = sum_i g_i (expit(eta_i + g_i t) - p_i),   eta_i = logit p_i
    K''(t) = sum_i g_i^2 q_i (1 - q_i),                q_i = expit(eta_i + g_i t)

With ``t*`` the root of ``K'(t) = q`` (safeguarded Newton), the
Lugannani-Rice / Barndorff-Nielsen tail is ``P(T > q) ~ 1 - Phi(z)``,
``z = w + log(v / w) / w``, ``w = sign(t*) sqrt(2 (t* q - K(t*)))``,
``v = t* sqrt(K''(t*))``. The two-sided p-value adds the tails at ``|T|`` and
``-|T|``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, log_ndtr

__all__ = ["spa_logp"]

F64 = NDArray[np.float64]
_MAX_ITER = 100
_TOL = 1e-10


def _derivatives(gr: F64, eta: F64, p: F64, t: F64) -> tuple[F64, F64]:
    q = expit(eta[:, None] + gr * t)
    k1 = np.einsum("ij,ij->j", gr, q - p[:, None])
    k2 = np.einsum("ij,ij->j", gr * gr, q * (1.0 - q))
    return k1, k2


def _cgf(gr: F64, eta: F64, p: F64, t: F64) -> F64:
    shifted = np.logaddexp(0.0, eta[:, None] + gr * t) - np.logaddexp(0.0, eta)[:, None]
    result: F64 = shifted.sum(axis=0) - t * (gr.T @ p)
    return result


def _roots(gr: F64, eta: F64, p: F64, target: F64) -> tuple[F64, NDArray[np.bool_]]:
    """Solve ``K'(t) = target`` per column by Newton steps kept inside a shrinking bracket."""
    n_cols = gr.shape[1]
    _, k2_0 = _derivatives(gr, eta, p, np.zeros(n_cols))
    t = target / k2_0
    lo = np.full(n_cols, -np.inf)
    hi = np.full(n_cols, np.inf)
    done = np.zeros(n_cols, dtype=bool)
    for _ in range(_MAX_ITER):
        cols = np.flatnonzero(~done)
        if cols.size == 0:
            break
        k1, k2 = _derivatives(gr[:, cols], eta, p, t[cols])
        f = k1 - target[cols]
        lo[cols] = np.where(f < 0, t[cols], lo[cols])
        hi[cols] = np.where(f >= 0, t[cols], hi[cols])
        with np.errstate(divide="ignore", invalid="ignore"):
            new = t[cols] - f / k2
        inside = (new > lo[cols]) & (new < hi[cols]) & np.isfinite(new)
        both = np.isfinite(lo[cols]) & np.isfinite(hi[cols])
        fallback = np.where(both, 0.5 * (lo[cols] + hi[cols]),
                            np.where(f < 0, np.abs(t[cols]) * 2 + 1, -np.abs(t[cols]) * 2 - 1))
        new = np.where(inside, new, fallback)
        solved = np.abs(f) < _TOL * np.maximum(np.abs(target[cols]), 1.0)
        settled = inside & (np.abs(new - t[cols]) < _TOL * np.maximum(np.abs(t[cols]), 1e-8))
        done[cols] = solved | settled
        t[cols] = np.where(solved, t[cols], new)
    return t, done


def spa_logp(gr: F64, p: F64, score: F64) -> tuple[F64, NDArray[np.bool_]]:
    """Natural log of the two-sided SPA p-value for each column of ``gr`` and its observed ``score``.

    ``gr`` (n_samples, n_variants) are residualized genotypes, ``p`` the null
    model's fitted probabilities. Returns the log p-values and a success mask
    (root found, finite result).
    """
    n_cols = gr.shape[1]
    eta = np.log(p) - np.log1p(-p)
    target = np.concatenate([np.abs(score), -np.abs(score)])
    doubled = np.concatenate([gr, gr], axis=1)
    t, found = _roots(doubled, eta, p, target)
    k = _cgf(doubled, eta, p, t)
    _, k2 = _derivatives(doubled, eta, p, t)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.sign(t) * np.sqrt(np.maximum(2.0 * (t * target - k), 0.0))
        v = t * np.sqrt(k2)
        z = w + np.log(v / w) / w
    upper = log_ndtr(-z[:n_cols])
    lower = log_ndtr(z[n_cols:])
    logp = np.minimum(np.logaddexp(upper, lower), 0.0)
    ok = found[:n_cols] & found[n_cols:] & np.isfinite(logp)
    return logp, ok
