"""Exact Firth tests (``--firth`` without ``--approx``), with regenie v4.1.2's own fitting rules.

Firth's penalized likelihood (Firth 1993) of ``logit p = Z b + offset``,
``Z = [X g]``; regenie reports the deviance ``D = -2 l - log |I|`` and the test
``LRT = D(null) - D(fit)``, where the null keeps ``g`` in the penalty with its
effect at 0 (regenie docs, "Overview / Firth logistic regression"). What
regenie's source does (``fit_firth_logistic_snp`` with the multi-parameter
``fit_firth_pseudo`` and ``fit_firth_nr``), and this module with it, a chunk
of variants at a time:

* the null fit starts from the null Firth covariate effects (fitted from 0)
  and the full fit from the null fit's estimate; both are pseudo-data
  iterations (brglm's strategy): the response ``y + h (1/2 - p)`` is fixed
  per outer iteration and up to 25 unpenalized IRLS steps follow, stopped when
  every score is below the tolerance (1e-5 for the null, 2.5e-4 for the
  full fit); the outer loop stops on the penalized score from the second
  iteration on (at most 500 and 125 iterations) and fails early as regenie's
  does (an estimate beyond 1e13 or 1e12, a largest score not decreasing 4
  times in a row); a failed fit is retried by Newton-Raphson with step
  halving;
* the information matrix of the penalty, the hat values and the SE
  (``sqrt([I^-1]_gg)`` at the estimate) give weight 1 to the samples analysed
  for other traits but missing this one (``masked`` rows of ``X`` and ``g``),
  as regenie's ``get_wvec`` for Firth does; the IRLS steps do not.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gwasflow.regenie.binary.firth import FirthTests

__all__ = ["exact_firth_block"]

F64 = NDArray[np.float64]
_NULL_TOL = 1e-5  # 10 x regenie's numtol
_TOL = 2.5e-4  # regenie's numtol_firth
_NULL_ITER = 500  # half of regenie's niter_max_firth_null
_FULL_ITER = 125  # half of niter_max_firth
_INNER = 25
_HALVINGS = 25
_ETA_LIMIT = 30.0  # regenie's ETAMAXTHR: beyond it p is 1 / (1 + eps) or eps / (1 + eps)
_EPS = 10.0 * float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class _Problem:
    """A chunk of variants: covariates ``x``, genotypes ``g`` (n, m), and the masked samples' rows."""

    x: F64
    g: F64
    y: F64
    offset: F64
    masked_info: F64  # (m, k+1, k+1): [X_m g_m]'[X_m g_m]

    def take(self, cols: NDArray[np.intp]) -> _Problem:
        return _Problem(x=self.x, g=self.g[:, cols], y=self.y, offset=self.offset,
                        masked_info=self.masked_info[cols])


@dataclass
class _Point:
    """Everything at one coefficient vector per variant."""

    coef: F64  # (m, k+1)
    p: F64  # (n, m)
    deviance: F64  # (m,) -2 l - log |I_aug|
    info: F64  # (m, k+1, k+1) Z'WZ over the trait's samples
    augmented: F64  # (m, k+1, k+1) Z'WZ plus the masked samples' rows with weight 1
    inverse: F64  # (m, k+1, k+1) of the augmented information
    hat_term: F64  # (n, m) h (1/2 - p)


def _evaluate(prob: _Problem, coef: F64) -> _Point:
    k = prob.x.shape[1]
    eta = prob.x @ coef[:, :k].T + prob.g * coef[:, k] + prob.offset[:, None]
    with np.errstate(over="ignore"):
        p = np.where(eta > _ETA_LIMIT, 1.0 / (1.0 + _EPS),
                     np.where(eta < -_ETA_LIMIT, _EPS / (1.0 + _EPS), 1.0 - 1.0 / (np.exp(eta) + 1.0)))
    w = p * (1.0 - p)
    m = coef.shape[0]
    info = np.empty((m, k + 1, k + 1))
    info[:, :k, :k] = np.einsum("ni,nm,nj->mij", prob.x, w, prob.x, optimize=True)
    info[:, :k, k] = info[:, k, :k] = (w * prob.g).T @ prob.x
    info[:, k, k] = np.sum(w * prob.g * prob.g, axis=0)
    augmented = info + prob.masked_info
    sign, logdet = np.linalg.slogdet(augmented)
    singular = ~(sign > 0)
    inverse = np.linalg.inv(np.where(singular[:, None, None], np.eye(k + 1), augmented))
    inverse[singular] = np.nan
    quad = (np.einsum("ni,mij,nj->nm", prob.x, inverse[:, :k, :k], prob.x, optimize=True)
            + 2.0 * prob.g * (prob.x @ inverse[:, :k, k].T) + prob.g * prob.g * inverse[:, k, k])
    loglik = np.sum(np.log(np.where(prob.y[:, None] == 0.0, 1.0 - p, p)), axis=0)  # one log per entry
    return _Point(coef=coef, p=p, deviance=-2.0 * loglik - np.where(singular, np.nan, logdet), info=info,
                  augmented=augmented, inverse=inverse, hat_term=w * quad * (0.5 - p))


def _scores(prob: _Problem, residual: F64, n_free: int) -> F64:
    """``Z'residual`` per variant (``residual`` is (n, m)), its first ``n_free`` entries: (m, n_free)."""
    if n_free <= prob.x.shape[1]:
        covariate_part: F64 = (residual.T @ prob.x)[:, :n_free]
        return covariate_part
    return np.column_stack([residual.T @ prob.x, np.sum(prob.g * residual, axis=0)])


def _solve(a: F64, b: F64) -> F64:
    """``a^-1 b`` per variant (``a`` (m, c, c), ``b`` (m, c)); NaN for a singular ``a`` (that variant then fails)."""
    try:
        result = np.asarray(np.linalg.solve(a, b[:, :, None])[:, :, 0], dtype=np.float64)
        return result
    except np.linalg.LinAlgError:
        out = np.full(b.shape, np.nan)
        for j in range(a.shape[0]):
            with contextlib.suppress(np.linalg.LinAlgError):
                out[j] = np.linalg.solve(a[j], b[j])
        return out


def _irls_step(point: _Point, prob: _Problem, ystar_minus_p: F64, n_free: int) -> F64:
    """The unpenalized IRLS step of the free coefficients towards the pseudo-response: (m, k+1)."""
    step = np.zeros_like(point.coef)
    rhs = _scores(prob, ystar_minus_p, n_free)
    step[:, :n_free] = _solve(point.info[:, :n_free, :n_free], rhs)
    return step


@dataclass
class _Fit:
    point: _Point
    first_deviance: F64
    ok: NDArray[np.bool_]


def _pseudo(prob: _Problem, start: F64, n_free: int, tol: float, max_iter: int) -> _Fit:
    """regenie's multi-parameter ``fit_firth_pseudo`` for every variant of ``prob`` at once."""
    m = start.shape[0]
    point = _evaluate(prob, start.copy())
    first = point.deviance.copy()
    running, ok = np.ones(m, dtype=bool), np.zeros(m, dtype=bool)
    best, unchanged = np.full(m, 1e16), np.zeros(m, dtype=np.int64)
    for outer in range(1, max_iter + 1):
        score = _scores(prob, prob.y[:, None] - point.p + point.hat_term, n_free)
        largest = np.max(np.abs(score), axis=1)
        done = running & (largest < tol) & (outer >= 2)
        ok |= done
        running &= ~done
        beta0, biggest = np.abs(point.coef[:, 0]), np.max(np.abs(point.coef), axis=1)
        late = (outer > 50) & ((largest > 1000) | (biggest > 1e12))
        early = ((outer > 2) & (beta0 > 1e13)) | (unchanged > 3) | late
        running &= ~early & np.isfinite(largest)
        if not running.any():
            break
        ystar = prob.y[:, None] + point.hat_term
        inner_point, inner_running = point, running.copy()
        for _ in range(_INNER):
            step = _irls_step(inner_point, prob, ystar - inner_point.p, n_free)
            new = _evaluate(prob, np.where(inner_running[:, None], inner_point.coef + step, inner_point.coef))
            small = np.max(np.abs(_scores(prob, ystar - new.p, n_free)), axis=1) < tol
            inner_point = _merge(inner_point, new, inner_running)
            inner_running &= ~small
            if not inner_running.any():
                break
        point = _merge(point, inner_point, running)
        improved = largest < best
        best = np.where(running & improved, largest, best)
        unchanged = np.where(running, np.where(improved, 0, unchanged + 1), unchanged)
    return _Fit(point=point, first_deviance=first, ok=ok)


def _merge(old: _Point, new: _Point, where: NDArray[np.bool_]) -> _Point:
    """``new`` for the variants in ``where``, ``old`` for the others."""
    cols = where[None, :]
    return _Point(coef=np.where(where[:, None], new.coef, old.coef), p=np.where(cols, new.p, old.p),
                  deviance=np.where(where, new.deviance, old.deviance),
                  info=np.where(where[:, None, None], new.info, old.info),
                  augmented=np.where(where[:, None, None], new.augmented, old.augmented),
                  inverse=np.where(where[:, None, None], new.inverse, old.inverse),
                  hat_term=np.where(cols, new.hat_term, old.hat_term))


def _newton(prob: _Problem, start: F64, n_free: int, tol: float, max_iter: int, max_step: float,
            full: bool) -> _Fit:
    """regenie's ``fit_firth_nr`` for one variant (``prob`` of one column)."""
    point = _evaluate(prob, start.copy())
    first = point.deviance.copy()
    best, increases = 1e16, 0
    for iteration in range(1, max_iter + 1):
        score = _scores(prob, prob.y[:, None] - point.p + point.hat_term, n_free)
        largest = float(np.max(np.abs(score)))
        if not np.isfinite(largest):
            break
        if largest < tol and iteration >= 2:
            return _Fit(point=point, first_deviance=first, ok=np.array([True]))
        increases = increases + 1 if largest > best else 0
        if not full and increases > 25:
            break
        step = np.zeros_like(point.coef)
        step[:, :n_free] = _solve(point.augmented[:, :n_free, :n_free], score)
        ratio = float(np.max(np.abs(step))) / max_step
        if ratio > 1.0:
            step /= ratio
        for halving in range(_HALVINGS):
            if halving:
                step /= 2.0
            trial = _evaluate(prob, point.coef + step)
            if trial.deviance[0] < point.deviance[0]:
                break
        else:
            if not full:
                break
            step[0, 0] += 1e-6
            trial = _evaluate(prob, point.coef + step)
        point = trial
        best = largest
    return _Fit(point=point, first_deviance=first, ok=np.array([False]))


def _fit(prob: _Problem, start: F64, n_free: int, *, null: bool) -> _Fit:
    """Pseudo-data iterations, and Newton-Raphson for the variants where they fail (as regenie retries)."""
    tol, iterations = (_NULL_TOL, _NULL_ITER) if null else (_TOL, _FULL_ITER)
    fit = _pseudo(prob, start, n_free, tol, iterations)
    lrt_ok = np.ones(start.shape[0], dtype=bool) if null else fit.first_deviance - fit.point.deviance >= 0
    for j in np.flatnonzero(~(fit.ok & lrt_ok)).tolist():
        one = prob.take(np.array([j]))
        retry_start = fit.point.coef[[j]] if null and abs(fit.point.coef[j, 0]) <= 1e12 else start[[j]]
        again = _newton(one, retry_start, n_free, tol, iterations, 25.0 if null else 5.0, full=not null)
        fit.point = _merge(fit.point, _spread(again.point, j, start.shape[0]), np.arange(start.shape[0]) == j)
        fit.first_deviance[j] = again.first_deviance[0]
        fit.ok[j] = again.ok[0]
    return fit


def _spread(point: _Point, j: int, m: int) -> _Point:
    """A one-variant point as column ``j`` of ``m`` (other columns copies, replaced by :func:`_merge`)."""
    def tile(a: F64, axis: int) -> F64:
        return np.repeat(a, m, axis=axis)

    return _Point(coef=tile(point.coef, 0), p=tile(point.p, 1), deviance=tile(point.deviance, 0),
                  info=tile(point.info, 0), augmented=tile(point.augmented, 0), inverse=tile(point.inverse, 0),
                  hat_term=tile(point.hat_term, 1))


def exact_firth_block(x: F64, g: F64, y: F64, offset: F64, null_coef: F64, *,
                      masked_x: F64 | None = None, masked_g: F64 | None = None) -> FirthTests:
    """Exact Firth tests of the variants ``g`` (n_samples, n_variants; mean-imputed dosages).

    ``null_coef`` are the null Firth covariate effects; ``masked_x`` and
    ``masked_g`` the covariates and genotypes of the samples analysed for
    other traits but missing this one. BETA is the variant's coefficient, SE
    from the information at it, the test the penalized LRT; ``ok`` is false
    where regenie reports ``TEST_FAIL``.
    """
    k, m = x.shape[1], g.shape[1]
    mx = np.zeros((0, k)) if masked_x is None else masked_x
    mg = np.zeros((0, m)) if masked_g is None else masked_g
    masked_info = np.empty((m, k + 1, k + 1))
    masked_info[:, :k, :k] = mx.T @ mx
    masked_info[:, :k, k] = masked_info[:, k, :k] = mg.T @ mx
    masked_info[:, k, k] = np.sum(mg * mg, axis=0)
    prob = _Problem(x=x, g=np.asarray(g, dtype=np.float64), y=y, offset=offset, masked_info=masked_info)
    start = np.zeros((m, k + 1))
    start[:, :k] = null_coef
    null = _fit(prob, start, k, null=True)
    full = _fit(prob, null.point.coef, k + 1, null=False)
    lrt = full.first_deviance - full.point.deviance
    return FirthTests(beta=full.point.coef[:, k].copy(), se=np.sqrt(full.point.inverse[:, k, k]), lrt=lrt,
                      ok=null.ok & full.ok & (lrt >= 0) & np.isfinite(full.point.coef[:, k]))
