"""Saddle-point approximation (SPA) of the score test's p-value (``--spa``), as regenie v4.1.2 computes it.

Dey et al., "A fast and accurate algorithm to test for binary phenotypes and
its application to PheWAS", Am J Hum Genet 101, 37-49 (2017); regenie docs
("Overview / Saddle point approximation (SPA) test"). Under the null model the
score ``T = g_r'(y - p)`` (``g_r`` the genotype residualized on the covariates
with the null logistic weights, ``V = g_r'W g_r``) is a sum of independent
centred Bernoulli terms; regenie works with ``T / sqrt(V)``, whose cumulant
generating function at ``t`` is ``K(t / sqrt(V))`` with::

    K(s)   = sum_i log(1 - p_i + p_i e^(g_i s)) - s sum_i g_i p_i
    K'(s)  = sum_i g_i (expit(eta_i + g_i s) - p_i),   eta_i = logit p_i
    K''(s) = sum_i g_i^2 q_i (1 - q_i),                q_i = expit(eta_i + g_i s)

What regenie does (its ``run_SPA_test_snp``, ``solve_K1_snp`` and
``get_SPA_pvalue_snp``), and this module with it:

* the test fails when the score lies outside the range of ``K'``
  (``sum_{g<0} g - sum g p``, ``sum_{g>0} g - sum g p``);
* each tail is a lower tail: ``K'(t) = -|z|`` and ``-K'(-t) = -|z|`` are
  solved by Newton steps from ``t = 0`` (bisection when a step leaves the
  bracket of the root) until ``|K'(t) - target| < eps^(1/4)`` (about 1.2e-4,
  on the standardized scale), at most 1000 steps;
* ``K''`` is 0, and the test fails, where some sample's ``-g_i t`` exceeds 708;
* each tail is ``Phi(w + log(v / w) / w)``, ``w = sign(t) sqrt(2 (t s - K(t)))``,
  ``v = t sqrt(K''(t))`` (0.5 where ``v = 0``); the test fails when the two
  tails add up to more than 1; the p-value is floored at ``10 DBL_MIN``;
* "fast SPA" for variants regenie keeps sparse: only the carriers (non-zero
  minor-allele dosage) enter ``K`` exactly; the others' share is the
  quadratic ``s^2 / 2 (V - sum_carriers w g_r^2)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from gwasflow.regenie.binary.logistic import logistic_sums, logistic_sums_of, moment_weights, pad_columns, power_moments

__all__ = ["SpaNull", "spa_logp"]

F64 = NDArray[np.float64]
_MAX_ITER = 1000  # regenie's niter_max_spa
_TOL = float(np.finfo(np.float64).eps ** 0.25)  # regenie's tol_spa
_EXP_LIMIT = 708.0  # regenie's MAX_EXP_LIM
_P_FLOOR = 10.0 * float(np.finfo(np.float64).tiny)  # regenie's nl_dbl_dmin


@dataclass(frozen=True)
class SpaNull:
    """What SPA needs of a phenotype's null model, computed once for all its variants.

    ``eta = logit p``; ``weights`` are
    :func:`~gwasflow.regenie.binary.logistic.moment_weights` of ``p`` (their power
    sums with ``g_r`` give ``sum g p`` and ``sum g^2 w``);
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
class _Cgf:
    """The CGF of both tails of every variant: columns ``[variants, variants]``, the second half with ``lambda = -1``.

    ``g`` holds ``g_r`` (zero outside the carriers for fast SPA) once, padded
    for the kernel (:func:`~gwasflow.regenie.binary.logistic.pad_columns`); the
    other fields have one entry per tail column: ``mean`` is ``sum g_r p``
    over the same samples, ``rest`` the fast-SPA quadratic coefficient (0
    otherwise), ``reach`` the largest ``|g|`` (for the overflow rule).
    """

    g: F64
    eta: F64
    sp_eta: float
    lam: F64
    scale: F64  # sqrt(V)
    mean: F64
    rest: F64
    reach: F64
    k2_zero: F64  # K''(0) of the standardized score: (sum g_r^2 w + rest) / V

    def _sums(self, s: F64, cols: NDArray[np.intp]) -> F64:
        """``logistic_sums`` of the tail columns ``cols`` at ``s``: the variants' columns of ``g``, no copy of all."""
        n_variants = self.lam.size // 2
        if cols.size == self.lam.size:  # both tails of every variant: ``g`` as it is, twice
            return np.hstack([logistic_sums(self.g, self.eta, s[:n_variants]),
                              logistic_sums(self.g, self.eta, s[n_variants:])])
        return logistic_sums_of(self.g, cols % n_variants, self.eta, s)

    def at(self, t: F64, cols: NDArray[np.intp]) -> tuple[F64, F64, F64]:
        """``K``, ``K'`` (times lambda) and ``K''`` of the standardized score at ``lambda t`` for the columns ``cols``.

        Only those columns are evaluated (one kernel pass over them): the
        solved ones drop out of the later rounds.
        """
        every = cols.size == self.lam.size
        lam, scale, mean, rest, reach = (a if every else a[cols] for a in
                                         (self.lam, self.scale, self.mean, self.rest, self.reach))
        s = lam * t / scale
        sums = self._sums(s, cols)
        with np.errstate(invalid="ignore", over="ignore"):
            k = sums[0] - self.sp_eta - s * mean + s * s / 2.0 * rest
            k1 = lam * (sums[1] - mean + s * rest) / scale
            k2 = (sums[2] + rest) / (scale * scale)
            overflow = np.abs(s) * reach > _EXP_LIMIT  # a bound first; exactly only where it is reached
        for i in np.flatnonzero(overflow).tolist():
            column = self.g[:, int(cols[i]) % (self.lam.size // 2)]
            overflow[i] = bool(np.any(-s[i] * column > _EXP_LIMIT))
        return k, k1, np.where(overflow, 0.0, k2)


def _roots(cgf: _Cgf, target: F64) -> tuple[F64, F64, F64, NDArray[np.bool_]]:
    """regenie's ``solve_K1_snp`` for every column: the root ``t``, ``K`` and ``K''`` there, and a found mask.

    At ``t = 0``, ``K = K' = 0`` and ``K''`` comes from the power sums (no
    kernel pass); each round evaluates the columns still searching.
    """
    n_cols = target.size
    low = np.where(target >= 0, 0.0, np.finfo(np.float64).min)
    high = np.where(target >= 0, np.finfo(np.float64).max, 0.0)
    t, k, f, k2 = np.zeros(n_cols), np.zeros(n_cols), -target, cgf.k2_zero.copy()
    found = np.zeros(n_cols, dtype=bool)
    failed = np.zeros(n_cols, dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for _ in range(_MAX_ITER):
            failed |= ~found & (k2 == 0.0)
            cols = np.flatnonzero(~found & ~failed)
            if cols.size == 0:
                break
            t_new = t[cols] - f[cols] / k2[cols]
            k_n, k1_n, k2_n = cgf.at(t_new, cols)
            f_new = k1_n - target[cols]
            solved = np.abs(f_new) < _TOL
            lo, hi = low[cols], high[cols]
            inside = (t_new != 0.0) & (t_new > lo) & (t_new < hi)
            moving = ~solved
            high[cols] = np.where(moving & inside & (f_new > 0), t_new, hi)
            low[cols] = np.where(moving & inside & ~(f_new > 0), t_new, lo)
            bisect = moving & ~inside
            if bisect.any():
                where = cols[bisect]
                middle = (low[where] + high[where]) / 2.0
                k_b, k1_b, k2_b = cgf.at(middle, where)
                f_b = k1_b - target[where]
                low[where] = np.where(f_b <= 0, middle, low[where])
                high[where] = np.where(~(f_b <= 0), middle, high[where])
                t_new[bisect], f_new[bisect], k_n[bisect], k2_n[bisect] = middle, f_b, k_b, k2_b
            t[cols], f[cols], k[cols], k2[cols] = t_new, f_new, k_n, k2_n
            found[cols] = solved
    return t, k, k2, found & ~failed


def _tails(cgf: _Cgf, target: F64) -> tuple[F64, NDArray[np.bool_]]:
    """regenie's ``get_SPA_pvalue_snp``: the lower-tail probability of each column, and which succeeded."""
    t, k, k2, ok = _roots(cgf, target)
    ok &= k2 != 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.sign(t) * np.sqrt(2.0 * (t * target - k))
        v = t * np.sqrt(k2)
        tail = np.where(v == 0.0, 0.5, ndtr(w + np.log(v / w) / w))
    return tail, ok


def spa_logp(gr: F64, null: SpaNull, score: F64, var: F64, *, fast: NDArray[np.bool_] | None = None,
             carriers: NDArray[np.bool_] | None = None) -> tuple[F64, NDArray[np.bool_]]:
    """Natural log of regenie's two-sided SPA p-value for each column of ``gr``, and a success mask.

    ``gr`` (n_samples, n_variants) are residualized genotypes, ``score`` and
    ``var`` the score ``T`` and its variance ``V`` per variant. ``fast``
    marks the variants regenie tests with fast SPA (its sparse ones), and
    ``carriers`` (n_samples, n_variants) their samples whose minor-allele
    dosage is not 0; the other variants are tested exactly.
    """
    n_cols = gr.shape[1]
    padded = pad_columns(gr)
    mean_full, square_sum = power_moments(padded, null.weights, n_cols)[:2]
    if fast is not None and fast.any():
        assert carriers is not None
        g = np.where(carriers | ~fast, gr, 0.0)
        padded = pad_columns(g)
        mean, square_sum = power_moments(padded, null.weights, n_cols)[:2]
        rest = np.where(fast, var - square_sum, 0.0)
    else:
        g, mean, rest = gr, mean_full, np.zeros(n_cols)
    cgf = _Cgf(g=padded, eta=null.eta, sp_eta=null.sp_eta,
               lam=np.repeat([1.0, -1.0], n_cols), scale=np.tile(np.sqrt(var), 2), mean=np.tile(mean, 2),
               rest=np.tile(rest, 2), reach=np.tile(np.abs(g).max(axis=0), 2),
               k2_zero=np.tile((square_sum + rest) / var, 2))
    z = np.abs(score) / np.sqrt(var)
    tail, tail_ok = _tails(cgf, np.tile(-z, 2))
    p = tail[:n_cols] + tail[n_cols:]
    positive = np.maximum(gr, 0.0).sum(axis=0)
    low, high = gr.sum(axis=0) - positive - mean_full, positive - mean_full
    inside = (score >= low) & (score <= high)
    ok = inside & tail_ok[:n_cols] & tail_ok[n_cols:] & ~(p > 1.0)
    with np.errstate(divide="ignore"):
        logp = np.log(np.where(np.isnan(p), _P_FLOOR, np.maximum(p, _P_FLOOR)))
    return logp, ok
