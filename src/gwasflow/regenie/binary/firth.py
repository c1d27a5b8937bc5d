"""Firth penalized logistic regression: exact (``--firth``) and regenie's approximation (``--firth --approx``).

Firth, "Bias reduction of maximum likelihood estimates", Biometrika 80, 27-38
(1993): the log-likelihood gains the Jeffreys-prior penalty,
``l*(b) = l(b) + 1/2 log |I(b)|`` with ``I(b) = Z'W(b)Z``, ``W = diag(p(1-p))``.
Its score is ``U*(b) = Z'(y - p + h (1/2 - p))`` with ``h`` the diagonal of the
hat matrix ``W^1/2 Z (Z'WZ)^-1 Z' W^1/2``; Newton steps ``(Z'WZ)^-1 U*`` are
capped in size and halved while ``l*`` decreases (Heinze and Schemper, Stat
Med 2002, as R's ``logistf``, which regenie's FAQ says it follows).

regenie docs ("Overview / Firth logistic regression"): the p-value is from the
penalized likelihood ratio test ``LRT = 2 (l*(b_hat) - l*(b_0))``, where the
null ``b_0`` keeps the variant's column in the penalty with its effect fixed
at 0 (the profile penalized likelihood); the SE is from the Hessian of the
*unpenalized* log-likelihood at ``b_hat``, ``sqrt([(Z'WZ)^-1]_jj)``.

Exact Firth (:mod:`gwasflow.regenie.binary.firth_exact`, a chunk of variants at a
time) refits ``[X g]`` for each variant, with the LOCO prediction as offset.
The approximation (:func:`approx_firth_block`, regenie docs, ``--approx``;
Mbatchou et al. 2021, Methods) fixes the covariate
effects at those of the null Firth model fitted once per chromosome (offset
``LOCO + X b_null``) and fits the single effect of the genotype residualized
on the covariates with the null logistic weights, ``g_r = g - X (X'WX)^-1 X'W g``;
its null is ``b = 0`` with the same one-column penalty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

from gwasflow.regenie.binary.logistic import logistic_sums, moment_weights, pad_columns, power_moments

__all__ = ["FirthFit", "FirthNull", "FirthTests", "approx_firth_block", "fit_firth"]

F64 = NDArray[np.float64]
MAX_ITER = 250
MAX_STEP = 25.0  # regenie FAQ: a liberal step-size cap first
TOL = 1e-7
SETTLE = 1e-5  # a Newton step (exact slope) this small leaves an error of order its square: taken unchecked


@dataclass(frozen=True)
class FirthFit:
    """A Firth fit: coefficients, penalized log-likelihood, SEs (unpenalized Hessian), convergence."""

    coef: F64
    penalized_loglik: float
    se: F64
    converged: bool


def _penalized(z: F64, y: F64, eta: F64) -> tuple[float, F64, F64]:
    """``l*``, fitted p and weights at linear predictor ``eta``."""
    p = expit(eta)
    w = p * (1.0 - p)
    _, logdet = np.linalg.slogdet(z.T @ (w[:, None] * z))
    loglik = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
    return loglik + 0.5 * float(logdet), p, w


def fit_firth(z: F64, y: F64, offset: F64, *, start: F64 | None = None, n_free: int | None = None) -> FirthFit:
    """Maximize ``l*`` of ``logit p = z b + offset``; only the first ``n_free`` coefficients move.

    The others stay at their ``start`` values (0 by default): with the
    variant's coefficient fixed at 0 this is the null of the penalized LRT.
    """
    n_cols = z.shape[1]
    free = n_cols if n_free is None else n_free
    coef = np.zeros(n_cols) if start is None else start.astype(np.float64, copy=True)
    eta = z @ coef + offset
    pll, p, w = _penalized(z, y, eta)
    converged = False
    for _ in range(MAX_ITER):
        info = z.T @ (w[:, None] * z)
        inv = np.linalg.inv(info)
        zs = z * np.sqrt(w)[:, None]
        hat = np.einsum("ij,jk,ik->i", zs, inv, zs)
        score = z.T @ (y - p + hat * (0.5 - p))
        step = np.zeros(n_cols)
        step[:free] = np.linalg.solve(info[:free, :free], score[:free])
        largest = float(np.max(np.abs(step)))
        if largest > MAX_STEP:
            step *= MAX_STEP / largest
        if float(np.max(np.abs(score[:free]))) < TOL:
            converged = True
            break
        for _halving in range(25):
            trial_eta = z @ (coef + step) + offset
            trial_pll, trial_p, trial_w = _penalized(z, y, trial_eta)
            if trial_pll >= pll - 1e-10 * abs(pll):
                break
            step = step / 2.0
        coef = coef + step
        eta, pll, p, w = trial_eta, trial_pll, trial_p, trial_w
        if float(np.max(np.abs(step))) < TOL * 1e-2:
            converged = True
            break
    se = np.sqrt(np.diag(np.linalg.inv(z.T @ (w[:, None] * z))))
    return FirthFit(coef=coef, penalized_loglik=pll, se=se, converged=converged)


@dataclass(frozen=True)
class FirthTests:
    """Firth test results, approximate or exact, for a set of variants (arrays of shape (n_variants,))."""

    beta: F64
    se: F64
    lrt: F64
    ok: NDArray[np.bool_]


@dataclass(frozen=True)
class FirthNull:
    """What approximate Firth needs of a phenotype's null Firth model, computed once for all its variants.

    ``offset = LOCO + X b_null``; ``weights`` are
    :func:`~gwasflow.regenie.binary.logistic.moment_weights` at ``p = expit(offset)``,
    whose power sums with ``g_r`` are ``sum g p``, ``info``, ``2A`` and ``2B``
    at ``b = 0`` (``w (1/2 - p) = w (1 - 2p) / 2``,
    ``w (2 (1/2 - p)^2 - w) = w (1 - 6w) / 2``); ``loglik`` is the
    log-likelihood at ``b = 0`` and ``y_offset = y'offset``.
    """

    y: F64
    offset: F64
    weights: F64  # (n_samples, 4), C order
    loglik: float
    y_offset: float

    @classmethod
    def from_offset(cls, y: F64, offset: F64) -> FirthNull:
        """From the phenotype ``y`` (0/1) and the null Firth model's linear predictor ``offset``."""
        return cls(y=y, offset=offset, weights=moment_weights(expit(offset)),
                   loglik=float(np.sum(y * offset - np.logaddexp(0.0, offset))), y_offset=float(y @ offset))


def _firth_score_slope(gy: F64, gp: F64, info: F64, a_sum: F64, b_sum: F64) -> tuple[F64, F64]:
    """The one-parameter Firth score ``S = g'(y - p) + A / info`` and ``-dS/db``.

    With ``A = sum g^3 w (1/2 - p)``, ``dA/db = B = sum g^4 w (2 (1/2 - p)^2 - w)``
    and ``d info/db = sum g^3 w (1 - 2p) = 2A``:
    ``-dS/db = info - B / info + 2 A^2 / info^2``. Where that is not positive
    (far from the maximum) the Fisher information ``info`` replaces it.
    """
    score = gy - gp + a_sum / info
    slope = info - b_sum / info + 2.0 * (a_sum / info) ** 2
    return score, np.where(slope > 0, slope, info)


def _newton_terms(gr: F64, gy: F64, offset: F64, beta: F64) -> F64:
    """Everything one Newton step needs at ``beta``, from one fused pass over ``gr`` (numba): a (7, n_cols) array.

    Rows: the Firth score ``S``, its slope ``-dS/db``, the log-likelihood
    ``l`` without its constant ``y'offset``, the unpenalized score
    ``U = g'(y - p)``, ``info``, ``A = sum g^3 w (1/2 - p)`` and ``B``
    (:func:`_firth_score_slope`). ``l = b g'y + y'offset - sum softplus(eta)``.
    The sums over the samples are :func:`~gwasflow.regenie.binary.logistic.logistic_sums`
    (one ``exp`` per entry, one ``log`` per 32 rows, no (n_samples x n_cols)
    temporary), with ``w (1/2 - p) = w (1 - 2p) / 2`` and
    ``w (2 (1/2 - p)^2 - w) = w (1 - 6w) / 2``.
    """
    sp_sum, gp, info, k3, k4 = logistic_sums(gr, offset, beta)
    a_sum = 0.5 * k3
    b_sum = 0.5 * k4
    out = np.empty((7, beta.size))
    out[0], out[1] = _firth_score_slope(gy, gp, info, a_sum, b_sum)
    out[2] = beta * gy - sp_sum
    out[3] = gy - gp
    out[4], out[5], out[6] = info, a_sum, b_sum
    return out


def approx_firth_block(gr: F64, null: FirthNull) -> FirthTests:
    """regenie's approximate Firth for the columns of ``gr`` (n_samples, n_variants), vectorized.

    One-parameter Newton iterations on ``l*(b)`` of ``logit p = offset + g_r b``
    for all columns at once; a column whose iterations do not settle within
    :data:`MAX_ITER` is reported as failed. With ``info = sum g_r^2 w`` and
    ``h_i = w_i g_ri^2 / info`` the Firth score is
    ``S = g_r'(y - p) + sum g_ri^3 w_i (1/2 - p_i) / info``; the steps use its
    exact slope (:func:`_firth_score_slope`), so they converge quadratically,
    and a step below :data:`SETTLE` is taken without a further check. The
    start is the root of the quadratic Taylor expansion of ``S`` at 0, from
    matrix products with ``expit(offset)`` only; ``l`` and ``info`` at the
    estimate come from Taylor expansions at the last evaluated point, so no
    pass follows the last step. Once few columns are left
    they are iterated on alone.
    """
    n_variants = gr.shape[1]
    offset = null.offset
    gy = gr.T @ null.y
    gr = pad_columns(gr)  # once, for the kernel calls below
    gp0, info_null, k3_0, k4_0 = power_moments(gr, null.weights, n_variants)
    a0, b0 = 0.5 * k3_0, 0.5 * k4_0  # as in _newton_terms
    score0, slope0 = _firth_score_slope(gy, gp0, info_null, a0, b0)
    disc = slope0 * slope0 + 4.0 * a0 * score0  # S(b) ~ S(0) - slope0 b - A0 b^2 (unpenalized part of S'' = -2A)
    with np.errstate(invalid="ignore", divide="ignore"):
        beta = 2.0 * score0 / (slope0 + np.sqrt(np.maximum(disc, 0.0)))
        beta = np.where((disc > 0) & np.isfinite(beta), beta, score0 / slope0)
    beta = np.clip(np.nan_to_num(beta), -MAX_STEP, MAX_STEP)
    done = np.zeros(n_variants, dtype=bool)
    loglik_hat = np.full(n_variants, np.nan)
    info_hat = np.full(n_variants, np.nan)
    for _ in range(MAX_ITER):
        active = np.flatnonzero(~done)
        if active.size == 0:
            break
        if 4 * active.size <= n_variants:
            terms = _newton_terms(gr[:, active], gy[active], offset, beta[active])
        else:
            terms = _newton_terms(gr, gy, offset, beta)[:, active]
        score, slope, loglik, unpenalized, info, a_sum, b_sum = terms
        step = np.clip(score / slope, -MAX_STEP, MAX_STEP)
        beta[active] += step
        settled = (np.abs(score) < TOL) | (np.abs(step) < SETTLE)
        done[active] = settled
        # l and info at b + step from their Taylor expansions at b (the third derivative of l
        # is -2A, the second of info 2B): errors of order step^4 and step^3, with step < SETTLE
        taylor_l = loglik + step * (unpenalized - step * (info / 2.0 + step * a_sum / 3.0))
        taylor_info = info + step * (2.0 * a_sum + step * b_sum)
        loglik_hat[active] = np.where(settled, taylor_l, np.nan)
        info_hat[active] = np.where(settled, taylor_info, np.nan)
    ok = done & np.isfinite(beta)
    loglik_hat += null.y_offset
    lrt = 2.0 * (loglik_hat + 0.5 * np.log(info_hat) - null.loglik - 0.5 * np.log(info_null))
    return FirthTests(beta=beta, se=1.0 / np.sqrt(info_hat), lrt=np.maximum(lrt, 0.0), ok=ok)
