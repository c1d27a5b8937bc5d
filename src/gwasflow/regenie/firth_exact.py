"""Exact Firth tests (``--firth`` without ``--approx``) for a chunk of variants at once.

The same fits as :func:`gwasflow.regenie.firth.fit_firth` run variant by
variant: Firth's penalized likelihood (Firth 1993)
``l*(b) = l(b) + 1/2 log |Z'WZ|`` of ``logit p = Z b + offset`` with
``Z = [X g]``, maximized by Newton steps ``(Z'WZ)^-1 U*`` with
``U* = Z'(y - p + h (1/2 - p))``, capped in size and halved while ``l*``
decreases (Heinze and Schemper, Stat Med 2002); the null keeps ``g`` in the
penalty with its effect fixed at 0, and the test is the penalized likelihood
ratio (regenie docs, "Overview / Firth logistic regression"). Here every
variant of the chunk takes its own steps, but the sums over the samples are
matrix products over the whole chunk:

* ``X'W_jX`` for all variants j is ``(X (x) X)' W`` with ``X (x) X`` the
  (n_samples x k^2) row-wise products of the covariates, one product with the
  (n_samples x n_variants) weights;
* the hat diagonal ``h_ij = w_ij z_ij' (Z_j'W_jZ_j)^-1 z_ij`` is
  ``w_ij (x_i'A_j x_i + 2 g_ij x_i'a_j + g_ij^2 c_j)`` with ``A_j``, ``a_j``
  and ``c_j`` the blocks of the inverse: again products with ``X (x) X`` and
  ``X``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

from gwasflow.regenie.firth import MAX_ITER, MAX_STEP, TOL

__all__ = ["ExactFirth", "exact_firth_block"]

F64 = NDArray[np.float64]
_HALVINGS = 25


@dataclass(frozen=True)
class ExactFirth:
    """Exact Firth results for a chunk of variants (arrays of shape (n_variants,))."""

    beta: F64
    se: F64
    lrt: F64
    ok: NDArray[np.bool_]


@dataclass
class _State:
    """Where the fits of some variants stand; arrays over samples are variant-major, (n, n_samples)."""

    coef: F64  # (n, n_coef)
    p: F64  # fitted probabilities
    w: F64  # p (1 - p)
    info: F64  # (n, n_coef, n_coef): Z'WZ
    pll: F64  # (n,) penalized log-likelihood
    singular: NDArray[np.bool_]

    def take(self, keep: NDArray[np.intp]) -> _State:
        return _State(coef=self.coef[keep], p=self.p[keep], w=self.w[keep], info=self.info[keep],
                      pll=self.pll[keep], singular=self.singular[keep])

    def put(self, where: NDArray[np.intp], part: _State) -> None:
        self.coef[where] = part.coef
        self.p[where] = part.p
        self.w[where] = part.w
        self.info[where] = part.info
        self.pll[where] = part.pll
        self.singular[where] = part.singular


class _Design:
    """The covariates, their row-wise products and the phenotype: what every evaluation reuses."""

    def __init__(self, x: F64, y: F64, offset: F64):
        self.x = x
        self.k = x.shape[1]
        self.xx = (x[:, :, None] * x[:, None, :]).reshape(x.shape[0], self.k * self.k)
        self.y = y
        self.offset = offset

    def evaluate(self, g: F64, coef: F64) -> _State:
        """Fitted probabilities, ``Z'WZ`` and ``l*`` of the variants ``g`` (n, n_samples) at ``coef`` (n, n_coef)."""
        k, n = self.k, g.shape[0]
        eta = coef[:, :k] @ self.x.T
        eta += coef[:, k:] * g
        eta += self.offset
        p = expit(eta)
        w = p * (1.0 - p)
        info = np.empty((n, k + 1, k + 1))
        info[:, :k, :k] = (w @ self.xx).reshape(n, k, k)
        wg = w * g
        xwg = wg @ self.x
        info[:, :k, k] = xwg
        info[:, k, :k] = xwg
        info[:, k, k] = np.einsum("ji,ji->j", wg, g)
        sign, logdet = np.linalg.slogdet(info)
        loglik = eta @ self.y - np.logaddexp(0.0, eta).sum(axis=1)
        singular = ~(sign > 0) | ~np.isfinite(logdet)
        pll = np.where(singular, np.nan, loglik + 0.5 * np.where(singular, 0.0, logdet))
        return _State(coef=coef, p=p, w=w, info=info, pll=pll, singular=singular)

    def score(self, g: F64, state: _State, inverse: F64) -> F64:
        """Firth's penalized score ``Z'(y - p + h (1/2 - p))`` of each variant, (n, n_coef)."""
        k = self.k
        quad = inverse[:, :k, :k].reshape(-1, k * k) @ self.xx.T
        quad += 2.0 * g * (inverse[:, :k, k] @ self.x.T) + g * g * inverse[:, k, k:]
        resid = self.y - state.p + state.w * quad * (0.5 - state.p)
        return np.hstack([resid @ self.x, np.einsum("ji,ji->j", g, resid)[:, None]])


def _inverse(info: F64, singular: NDArray[np.bool_]) -> F64:
    """``info^-1`` per variant; the identity in place of a singular matrix (that variant is marked failed)."""
    safe = np.where(singular[:, None, None], np.eye(info.shape[1]), info)
    inverse: F64 = np.linalg.inv(safe)
    return inverse


def _halve_until_better(design: _Design, g: F64, state: _State, step: F64) -> _State:
    """``state`` moved by ``step``, halved per variant (up to 25 times) while ``l*`` would decrease."""
    trial = design.evaluate(g, state.coef + step)
    pending = np.flatnonzero(~(trial.pll >= state.pll - 1e-10 * np.abs(state.pll)))
    for _ in range(_HALVINGS - 1):
        if pending.size == 0:
            break
        step[pending] /= 2.0
        part = design.evaluate(g[pending], state.coef[pending] + step[pending])
        trial.put(pending, part)
        pending = pending[~(part.pll >= state.pll[pending] - 1e-10 * np.abs(state.pll[pending]))]
    return trial


def _fit(design: _Design, g: F64, start: F64, n_free: int) -> tuple[_State, NDArray[np.bool_]]:
    """Maximize ``l*`` for every variant from ``start`` (n, n_coef); only the first ``n_free`` coefficients move."""
    state = design.evaluate(g, start.copy())
    converged = np.zeros(g.shape[0], dtype=bool)
    failed = state.singular.copy()
    for _ in range(MAX_ITER):
        active = np.flatnonzero(~converged & ~failed)
        if active.size == 0:
            break
        g_act = g[active]
        current = state.take(active)
        score = design.score(g_act, current, _inverse(current.info, current.singular))
        step = np.zeros_like(current.coef)
        step[:, :n_free] = np.linalg.solve(current.info[:, :n_free, :n_free], score[:, :n_free, None])[:, :, 0]
        largest = np.max(np.abs(step), axis=1, keepdims=True)
        step *= np.where(largest > MAX_STEP, MAX_STEP / np.maximum(largest, MAX_STEP), 1.0)
        done = np.max(np.abs(score[:, :n_free]), axis=1) < TOL
        converged[active[done]] = True
        moving = np.flatnonzero(~done)
        if moving.size == 0:
            continue
        moved = _halve_until_better(design, g_act[moving], current.take(moving), step[moving])
        state.put(active[moving], moved)
        failed[active[moving]] |= moved.singular
        settled = np.max(np.abs(moved.coef - current.coef[moving]), axis=1) < TOL * 1e-2
        converged[active[moving[settled]]] = True
    return state, converged & ~failed


def exact_firth_block(x: F64, g: F64, y: F64, offset: F64, null_coef: F64) -> ExactFirth:
    """Exact Firth tests of the variants ``g`` (n_samples, n_variants; mean-imputed dosages).

    ``null_coef`` (the null Firth covariate effects) starts both fits, as
    :func:`gwasflow.regenie.firth.fit_firth` fits the null model. BETA is the
    variant's coefficient, SE from the unpenalized information at it, and
    the test the penalized likelihood ratio; ``ok`` is false where either fit
    did not converge or its information matrix became singular.
    """
    design = _Design(x, y, offset)
    k = x.shape[1]
    variants = np.ascontiguousarray(g.T)  # variant-major: a subset of variants is a block of rows
    start = np.zeros((variants.shape[0], k + 1))
    start[:, :k] = null_coef
    null, null_ok = _fit(design, variants, start, n_free=k)
    full, full_ok = _fit(design, variants, null.coef, n_free=k + 1)
    inverse = _inverse(full.info, full.singular)
    lrt = np.maximum(2.0 * (full.pll - null.pll), 0.0)
    return ExactFirth(beta=full.coef[:, k].copy(), se=np.sqrt(inverse[:, k, k]), lrt=lrt, ok=null_ok & full_ok)
