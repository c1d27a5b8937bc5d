"""Array-level single-variant linear association test for quantitative traits (step 2).

Model (Mbatchou et al., Nat Genet 2021, Methods "Step 2"; regenie docs,
"Overview / Step 2: quantitative traits"): covariates X are regressed out of
the phenotype, which is scaled to unit residual variance, ``y = r / s`` with
``r = (I - QQ')Y`` and ``s^2 = r'r / (n - k)`` (k covariates, intercept
included). The step 1 LOCO prediction ``l`` of the variant's chromosome is
subtracted, ``e = y - l``, and for a genotype g with covariate residual
``g_r = (I - QQ')g``::

    BETA  = s * g_r'e / g_r'g_r
    SE    = s * sqrt(sigma2 / g_r'g_r),   sigma2 = e'e / (n - k)
    CHISQ = (BETA / SE)^2,                LOG10P = -log10 P(chi2_1 > CHISQ)

``sigma2`` is the null (no-variant) residual variance, as regenie uses; BETA
is the ordinary least squares estimate of ``e ~ X + g``. Missing genotypes are
replaced by the variant's mean dosage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import log_ndtr

from gwasflow.errors import EngineInputError
from gwasflow.regenie.linalg import covariate_basis, residualize

__all__ = ["BlockStats", "NullModel", "Offsets", "association_block", "chi2_1_logsf", "fit_null", "make_offsets"]

_LN10 = float(np.log(10.0))
_LN2 = float(np.log(2.0))


def chi2_1_logsf(chisq: NDArray[np.float64]) -> NDArray[np.float64]:
    """Natural log of the chi-square(1) upper tail, ``log(2 Phi(-sqrt(x)))``, without underflow."""
    with np.errstate(invalid="ignore"):
        result: NDArray[np.float64] = _LN2 + log_ndtr(-np.sqrt(chisq))
    return result


@dataclass(frozen=True)
class NullModel:
    """Covariate basis and scaled phenotype residuals of one group of phenotypes."""

    q: NDArray[np.float64]  # (n_samples, n_covariates)
    y: NDArray[np.float64]  # (n_samples, n_phenotypes), residualized and scaled
    scale: NDArray[np.float64]  # (n_phenotypes,) the s above
    dof: int  # n_samples - n_covariates


def fit_null(covariates: NDArray[np.float64], phenotypes: NDArray[np.float64],
             names: list[str]) -> NullModel:
    """Residualize ``phenotypes`` (no missing values) on ``covariates`` and scale them."""
    q = covariate_basis(covariates)
    dof = phenotypes.shape[0] - q.shape[1]
    resid = residualize(q, phenotypes)
    scale = np.sqrt(np.einsum("ij,ij->j", resid, resid) / dof)
    for name, value in zip(names, scale.tolist(), strict=True):
        if not value > 0:
            raise EngineInputError(f"--phenoFile: phenotype '{name}' is constant after removing covariates")
    return NullModel(q=q, y=resid / scale, scale=scale, dof=dof)


@dataclass(frozen=True)
class Offsets:
    """Per-chromosome quantities of a null model with its LOCO offset removed."""

    weights: NDArray[np.float64]  # [1 | Q | E], (n_samples, 1 + k + p)
    qte: NDArray[np.float64]  # Q'E, (k, p)
    sigma2: NDArray[np.float64]  # e'e / (n - k), (p,)


def make_offsets(null: NullModel, loco: NDArray[np.float64] | None) -> Offsets:
    """``E = y - loco`` (``loco`` (n_samples, p) or None for ``--ignore-pred``)."""
    resid = null.y if loco is None else null.y - loco
    ones = np.ones((resid.shape[0], 1))
    return Offsets(
        weights=np.asfortranarray(np.hstack([ones, null.q, resid])),
        qte=null.q.T @ resid,
        sigma2=np.einsum("ij,ij->j", resid, resid) / null.dof,
    )


@dataclass(frozen=True)
class BlockStats:
    """Results for a block of variants; stats arrays are (n_variants, n_phenotypes)."""

    n_obs: NDArray[np.int64]
    dosage_sum: NDArray[np.float64]
    beta: NDArray[np.float64]
    se: NDArray[np.float64]
    chisq: NDArray[np.float64]
    log10p: NDArray[np.float64]

    @property
    def a1freq(self) -> NDArray[np.float64]:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.dosage_sum / (2.0 * self.n_obs)

    @property
    def mac(self) -> NDArray[np.float64]:
        return np.minimum(self.dosage_sum, 2.0 * self.n_obs - self.dosage_sum)


_F64 = NDArray[np.float64]


def _impute_missing(geno: _F64, sumsq: _F64) -> tuple[NDArray[np.int64], _F64, NDArray[np.intp]]:
    """Mean-impute NaNs in place in the columns whose ``sumsq`` is NaN.

    Returns non-missing counts, dosage sums of the imputed columns (before
    imputation) and their indices; ``sumsq`` is updated.
    """
    n_samples, n_variants = geno.shape
    n_obs = np.full(n_variants, n_samples, dtype=np.int64)
    bad = np.flatnonzero(np.isnan(sumsq))
    if bad.size == 0:
        return n_obs, np.empty(0), bad
    sub = geno if bad.size == n_variants else geno[:, bad]
    missing = np.isnan(sub)
    n_obs[bad] = n_samples - missing.sum(axis=0)
    np.copyto(sub, 0.0, where=missing)
    sums = sub.sum(axis=0)
    mean = sums / np.maximum(n_obs[bad], 1)
    np.copyto(sub, np.broadcast_to(mean, sub.shape), where=missing)
    if sub is not geno:
        geno[:, bad] = sub
    sumsq[bad] = np.einsum("ij,ij->j", sub, sub)
    return n_obs, sums, bad


def _cross_products(geno: _F64, weights: _F64) -> tuple[_F64, _F64, NDArray[np.int64], _F64]:
    """G'[1|Q|E], sum of squares, non-missing counts and dosage sums; imputes missing in place."""
    sumsq = np.einsum("ij,ij->j", geno, geno)
    n_obs, bad_sums, bad = _impute_missing(geno, sumsq)
    cross = geno.T @ weights
    dosage = cross[:, 0].copy()
    dosage[bad] = bad_sums
    return cross, sumsq, n_obs, dosage


def association_block(geno: NDArray[np.float64], null: NullModel, offsets: Offsets) -> BlockStats:
    """Test every variant of ``geno`` (n_samples, n_variants; NaN = missing) against every phenotype.

    ``geno`` is modified (missing values imputed).
    """
    k = null.q.shape[1]
    cross, sumsq, n_obs, dosage = _cross_products(geno, offsets.weights)
    gtq = cross[:, 1:1 + k]
    gg = sumsq - np.einsum("ij,ij->i", gtq, gtq)
    numer = cross[:, 1 + k:] - gtq @ offsets.qte
    ok = gg > 1e-10 * np.maximum(sumsq, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        gg_safe = np.where(ok, gg, np.nan)[:, None]
        beta = numer / gg_safe
        se = np.sqrt(offsets.sigma2[None, :] / gg_safe)
        chisq = (beta / se) ** 2
    log10p = -chi2_1_logsf(chisq) / _LN10
    return BlockStats(
        n_obs=n_obs,
        dosage_sum=dosage,
        beta=beta * null.scale,
        se=se * null.scale,
        chisq=chisq,
        log10p=log10p + 0.0,
    )
