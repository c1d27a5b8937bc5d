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
from scipy.sparse import csr_array
from scipy.special import log_ndtr

from gwasflow.errors import EngineInputError
from gwasflow.regenie.linalg import covariate_basis, residualize

__all__ = [
    "BlockStats",
    "GenoBlock",
    "NullModel",
    "Offsets",
    "association_block",
    "chi2_1_logsf",
    "cross_products",
    "fit_null",
    "genotype_block",
    "make_offsets",
    "missing_sums",
]

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


@dataclass(frozen=True)
class GenoBlock:
    """A block of genotypes ready for the cross products, missing calls set to 0.

    ``miss_rows``/``miss_cols`` locate the missing calls (sample, variant).
    Sums of squares over the observed calls are ``sumsq``, or for hard calls
    (0/1/2) ``sum + 2 * twos`` with the sum taken from the products. Mean
    imputation is applied afterwards, exactly, as a correction of the
    products: ``G_imp = G_0 + M diag(mean)`` with M the missing-call indicator.
    """

    values: _F64  # (n_samples, n_variants), Fortran order
    miss_rows: NDArray[np.intp]
    miss_cols: NDArray[np.intp]
    sumsq: _F64 | None = None
    twos: NDArray[np.intp] | None = None
    hard_calls: NDArray[np.int8] | None = None  # the int8 calls ``values`` came from (negative = missing), F order


def genotype_block(raw: NDArray[np.int8] | _F64, *, out: _F64 | None = None) -> GenoBlock:
    """Prepare ``raw``: int8 hard calls (negative = missing) or float dosages (NaN = missing); not modified.

    ``out``, a Fortran-ordered float64 buffer with ``raw``'s number of rows and
    at least its number of columns, is reused for the values: writing into
    pages already mapped is several times faster than a fresh 80 MB array.
    """
    n_samples, n_variants = raw.shape
    if out is None:
        values: _F64 = np.empty((n_samples, n_variants), dtype=np.float64, order="F")
    else:
        values = out[:, :n_variants]
    np.copyto(values, raw)
    columns = np.asfortranarray(raw)
    flat = columns.ravel(order="F")  # a view: column-major like ``values``
    missing = np.flatnonzero(np.less(flat, 0) if raw.dtype == np.int8 else np.isnan(flat))
    if missing.size:
        values.ravel(order="F")[missing] = 0.0  # ravel of a Fortran array is a view
    miss_cols, miss_rows = np.divmod(missing, n_samples)
    if columns.dtype == np.int8:
        calls: NDArray[np.int8] = columns.astype(np.int8, copy=False)
        twos = np.count_nonzero(calls == 2, axis=0)
        return GenoBlock(values=values, miss_rows=miss_rows, miss_cols=miss_cols, twos=np.asarray(twos),
                         hard_calls=calls)
    return GenoBlock(values=values, miss_rows=miss_rows, miss_cols=miss_cols,
                     sumsq=np.einsum("ij,ij->j", values, values))


def missing_sums(block: GenoBlock, weights: _F64) -> _F64:
    """For each variant, the sum of the rows of ``weights`` at its missing samples: (n_variants, n_weights).

    That is ``M' weights`` with ``M`` the (n_samples x n_variants) indicator of
    the missing calls, computed as a sparse product (``miss_cols`` is sorted
    by the column-major scan, so the indicator's CSR layout is read off
    directly): about 6x faster than gathering the rows of ``weights``.
    """
    n_samples, n_variants = block.values.shape
    indptr = np.concatenate(([0], np.cumsum(np.bincount(block.miss_cols, minlength=n_variants))))
    indicator = csr_array((np.ones(block.miss_rows.size), block.miss_rows, indptr), shape=(n_variants, n_samples))
    return np.asarray(indicator @ np.ascontiguousarray(weights), dtype=np.float64)


def cross_products(block: GenoBlock, weights: _F64) -> tuple[_F64, _F64, NDArray[np.int64], _F64]:
    """G_imp'[1|Q|E], sums of squares of G_imp, non-missing counts and dosage sums of observed calls."""
    n_samples, n_variants = block.values.shape
    cross = block.values.T @ weights
    dosage = cross[:, 0].copy()
    n_miss = np.bincount(block.miss_cols, minlength=n_variants)
    n_obs = (n_samples - n_miss).astype(np.int64)
    sumsq = block.sumsq if block.sumsq is not None else dosage + 2.0 * np.asarray(block.twos, dtype=np.float64)
    if block.miss_cols.size:
        mean = dosage / np.maximum(n_obs, 1)
        cross += mean[:, None] * missing_sums(block, weights)
        sumsq = sumsq + n_miss * mean**2
    return cross, sumsq, n_obs, dosage


def association_block(geno: NDArray[np.float64] | NDArray[np.int8] | GenoBlock, null: NullModel,
                      offsets: Offsets) -> BlockStats:
    """Test every variant of ``geno`` (n_samples, n_variants) against every phenotype.

    ``geno`` is a :class:`GenoBlock`, or raw dosages as :func:`genotype_block` takes them.
    """
    block = geno if isinstance(geno, GenoBlock) else genotype_block(geno)
    k = null.q.shape[1]
    cross, sumsq, n_obs, dosage = cross_products(block, offsets.weights)
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
