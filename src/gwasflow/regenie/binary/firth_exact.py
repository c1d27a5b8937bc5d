"""Exact Firth tests (``--firth`` without ``--approx``) for a chunk of variants at once.

The fits :func:`gwasflow.regenie.binary.firth.fit_firth` would run variant by
variant: Firth's penalized likelihood (Firth 1993)
``l*(b) = l(b) + 1/2 log |Z'WZ|`` of ``logit p = Z b + offset`` with
``Z = [X g]``, maximized by Newton steps ``(Z'WZ)^-1 U*`` with
``U* = Z'(y - p + h (1/2 - p))``, capped in size and halved while ``l*``
decreases (Heinze and Schemper, Stat Med 2002); the null keeps ``g`` in the
penalty with its effect fixed at 0, and the test is the penalized likelihood
ratio (regenie docs, "Overview / Firth logistic regression"). Every variant
of the chunk takes its own steps; the sums over the samples for all of them
(``Z_j'W_jZ_j``, the log-likelihood, the hat diagonal
``h_ij = w_ij z_ij'(Z_j'W_jZ_j)^-1 z_ij`` and the score) come from two
compiled passes over the samples (:mod:`gwasflow.regenie.kernels`),
vectorized over the variants, with no (n_samples x n_variants) temporary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gwasflow.regenie.binary.firth import MAX_ITER, MAX_STEP, TOL, FirthTests
from gwasflow.regenie.binary.logistic import pad_columns

__all__ = ["exact_firth_block"]

F64 = NDArray[np.float64]
_HALVINGS = 25


@dataclass
class _State:
    """Where the fits of some variants stand."""

    coef: F64  # (n, n_coef)
    info: F64  # (n, n_coef, n_coef): Z'WZ
    pll: F64  # (n,) penalized log-likelihood
    singular: NDArray[np.bool_]

    def take(self, keep: NDArray[np.intp]) -> _State:
        return _State(coef=self.coef[keep], info=self.info[keep], pll=self.pll[keep], singular=self.singular[keep])

    def put(self, where: NDArray[np.intp], part: _State) -> None:
        self.coef[where] = part.coef
        self.info[where] = part.info
        self.pll[where] = part.pll
        self.singular[where] = part.singular


class _Design:
    """The covariates, offset and phenotype, and the layout of the kernels' sums over covariate pairs."""

    def __init__(self, x: F64, y: F64, offset: F64):
        self.x = np.ascontiguousarray(x, dtype=np.float64)
        self.k = x.shape[1]
        self.y = np.ascontiguousarray(y, dtype=np.float64)
        self.offset = np.ascontiguousarray(offset, dtype=np.float64)
        self.pair_a, self.pair_b = np.triu_indices(self.k)  # the kernels' pair order: a <= b, row-major

    def evaluate(self, g: F64, coef: F64) -> _State:
        """``Z'WZ`` and ``l*`` of the variants ``g`` (n_samples, n; C order) at ``coef`` (n, n_coef)."""
        from gwasflow.regenie.kernels import firth_information_kernel

        k, n_pairs, n = self.k, self.pair_a.size, g.shape[1]
        g_padded = pad_columns(g)
        sums = np.empty((n_pairs + k + 2, g_padded.shape[1]))
        firth_information_kernel(g_padded, self.x, self.offset, self.y, pad_columns(coef.T), sums)
        sums = sums[:, :n]
        info = np.empty((n, k + 1, k + 1))
        info[:, self.pair_a, self.pair_b] = sums[:n_pairs].T
        info[:, self.pair_b, self.pair_a] = sums[:n_pairs].T
        info[:, :k, k] = sums[n_pairs:n_pairs + k].T
        info[:, k, :k] = sums[n_pairs:n_pairs + k].T
        info[:, k, k] = sums[n_pairs + k]
        sign, logdet = np.linalg.slogdet(info)
        singular = ~(sign > 0) | ~np.isfinite(logdet)
        pll = np.where(singular, np.nan, sums[n_pairs + k + 1] + 0.5 * np.where(singular, 0.0, logdet))
        return _State(coef=coef, info=info, pll=pll, singular=singular)

    def score(self, g: F64, state: _State, inverse: F64) -> F64:
        """Firth's penalized score ``Z'(y - p + h (1/2 - p))`` of each variant, (n, n_coef)."""
        from gwasflow.regenie.kernels import firth_score_kernel

        k = self.k
        blocks = np.vstack([inverse[:, self.pair_a, self.pair_b].T, inverse[:, :k, k].T, inverse[:, k, k][None, :]])
        g_padded = pad_columns(g)
        out = np.empty((k + 1, g_padded.shape[1]))
        firth_score_kernel(g_padded, self.x, self.offset, self.y, pad_columns(state.coef.T), pad_columns(blocks), out)
        score: F64 = out[:, :g.shape[1]].T
        return score


def _inverse(info: F64, singular: NDArray[np.bool_]) -> F64:
    """``info^-1`` per variant; the identity in place of a singular matrix (that variant is marked failed)."""
    safe = np.where(singular[:, None, None], np.eye(info.shape[1]), info)
    inverse: F64 = np.linalg.inv(safe)
    return inverse


def _halve_until_better(design: _Design, g: F64, state: _State, step: F64) -> _State:
    """``state`` moved by ``step`` (n, n_coef), halved per variant (up to 25 times) while ``l*`` would decrease."""
    trial = design.evaluate(g, state.coef + step)
    pending = np.flatnonzero(~(trial.pll >= state.pll - 1e-10 * np.abs(state.pll)))
    for _ in range(_HALVINGS - 1):
        if pending.size == 0:
            break
        step[pending] /= 2.0
        part = design.evaluate(g[:, pending], state.coef[pending] + step[pending])
        trial.put(pending, part)
        pending = pending[~(part.pll >= state.pll[pending] - 1e-10 * np.abs(state.pll[pending]))]
    return trial


def _fit(design: _Design, g: F64, start: F64, n_free: int) -> tuple[_State, NDArray[np.bool_]]:
    """Maximize ``l*`` for every variant of ``g`` (n_samples, n) from ``start`` (n, n_coef).

    Only the first ``n_free`` coefficients move; a variant whose ``Z'WZ``
    becomes singular stops and is reported as not converged.
    """
    state = design.evaluate(g, start.copy())
    converged = np.zeros(g.shape[1], dtype=bool)
    failed = state.singular.copy()
    for _ in range(MAX_ITER):
        active = np.flatnonzero(~converged & ~failed)
        if active.size == 0:
            break
        g_act = g[:, active]
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
        moved = _halve_until_better(design, g_act[:, moving], current.take(moving), step[moving])
        state.put(active[moving], moved)
        failed[active[moving]] |= moved.singular
        settled = np.max(np.abs(moved.coef - current.coef[moving]), axis=1) < TOL * 1e-2
        converged[active[moving[settled]]] = True
    return state, converged & ~failed


def exact_firth_block(x: F64, g: F64, y: F64, offset: F64, null_coef: F64) -> FirthTests:
    """Exact Firth tests of the variants ``g`` (n_samples, n_variants; mean-imputed dosages).

    ``null_coef`` (the null Firth covariate effects) starts both fits, as
    :func:`gwasflow.regenie.binary.firth.fit_firth` fits the null model. BETA is the
    variant's coefficient, SE from the unpenalized information at it, and
    the test the penalized likelihood ratio; ``ok`` is false where either fit
    did not converge or its information matrix became singular.
    """
    design = _Design(x, y, offset)
    k = x.shape[1]
    variants = np.ascontiguousarray(g, dtype=np.float64)
    start = np.zeros((variants.shape[1], k + 1))
    start[:, :k] = null_coef
    null, null_ok = _fit(design, variants, start, n_free=k)
    full, full_ok = _fit(design, variants, null.coef, n_free=k + 1)
    inverse = _inverse(full.info, full.singular)
    lrt = np.maximum(2.0 * (full.pll - null.pll), 0.0)
    return FirthTests(beta=full.coef[:, k].copy(), se=np.sqrt(inverse[:, k, k]), lrt=lrt, ok=null_ok & full_ok)
