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
from scipy.special import log_ndtr

from gwasflow.regenie.binary.logistic import logistic_sums, moment_weights, pad_columns, power_moments

__all__ = ["SpaNull", "spa_logp"]

F64 = NDArray[np.float64]
_MAX_ITER = 100
_TOL = 1e-10
_SETTLE = 1e-3


@dataclass(frozen=True)
class SpaNull:
    """What SPA needs of a phenotype's null model, computed once for all its variants.

    ``eta = logit p``; ``weights`` are
    :func:`~gwasflow.regenie.binary.logistic.moment_weights` of ``p``, whose power
    sums with ``g_r`` are ``sum g p`` and the second to fourth derivatives of
    K at 0;
    ``sp_eta = sum softplus(eta)``.
    """

    eta: F64
    weights: F64  # (n_samples, 4), C order
    sp_eta: float

    @classmethod
    def from_probabilities(cls, p: F64) -> SpaNull:
        """From the null model's fitted case probabilities."""
        eta = np.log(p) - np.log1p(-p)
        return cls(eta=eta, weights=moment_weights(p), sp_eta=float(np.logaddexp(0.0, eta).sum()))


@dataclass(frozen=True)
class _Terms:
    """What every evaluation of K', K'' reuses: ``g_r`` (kernel-padded), ``eta`` and ``sum g_r p`` per column."""

    gr: F64
    eta: F64
    gp: F64
    sp_eta: float  # sum softplus(eta)


def _expansion(terms: _Terms, t: F64) -> F64:
    """K(t) and its first four derivatives for every column, (5, n_cols), from one fused pass (numba kernel).

    With ``u_i = eta_i + g_i t`` and ``q_i = expit(u_i)``:
    ``log(1 - p_i + p_i e^(g_i t)) = softplus(u_i) - softplus(eta_i)``, so
    ``K(t) = sum softplus(u_i) - sum softplus(eta_i) - t sum g_i p_i``;
    ``K'''(t) = sum g^3 v (1 - 2q)`` and ``K''''(t) = sum g^4 v (1 - 6v)`` with
    ``v = q (1 - q)`` need no further transcendental function. The sums over
    the samples are :func:`~gwasflow.regenie.binary.logistic.logistic_sums` at
    ``u``: one ``exp`` per entry, one ``log`` per 32 rows, no
    (n_samples x n_cols) temporary.
    """
    out = logistic_sums(terms.gr, terms.eta, t)
    out[0] -= terms.sp_eta + t * terms.gp
    out[1] -= terms.gp
    return out


def _start(target: F64, k2_0: F64, k3_0: F64, k4_0: F64) -> F64:
    """A root of K's Taylor expansion at 0, ``K''(0) t + K'''(0) t^2 / 2 + K''''(0) t^3 / 6 = target``.

    From the quadratic's root, two Newton steps on the cubic; ``target / K''(0)``
    where that fails. Matrix products made the coefficients, so no sample-size
    work is done here.
    """
    disc = k2_0 * k2_0 + 2.0 * k3_0 * target
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        t: F64 = 2.0 * target / (k2_0 + np.sqrt(np.maximum(disc, 0.0)))
        for _ in range(2):
            f = t * (k2_0 + t * (k3_0 / 2.0 + t * k4_0 / 6.0)) - target
            t = t - f / (k2_0 + t * (k3_0 + t * k4_0 / 2.0))
    result: F64 = np.where((disc > 0) & np.isfinite(t) & (t * target > 0), t, target / k2_0)
    return result


def _roots(terms: _Terms, target: F64, k0: tuple[F64, F64, F64]) -> tuple[F64, F64, F64, NDArray[np.bool_]]:
    """Solve ``K'(t) = target`` per column by Halley steps kept inside a shrinking bracket.

    Starts at the root of K's quartic Taylor expansion at 0 (:func:`_start`);
    a Halley step outside the bracket falls back to Newton, then to bisection.
    All columns are evaluated at every iteration (a solved column keeps its
    root): cheaper than copying out the unsolved ones. A column whose last
    Halley step was below ``_SETTLE`` relative (its error then ~ the step
    cubed) takes that step unchecked, with ``K`` and ``K''`` at the new point
    from their Taylor expansions at the last evaluated one (errors of order
    step^5 and step^3). Returns ``t``, ``K(t)``, ``K''(t)`` and the found mask.
    """
    n_cols = target.size
    t = _start(target, *k0)
    lo = np.full(n_cols, -np.inf)
    hi = np.full(n_cols, np.inf)
    done = np.zeros(n_cols, dtype=bool)
    k_t = np.full(n_cols, np.nan)
    k2_t = np.full(n_cols, np.nan)
    for _ in range(_MAX_ITER):
        if done.all():
            break
        k, k1, k2, k3, k4 = _expansion(terms, t)
        f = k1 - target
        lo = np.where(f < 0, t, lo)
        hi = np.where(f >= 0, t, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            halley = t - 2.0 * f * k2 / (2.0 * k2 * k2 - f * k3)
            new = t - f / k2
        is_halley = (halley > lo) & (halley < hi) & np.isfinite(halley)
        new = np.where(is_halley, halley, new)
        inside = (new > lo) & (new < hi) & np.isfinite(new)
        both = np.isfinite(lo) & np.isfinite(hi)
        fallback = np.where(both, 0.5 * (lo + hi), np.where(f < 0, np.abs(t) * 2 + 1, -np.abs(t) * 2 - 1))
        new = np.where(inside, new, fallback)
        solved = np.abs(f) < _TOL * np.maximum(np.abs(target), 1.0)
        settled = inside & is_halley & (np.abs(new - t) < _SETTLE * np.maximum(np.abs(t), 1e-8))
        step = np.where(solved, 0.0, new - t)
        active = ~done & (solved | settled)
        k_t = np.where(active, k + step * (k1 + step * (k2 / 2.0 + step * (k3 / 6.0 + step * k4 / 24.0))), k_t)
        k2_t = np.where(active, k2 + step * (k3 + step * k4 / 2.0), k2_t)
        t = np.where(done | solved, t, new)
        done |= solved | settled
    return t, k_t, k2_t, done


def _tail_z(terms: _Terms, target: F64, k0: tuple[F64, F64, F64]) -> tuple[F64, NDArray[np.bool_]]:
    """The Lugannani-Rice ``z`` at ``target`` for each column, and whether its root was found."""
    t, k, k2, found = _roots(terms, target, k0)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.sign(t) * np.sqrt(np.maximum(2.0 * (t * target - k), 0.0))
        v = t * np.sqrt(k2)
        z: F64 = w + np.log(v / w) / w
    return z, found


def spa_logp(gr: F64, null: SpaNull, score: F64) -> tuple[F64, NDArray[np.bool_]]:
    """Natural log of the two-sided SPA p-value for each column of ``gr`` and its observed ``score``.

    ``gr`` (n_samples, n_variants) are residualized genotypes, ``null`` the
    phenotype's null model. Returns the log p-values and a success mask
    (root found, finite result).
    """
    n_cols = gr.shape[1]
    gr = pad_columns(gr)  # once, for every kernel call below
    # sum g p, and K''(0), K'''(0), K''''(0): weighted power sums, no transcendental function
    gp, k2_0, k3_0, k4_0 = power_moments(gr, null.weights, n_cols)
    terms = _Terms(gr=gr, eta=null.eta, gp=gp, sp_eta=null.sp_eta)
    k0 = (k2_0, k3_0, k4_0)
    z_up, found_up = _tail_z(terms, np.abs(score), k0)
    z_low, found_low = _tail_z(terms, -np.abs(score), k0)
    logp = np.minimum(np.logaddexp(log_ndtr(-z_up), log_ndtr(z_low)), 0.0)
    ok = found_up & found_low & np.isfinite(logp)
    return logp, ok
