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

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, log_ndtr

__all__ = ["spa_logp"]

F64 = NDArray[np.float64]
_MAX_ITER = 100
_TOL = 1e-10
_SETTLE = 1e-5


@dataclass(frozen=True)
class _Terms:
    """What every evaluation of K', K'' reuses: ``g_r``, its powers, ``eta`` and ``sum g_r p`` per column."""

    gr: F64
    gr2: F64
    gr3: F64
    eta: F64
    gp: F64


def _derivatives(terms: _Terms, t: F64) -> tuple[F64, F64, F64]:
    """K'(t), K''(t) and K'''(t) for every column from one ``expit`` pass.

    ``K'''(t) = sum g^3 q (1 - q) (1 - 2 q)`` needs no transcendental
    function beyond the ``q`` of K' and K'', and lets the root finder take
    Halley (third-order) steps.
    """
    q = terms.gr * t
    q += terms.eta[:, None]
    expit(q, out=q)
    k1 = np.einsum("ij,ij->j", terms.gr, q) - terms.gp
    v = 1.0 - q
    v *= q
    k2 = np.einsum("ij,ij->j", terms.gr2, v)
    q *= -2.0
    q += 1.0
    q *= v
    k3 = np.einsum("ij,ij->j", terms.gr3, q)
    return k1, k2, k3


def _cgf_k2(terms: _Terms, t: F64) -> tuple[F64, F64]:
    """K(t) and K''(t) from one ``exp`` pass.

    With ``u_i = eta_i + g_i t``, ``log(1 - p_i + p_i e^(g_i t)) = softplus(u_i) - softplus(eta_i)``
    (``softplus(u) = log(1 + e^u)``), so ``K(t) = sum softplus(u_i) - sum softplus(eta_i) - t sum g_i p_i``;
    and ``q_i (1 - q_i) = e^u_i / (1 + e^u_i)^2``.
    """
    u = terms.gr * t
    u += terms.eta[:, None]
    with np.errstate(over="ignore"):
        e = np.exp(u)
    one_e = 1.0 + e
    v = e / (one_e * one_e)
    k2: F64 = np.einsum("ij,ij->j", terms.gr2, v)
    sp = np.log(one_e, out=one_e)  # 1 + e^u is >= 1: log loses nothing that matters to the sum
    if not np.isfinite(e).all():  # e^u overflowed: softplus(u) = u there
        sp = np.where(np.isfinite(e), sp, u)
        k2 = np.einsum("ij,ij->j", terms.gr2, np.where(np.isfinite(e), v, 0.0))
    k: F64 = sp.sum(axis=0) - float(np.logaddexp(0.0, terms.eta).sum()) - t * terms.gp
    return k, k2


def _roots(terms: _Terms, target: F64, k2_0: F64) -> tuple[F64, NDArray[np.bool_]]:
    """Solve ``K'(t) = target`` per column by Halley steps kept inside a shrinking bracket.

    Starts at the Newton point from 0, ``target / K''(0)``; a Halley step
    outside the bracket falls back to Newton, then to bisection. All columns
    are evaluated at every iteration (a solved column keeps its root):
    cheaper than copying out the unsolved ones.
    """
    n_cols = terms.gr.shape[1]
    t = target / k2_0
    lo = np.full(n_cols, -np.inf)
    hi = np.full(n_cols, np.inf)
    done = np.zeros(n_cols, dtype=bool)
    for _ in range(_MAX_ITER):
        if done.all():
            break
        k1, k2, k3 = _derivatives(terms, t)
        f = k1 - target
        lo = np.where(f < 0, t, lo)
        hi = np.where(f >= 0, t, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            halley = t - 2.0 * f * k2 / (2.0 * k2 * k2 - f * k3)
            new = t - f / k2
        new = np.where((halley > lo) & (halley < hi) & np.isfinite(halley), halley, new)
        inside = (new > lo) & (new < hi) & np.isfinite(new)
        both = np.isfinite(lo) & np.isfinite(hi)
        fallback = np.where(both, 0.5 * (lo + hi), np.where(f < 0, np.abs(t) * 2 + 1, -np.abs(t) * 2 - 1))
        new = np.where(inside, new, fallback)
        solved = np.abs(f) < _TOL * np.maximum(np.abs(target), 1.0)
        # a Halley step this small lands within ~(1e-5)^3 of the root: take it without checking
        settled = inside & (np.abs(new - t) < _SETTLE * np.maximum(np.abs(t), 1e-8))
        t = np.where(done | solved, t, new)
        done |= solved | settled
    return t, done


def _tail_z(terms: _Terms, target: F64, k2_0: F64) -> tuple[F64, NDArray[np.bool_]]:
    """The Lugannani-Rice ``z`` at ``target`` for each column, and whether its root was found."""
    t, found = _roots(terms, target, k2_0)
    k, k2 = _cgf_k2(terms, t)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.sign(t) * np.sqrt(np.maximum(2.0 * (t * target - k), 0.0))
        v = t * np.sqrt(k2)
        z: F64 = w + np.log(v / w) / w
    return z, found


def spa_logp(gr: F64, p: F64, score: F64) -> tuple[F64, NDArray[np.bool_]]:
    """Natural log of the two-sided SPA p-value for each column of ``gr`` and its observed ``score``.

    ``gr`` (n_samples, n_variants) are residualized genotypes, ``p`` the null
    model's fitted probabilities. Returns the log p-values and a success mask
    (root found, finite result).
    """
    gr2 = gr * gr
    terms = _Terms(gr=gr, gr2=gr2, gr3=gr2 * gr, eta=np.log(p) - np.log1p(-p), gp=gr.T @ p)
    k2_0 = gr2.T @ (p * (1.0 - p))  # K''(0)
    z_up, found_up = _tail_z(terms, np.abs(score), k2_0)
    z_low, found_low = _tail_z(terms, -np.abs(score), k2_0)
    logp = np.minimum(np.logaddexp(log_ndtr(-z_up), log_ndtr(z_low)), 0.0)
    ok = found_up & found_low & np.isfinite(logp)
    return logp, ok
