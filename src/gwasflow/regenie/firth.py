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

Exact Firth (:func:`exact_firth_test`) refits ``[X g]`` for each variant, with
the LOCO prediction as offset. The approximation (:func:`approx_firth_block`,
regenie docs, ``--approx``; Mbatchou et al. 2021, Methods) fixes the covariate
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

__all__ = ["ApproxFirth", "FirthFit", "approx_firth_block", "exact_firth_test", "fit_firth"]

F64 = NDArray[np.float64]
MAX_ITER = 250
MAX_STEP = 25.0  # regenie FAQ: a liberal step-size cap first
TOL = 1e-7


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


def exact_firth_test(x: F64, g: F64, y: F64, offset: F64, *,
                     null_coef: F64 | None = None) -> tuple[float, float, float, bool]:
    """Firth test of one variant ``g`` (mean-imputed dosages): BETA, SE, LRT and success.

    ``null_coef`` (the null Firth covariate effects) starts both fits.
    """
    z = np.column_stack([x, g])
    start = np.zeros(z.shape[1])
    if null_coef is not None:
        start[:-1] = null_coef
    null = fit_firth(z, y, offset, start=start, n_free=x.shape[1])
    full = fit_firth(z, y, offset, start=null.coef)
    ok = null.converged and full.converged
    lrt = max(2.0 * (full.penalized_loglik - null.penalized_loglik), 0.0)
    return float(full.coef[-1]), float(full.se[-1]), lrt, ok


@dataclass(frozen=True)
class ApproxFirth:
    """Approximate Firth results for a set of variants (arrays of shape (n_variants,))."""

    beta: F64
    se: F64
    lrt: F64
    ok: NDArray[np.bool_]


def approx_firth_block(gr: F64, y: F64, offset: F64, start: F64 | None = None) -> ApproxFirth:
    """regenie's approximate Firth for the columns of ``gr`` (n_samples, n_variants), vectorized.

    One-parameter Newton iterations on ``l*(b)`` of ``logit p = offset + g_r b``
    for all columns at once (a converged column keeps its value); a column whose
    iterations do not settle within :data:`MAX_ITER` is reported as failed.
    With ``info = sum g_r^2 w`` and ``h_i = w_i g_ri^2 / info`` the Firth score
    is ``g_r'(y - p) + sum g_ri^3 w_i (1/2 - p_i) / info``. ``start`` (the
    score test's ``T / V``, close to the penalized estimate) saves iterations
    from 0; a non-finite start is replaced by 0.
    """
    n_variants = gr.shape[1]
    gr2 = gr * gr
    gr3 = gr2 * gr
    gy = gr.T @ y
    beta = np.zeros(n_variants) if start is None else np.where(np.isfinite(start), start, 0.0)
    done = np.zeros(n_variants, dtype=bool)
    for _ in range(MAX_ITER):
        if done.all():
            break
        p = gr * beta
        p += offset[:, None]
        expit(p, out=p)
        w = p - p * p
        info = np.einsum("ij,ij->j", gr2, w)
        w *= 0.5 - p
        score = gy - np.einsum("ij,ij->j", gr, p) + np.einsum("ij,ij->j", gr3, w) / info
        step = np.where(done, 0.0, np.clip(score / info, -MAX_STEP, MAX_STEP))
        beta += step
        done |= (np.abs(score) < TOL) | (np.abs(step) < TOL * 1e-2)
    ok = done & np.isfinite(beta)
    eta = gr * beta
    eta += offset[:, None]
    with np.errstate(over="ignore"):
        e = np.exp(eta)  # one pass for both p(1 - p) = e / (1 + e)^2 and log(1 + e^eta)
    one_e = 1.0 + e
    finite = np.isfinite(e)
    w_hat = np.where(finite, e / (one_e * one_e), 0.0)
    info_hat = np.einsum("ij,ij->j", gr2, w_hat)
    softplus = np.where(finite, np.log(one_e, out=one_e), eta)
    loglik_hat = beta * gy + float(y @ offset) - softplus.sum(axis=0)
    p0 = expit(offset)
    info_null = gr2.T @ (p0 * (1.0 - p0))
    loglik_null = float(np.sum(y * offset - np.logaddexp(0.0, offset)))
    lrt = 2.0 * (loglik_hat + 0.5 * np.log(info_hat) - loglik_null - 0.5 * np.log(info_null))
    return ApproxFirth(beta=beta, se=1.0 / np.sqrt(info_hat), lrt=np.maximum(lrt, 0.0), ok=ok)
