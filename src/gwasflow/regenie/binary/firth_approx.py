"""regenie's approximate Firth test (``--firth --approx``), with regenie v4.1.2's own fitting rules.

Firth, Biometrika 80 (1993): the log-likelihood gains the Jeffreys-prior
penalty ``1/2 log |I(b)|``; regenie reports the deviance ``D = -2 l - log |I|``
and the test ``LRT = D(null) - D(fit)`` (regenie docs, "Overview / Firth
logistic regression"; Mbatchou et al. 2021, Methods). The approximation fixes
the covariate effects at those of the null Firth model fitted once per
phenotype and chromosome (offset ``LOCO + X b_null``) and fits the single
effect of the genotype residualized on the covariates with the null logistic
weights, ``g_r``. What regenie's source does (``fit_approx_firth_null``,
``fit_firth_nr``, ``fit_firth_logistic_snp_fast``, the one-parameter
``fit_firth_pseudo`` and ``fit_firth``), and this module with it:

* the null model: Newton-Raphson on the penalized likelihood from the null
  logistic coefficients, steps capped at 25 and halved until the deviance
  decreases (25 halvings, else failure), stopped when every penalized score
  is below 5e-5 from the second iteration on, failed after 25 increases of
  the largest score in a row or 1000 iterations. Its information matrix
  gives weight 1 to the samples analysed for other traits but missing this
  one (regenie's ``get_wvec`` for Firth), ``covariates_masked`` here;
* each variant: the pseudo-data iterations (brglm's strategy) from ``b = 0``,
  the response ``y + h (1/2 - p)`` fixed per outer iteration, inner
  unpenalized steps ``score / info`` capped at 5 (failure when a step grows),
  at most 25 of them, stopped when the score is below 2.5e-4; at most 50
  outer iterations (125 for fast Firth), failure when ``b`` moved more than
  0.1 between the 14th and 15th; if that fails or the LRT is negative,
  Newton-Raphson with step halving from 0 (125 iterations);
* fast Firth: for a variant regenie keeps sparse with a minor allele count
  below 50, only the carriers (minor-allele dosage above 1e-4) are in the
  fit, the others' ``g_r`` taken as 0;
* SE is ``1 / sqrt(info)`` at the estimate (regenie without ``--firth-se``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

from gwasflow.regenie.binary.firth import FirthTests
from gwasflow.regenie.binary.logistic import logistic_sums, logistic_sums_of, pad_columns

__all__ = ["FirthNull", "approx_firth_block", "fit_null_firth"]

F64 = NDArray[np.float64]
_NULL_TOL = 5e-5  # 50 x regenie's numtol
_NULL_MAX_STEP = 25.0
_NULL_MAX_ITER = 1000
_HALVINGS = 25
_TOL = 2.5e-4  # regenie's numtol_firth
_MAX_STEP = 5.0
_MAX_ITER = 250  # regenie's niter_max_firth; pseudo-data fits get min(half, 50), or half for fast Firth
_INNER = 25
_FAST_MAC = 50.0
_CARRIER = 1e-4


def _deviance(z: F64, y: F64, offset: F64, coef: F64, z_masked: F64) -> tuple[float, F64, F64]:
    """Penalized deviance ``-2 l - log |I|``, fitted ``p`` and ``I = Z'WZ + Z_m'Z_m`` at ``coef``."""
    eta = z @ coef + offset
    p = expit(eta)
    info = z.T @ ((p * (1.0 - p))[:, None] * z) + z_masked.T @ z_masked
    _, logdet = np.linalg.slogdet(info)
    return -2.0 * float(np.sum(y * eta - np.logaddexp(0.0, eta))) - float(logdet), p, info


def fit_null_firth(x: F64, y: F64, offset: F64, start: F64, covariates_masked: F64 | None = None) -> F64 | None:
    """The null Firth covariate effects by regenie's rules (module docstring), or None where regenie fails."""
    masked = np.zeros((0, x.shape[1])) if covariates_masked is None else covariates_masked
    coef = start.astype(np.float64, copy=True)
    largest_before, increases = 1e16, 0
    for iteration in range(1, _NULL_MAX_ITER + 1):
        dev, p, info = _deviance(x, y, offset, coef, masked)
        inverse = np.linalg.inv(info)
        w = p * (1.0 - p)
        hat = w * np.einsum("ij,jk,ik->i", x, inverse, x)
        score = x.T @ (y - p + hat * (0.5 - p))
        largest = float(np.max(np.abs(score)))
        if largest < _NULL_TOL and iteration >= 2:
            return coef
        increases = increases + 1 if largest > largest_before else 0
        if increases > 25:
            return None
        step = np.linalg.solve(info, score)
        biggest = float(np.max(np.abs(step))) / _NULL_MAX_STEP
        if biggest > 1.0:
            step = step / biggest
        for halving in range(_HALVINGS):
            if halving:
                step = step / 2.0
            if _deviance(x, y, offset, coef + step, masked)[0] < dev:
                break
        else:
            return None
        coef = coef + step
        largest_before = largest
    return None


@dataclass(frozen=True)
class FirthNull:
    """What approximate Firth needs of a phenotype's null Firth model: ``y`` and the offset ``LOCO + X b_null``."""

    y: F64
    offset: F64


@dataclass
class _Sums:
    """``logistic_sums`` at each column's ``b``: ``sum softplus(u)``, ``sum g q``, ``info``, ``sum g^3 v (1 - 2q)``."""

    softplus: F64
    gq: F64
    info: F64
    cube: F64

    @classmethod
    def at(cls, g: F64, offset: F64, beta: F64, running: NDArray[np.bool_] | None = None) -> _Sums:
        """At ``beta`` for every column, or only the ``running`` ones (the others are 0)."""
        if running is None or running.all():
            sums = logistic_sums(g, offset, beta)
        else:
            cols = np.flatnonzero(running)
            sums = np.zeros((5, beta.size))
            sums[:, cols] = logistic_sums_of(g, cols, offset, beta[cols])
        return cls(softplus=sums[0], gq=sums[1], info=sums[2], cube=sums[3])

    def deviance(self, beta: F64, gy: F64) -> F64:
        """Penalized deviance without the constant ``-2 y'offset``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            result: F64 = -2.0 * (beta * gy - self.softplus) - np.log(self.info)
        return result

    def correction(self) -> F64:
        """``sum g h (1/2 - p) = sum g^3 w (1/2 - p) / info``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            result: F64 = 0.5 * self.cube / self.info
        return result

    def update(self, other: _Sums, where: NDArray[np.bool_]) -> None:
        for name in ("softplus", "gq", "info", "cube"):
            setattr(self, name, np.where(where, getattr(other, name), getattr(self, name)))


def _pseudo(g: F64, gy: F64, offset: F64, max_outer: NDArray[np.int64], start: _Sums,
            ) -> tuple[F64, _Sums, NDArray[np.bool_]]:
    """regenie's one-parameter ``fit_firth_pseudo`` for every column of ``g`` (padded) at once, from ``b = 0``.

    Each round takes one inner step of every running column (one kernel
    pass); a column whose inner loop ended goes through the outer
    iteration's checks first. Returns ``b``, the sums there and the
    converged mask.
    """
    n = gy.size
    beta, sums = np.zeros(n), start
    outer, inner = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    running, converged, at_top = np.ones(n, dtype=bool), np.zeros(n, dtype=bool), np.ones(n, dtype=bool)
    target, score, info, previous, beta14 = (np.zeros(n) for _ in range(5))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        while running.any():
            top = running & at_top
            outer = np.where(top, outer + 1, outer)
            outer_score = gy - sums.gq + sums.correction()
            done = top & (np.abs(outer_score) < _TOL) & (outer >= 2) & (outer <= max_outer)
            beta14 = np.where(top & (outer == 14), beta, beta14)
            failed = top & ((outer > max_outer) | ((outer == 15) & (np.abs(beta - beta14) > 0.1))) & ~done
            converged |= done
            running &= ~(done | failed)
            start_inner = top & running
            target = np.where(start_inner, gy + sums.correction(), target)
            score = np.where(start_inner, outer_score, score)
            info = np.where(start_inner, sums.info, info)
            previous = np.where(start_inner, np.inf, previous)
            inner = np.where(start_inner, 0, inner)
            at_top &= ~top
            if not running.any():
                break
            inner = np.where(running, inner + 1, inner)
            step = score / info
            grew = running & (np.abs(step) > previous)
            running &= ~grew
            capped = np.where(np.abs(step) > _MAX_STEP, step / (np.abs(step) / _MAX_STEP), step)
            beta_new = np.where(running, beta + capped, beta)
            new = _Sums.at(g, offset, beta_new, running)
            score = np.where(running, target - new.gq, score)
            small = np.abs(score) < _TOL
            info = np.where(running & ~small, new.info, info)
            previous = np.where(running & ~small, np.abs(step), previous)
            sums.update(new, running)
            beta = beta_new
            at_top |= running & (small | (inner >= _INNER))
    return beta, sums, converged


def _newton(g: F64, gy: float, offset: F64) -> tuple[float, _Sums, float, bool]:
    """regenie's one-parameter ``fit_firth`` (Newton-Raphson with step halving, 125 iterations) of one column.

    Returns ``b``, the sums and the deviance at the last point evaluated
    (where ``b`` is, unless the last halvings all failed: regenie then moves
    ``b`` by the last step plus 1e-6) and whether it converged.
    """
    beta = np.zeros(1)
    sums = _Sums.at(g, offset, beta)
    dev_old = sums.deviance(beta, np.array([gy]))
    for iteration in range(1, _MAX_ITER // 2 + 1):
        score = gy - sums.gq + sums.correction()
        if abs(float(score[0])) < _TOL and iteration >= 2:
            return float(beta[0]), sums, float(dev_old[0]), True
        step = score / sums.info
        if abs(float(step[0])) > _MAX_STEP:
            step = step / (abs(float(step[0])) / _MAX_STEP)
        for halving in range(_HALVINGS):
            if halving:
                step = step / 2.0
            sums = _Sums.at(g, offset, beta + step)
            dev_new = sums.deviance(beta + step, np.array([gy]))
            if dev_new[0] < dev_old[0]:
                break
        else:
            step = step + 1e-6
        beta = beta + step
        dev_old = dev_new
    return float(beta[0]), sums, float(dev_old[0]), False


def approx_firth_block(gr: F64, null: FirthNull, *, fast: NDArray[np.bool_] | None = None,
                       minor: F64 | None = None) -> FirthTests:
    """regenie's approximate Firth test of each column of ``gr`` (n_samples, n_variants).

    ``fast`` marks the variants fitted on their carriers only (sparse, minor
    allele count below 50), ``minor`` (n_samples, n_variants) their
    minor-allele dosages.
    """
    n_cols = gr.shape[1]
    is_fast = np.zeros(n_cols, dtype=bool) if fast is None else fast
    g = gr
    if is_fast.any():
        assert minor is not None
        g = np.where((minor > _CARRIER) | ~is_fast, gr, 0.0)
    gy = g.T @ null.y
    padded = pad_columns(g)
    start = _Sums.at(padded, null.offset, np.zeros(n_cols))
    dev0 = start.deviance(np.zeros(n_cols), gy)
    max_outer = np.where(is_fast, _MAX_ITER // 2, min(_MAX_ITER // 2, 50)).astype(np.int64)
    beta, sums, ok = _pseudo(padded, gy, null.offset, max_outer, _Sums(**vars(start)))
    lrt = dev0 - sums.deviance(beta, gy)
    for j in np.flatnonzero(~ok | ~(lrt >= 0)).tolist():
        beta[j], one, dev, ok[j] = _newton(g[:, [j]], float(gy[j]), null.offset)
        sums.info[j] = one.info[0]
        lrt[j] = dev0[j] - dev
    ok &= lrt >= 0
    return FirthTests(beta=beta, se=1.0 / np.sqrt(sums.info), lrt=lrt, ok=ok & np.isfinite(beta))
