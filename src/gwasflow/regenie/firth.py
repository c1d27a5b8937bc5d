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

Exact Firth (:mod:`gwasflow.regenie.firth_exact`, a chunk of variants at a
time) refits ``[X g]`` for each variant, with the LOCO prediction as offset.
The approximation (``--approx``) is :mod:`gwasflow.regenie.firth_approx`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

__all__ = ["FirthFit", "FirthTests", "fit_firth"]

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


@dataclass(frozen=True)
class FirthTests:
    """Firth test results, approximate or exact, for a set of variants (arrays of shape (n_variants,))."""

    beta: F64
    se: F64
    lrt: F64
    ok: NDArray[np.bool_]
