"""Array-level single-variant tests for binary traits (step 2 with ``--bt``).

Mbatchou et al., Nat Genet 2021 (Methods, "Step 2"); regenie docs ("Overview /
Step 2: binary traits"). The null model ``logit p = X b + LOCO`` is fitted per
phenotype and chromosome (:mod:`gwasflow.regenie.binary.logistic`); with
``W = diag(p (1 - p))`` and the genotype residualized on the covariates with
those weights, ``g_r = g - X (X'WX)^-1 X'W g``, the score test is::

    T = g_r'(y - p)          V = g_r'W g_r = g'Wg - g'WX (X'WX)^-1 X'Wg
    BETA = T / V             SE = 1 / sqrt(V)          CHISQ = T^2 / V

computed for a whole block of variants from two matrix products. When its
p-value is below ``--pThresh`` a variant is corrected:

* ``--spa`` (:mod:`gwasflow.regenie.binary.spa`): the p-value is the saddle-point
  one, CHISQ its chi-square(1) quantile, SE unchanged and
  ``BETA = sign(T) SE sqrt(CHISQ)`` (as regenie reports them);
* ``--firth`` (:mod:`gwasflow.regenie.binary.firth_exact`) / ``--firth --approx``
  (:mod:`gwasflow.regenie.binary.firth_approx`): BETA, SE and the penalized LRT as CHISQ.

A correction that fails leaves BETA, SE, CHISQ and LOG10P missing and marks
the row ``TEST_FAIL`` in ``EXTRA``. Missing genotypes are mean-imputed, as for
quantitative traits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri_exp

from gwasflow.errors import EngineInputError
from gwasflow.regenie.binary.firth_approx import FirthNull, approx_firth_block, fit_null_firth
from gwasflow.regenie.binary.firth_exact import exact_firth_block
from gwasflow.regenie.binary.logistic import NullLogistic, fit_null_logistic
from gwasflow.regenie.binary.spa import SpaNull, spa_logp
from gwasflow.regenie.step2.assoc import (
    BinaryStats,
    GenoBlock,
    chi2_1_logsf,
    cross_products,
    missing_sums,
)
from gwasflow.regenie.step2.correction import Correction

__all__ = ["BinaryModel", "BinaryStats", "Correction", "binary_block", "fit_binary_model"]

F64 = NDArray[np.float64]
_LN10 = float(np.log(10.0))
_LN2 = float(np.log(2.0))
_SQUARE_COLS = 16  # columns squared at once for g'Wg
_FAST_FIRTH_MAC = 50.0  # regenie fits sparse variants below this minor allele count on their carriers only
_CHUNK = 32  # corrected variants handled at once: n_samples x 32 temporaries stay in cache (2x faster than 256)


@dataclass(frozen=True)
class BinaryModel:
    """Null models of a group of binary phenotypes on one chromosome."""

    x: F64  # (n_samples, n_covariates)
    y: F64  # (n_samples, n_phenotypes), 0/1
    offset: F64  # (n_samples, n_phenotypes): the LOCO predictions (zeros without --pred)
    nulls: list[NullLogistic]
    weights: F64  # [1 | W_1 X | r_1 | W_2 X | r_2 ...], Fortran order; r = y - p
    w: F64  # (n_samples, n_phenotypes) null weights p (1 - p)
    xtr_solved: F64  # (n_covariates, n_phenotypes): (X'WX)^-1 X'r, ~0 at convergence
    residual_sums: F64  # (n_phenotypes,): sum of r = y - p
    firth_coef: list[F64] | None  # with --firth: null Firth covariate effects, per phenotype
    x_masked: F64 | None  # covariates of the analysed samples outside these phenotypes' samples
    spa_nulls: list[SpaNull] | None  # with --spa, per phenotype
    firth_nulls: list[FirthNull] | None  # with --firth --approx, per phenotype: offset LOCO + X b_null


def _firth_nulls(x: F64, y: F64, offset: F64, nulls: list[NullLogistic], names: list[str],
                 covariates_masked: F64 | None) -> list[FirthNull]:
    """Approximate Firth's null models: the null Firth fit of each phenotype, by regenie's rules."""
    result = []
    for j, null in enumerate(nulls):
        coef = fit_null_firth(x, y[:, j], offset[:, j], null.coef, covariates_masked)
        if coef is None:
            raise EngineInputError(f"null Firth logistic regression did not converge for '{names[j]}'")
        result.append(FirthNull(y=y[:, j], offset=offset[:, j] + x @ coef))
    return result


def fit_binary_model(x: F64, y: F64, offset: F64, names: list[str], correction: Correction, *,
                     covariates_masked: F64 | None = None) -> BinaryModel:
    """Fit the null logistic (and, for Firth, the null Firth) model of each phenotype column.

    ``covariates_masked`` are the covariate rows of the samples analysed for
    other traits but not these (regenie counts them, with weight 1, in the
    information matrix of its null Firth fit).
    """
    if np.isnan(offset).any():
        raise EngineInputError("--pred: a LOCO prediction is NA for a sample with a phenotype value")
    nulls = [fit_null_logistic(x, y[:, j], offset[:, j], name=name) for j, name in enumerate(names)]
    columns = [np.ones((x.shape[0], 1))]
    for j, null in enumerate(nulls):
        columns += [null.w[:, None] * x, (y[:, j] - null.p)[:, None]]
    firth_coef = None
    if correction is Correction.FIRTH:
        firth_coef = []
        for j in range(len(nulls)):
            coef = fit_null_firth(x, y[:, j], offset[:, j], np.zeros(x.shape[1]), covariates_masked)
            if coef is None:
                raise EngineInputError(f"null Firth logistic regression did not converge for '{names[j]}'")
            firth_coef.append(coef)
    spa_nulls = [SpaNull.from_probabilities(null.p) for null in nulls] if correction is Correction.SPA else None
    firth_nulls = None
    if correction is Correction.FIRTH_APPROX:
        firth_nulls = _firth_nulls(x, y, offset, nulls, names, covariates_masked)
    return BinaryModel(
        x=x, y=y, offset=offset, nulls=nulls,
        weights=np.asfortranarray(np.hstack(columns)),
        w=np.column_stack([null.w for null in nulls]),
        xtr_solved=np.column_stack([null.xtwx_inv @ (x.T @ (y[:, j] - null.p)) for j, null in enumerate(nulls)]),
        residual_sums=np.asarray([float(np.sum(y[:, j] - null.p)) for j, null in enumerate(nulls)]),
        firth_coef=firth_coef, x_masked=covariates_masked, spa_nulls=spa_nulls, firth_nulls=firth_nulls,
    )


def _weighted_sumsq(block: GenoBlock, w: F64, dosage: F64, n_obs: NDArray[np.int64]) -> F64:
    """``g'Wg`` per variant and phenotype for mean-imputed genotypes, (n_variants, n_phenotypes).

    From the int8 hard calls when the block has them (a compiled pass: a
    third of the time of squaring the float64 values and multiplying),
    otherwise from the values.
    """
    values = block.values
    n_samples, n_variants = values.shape
    if block.hard_calls is not None:
        from gwasflow.regenie.kernels import squared_calls_weighted_kernel

        weights_t = np.zeros((-(-w.shape[1] // 4) * 4, n_samples))
        weights_t[:w.shape[1]] = w.T
        sums = np.empty((n_variants, weights_t.shape[0]))
        squared_calls_weighted_kernel(block.hard_calls, weights_t, sums)
        result: F64 = sums[:, :w.shape[1]]
        return _with_imputed(result, block, w, dosage, n_obs)
    from gwasflow.regenie.kernels.products import columns_cross_kernel

    result = np.empty((n_variants, w.shape[1]))
    # squares of _SQUARE_COLS columns at a time into one small buffer that stays in cache: half the time of
    # squaring the whole block (a fresh n_samples x n_variants array) before one product; the product by a
    # compiled loop, not BLAS, whose calls from the --threads blocks at once ran one at a time
    buffer = np.empty((n_samples, min(_SQUARE_COLS, n_variants)), order="F")
    weights = np.asfortranarray(w)
    for start in range(0, n_variants, _SQUARE_COLS):
        part = values[:, start:start + _SQUARE_COLS]
        squares = buffer[:, :part.shape[1]]
        np.square(part, out=squares)
        columns_cross_kernel(squares, weights, result[start:start + part.shape[1]])
    return _with_imputed(result, block, w, dosage, n_obs)


def _with_imputed(observed: F64, block: GenoBlock, w: F64, dosage: F64, n_obs: NDArray[np.int64]) -> F64:
    """``g'Wg`` of the observed calls plus the missing ones' imputed mean squared times their weights."""
    if block.miss_cols.size:
        mean = block.imputed(dosage, n_obs)
        observed += (mean**2)[:, None] * missing_sums(block, w)
    return observed


def _imputed_columns(block: GenoBlock, cols: NDArray[np.intp], dosage: F64, n_obs: NDArray[np.int64]) -> F64:
    """Mean-imputed genotypes of the variants ``cols``, (n_samples, len(cols))."""
    g = block.values[:, cols].copy()
    if block.miss_cols.size:
        position = np.full(block.values.shape[1], -1)
        position[cols] = np.arange(cols.size)
        hit = position[block.miss_cols] >= 0
        c = block.miss_cols[hit]
        g[block.miss_rows[hit], position[c]] = block.imputed(dosage, n_obs)[c]
    return g


@dataclass
class _Result:
    beta: F64
    se: F64
    chisq: F64
    logp: F64
    corrected: NDArray[np.bool_]
    failed: NDArray[np.bool_]


def _carriers(g: F64, flipped: NDArray[np.bool_], threshold: float) -> NDArray[np.bool_]:
    """Samples whose minor-allele dosage (``2 - g`` for a ``flipped`` variant) exceeds ``threshold``."""
    minor = np.where(flipped, 2.0 - g, g)
    result: NDArray[np.bool_] = minor > threshold
    return result


def _correct(result: _Result, rows: NDArray[np.intp], gr: F64, score: F64, var: F64, model: BinaryModel, j: int,
             correction: Correction, g: F64, sparse: NDArray[np.bool_], flipped: NDArray[np.bool_], mac: F64,
             g_masked: F64 | None) -> None:
    """Apply ``correction`` to the variants ``rows`` (residualized genotypes ``gr``, raw ``g``).

    ``sparse`` and ``flipped`` (per row) say which variants regenie keeps
    sparse and which it counts in the other allele, ``mac`` is their minor
    allele count: its fast SPA and fast Firth only look at the carriers of
    the minor allele. ``g_masked`` are the genotypes of the samples
    analysed for other traits only (exact Firth counts them in its penalty).
    """
    if correction is Correction.SPA:
        assert model.spa_nulls is not None
        logp, ok = spa_logp(gr, model.spa_nulls[j], score, var, fast=sparse,
                            carriers=_carriers(g, flipped, 0.0) if sparse.any() else None)
        with np.errstate(invalid="ignore"):
            chisq = np.where(ok, ndtri_exp(logp - _LN2) ** 2, np.nan)
        result.chisq[rows] = chisq
        result.logp[rows] = np.where(ok, logp, np.nan)
        result.beta[rows] = np.where(ok, np.sign(score) * result.se[rows] * np.sqrt(chisq), np.nan)
        result.se[rows] = np.where(ok, result.se[rows], np.nan)
    elif correction is Correction.FIRTH_APPROX:
        assert model.firth_nulls is not None
        fast = sparse & (mac < _FAST_FIRTH_MAC)
        fit = approx_firth_block(gr, model.firth_nulls[j], fast=fast,
                                 minor=np.where(flipped, 2.0 - g, g) if fast.any() else None)
        ok = fit.ok
        result.beta[rows] = np.where(ok, fit.beta, np.nan)
        result.se[rows] = np.where(ok, fit.se, np.nan)
        result.chisq[rows] = np.where(ok, fit.lrt, np.nan)
        result.logp[rows] = np.where(ok, chi2_1_logsf(fit.lrt, compiled=True), np.nan)
    else:
        assert model.firth_coef is not None
        # fitted in regenie's coding of the minor allele: its stopping rule is not invariant to the flip
        minor = np.where(flipped, 2.0 - g, g)
        minor_masked = None if g_masked is None else np.where(flipped, 2.0 - g_masked, g_masked)
        exact = exact_firth_block(model.x, minor, model.y[:, j], model.offset[:, j], model.firth_coef[j],
                                  masked_x=model.x_masked, masked_g=minor_masked)
        ok = exact.ok
        result.beta[rows] = np.where(ok, np.where(flipped, -exact.beta, exact.beta), np.nan)
        result.se[rows] = np.where(ok, exact.se, np.nan)
        result.chisq[rows] = np.where(ok, exact.lrt, np.nan)
        result.logp[rows] = np.where(ok, chi2_1_logsf(exact.lrt, compiled=True), np.nan)
    result.corrected[rows] = True
    result.failed[rows] = ~ok


def _phenotype(block: GenoBlock, model: BinaryModel, j: int, cross: F64, gwg: F64, testable: NDArray[np.bool_],
               dosage: F64, n_obs: NDArray[np.int64], correction: Correction, log_pthresh: float,
               sparse: NDArray[np.bool_], flipped: NDArray[np.bool_], masked: GenoBlock | None) -> _Result:
    k = model.x.shape[1]
    first = 1 + j * (k + 1)
    gwx = cross[:, first:first + k]
    inv = model.nulls[j].xtwx_inv
    var = gwg[:, j] - np.einsum("ij,jk,ik->i", gwx, inv, gwx)
    # regenie's sparse branch takes the score g'(y - p) of the counted allele as it is, without the covariate
    # part (x'(y - p), ~1e-6 at its convergence); the dense branch projects it out, as the first form here does
    plain = cross[:, first + k] - np.where(flipped, 2.0 * model.residual_sums[j], 0.0)
    score = np.where(sparse, plain, cross[:, first + k] - gwx @ model.xtr_solved[:, j])
    ok = var > 1e-10 * np.maximum(gwg[:, j], 1e-300)
    with np.errstate(invalid="ignore", divide="ignore"):
        var_safe = np.where(ok, var, np.nan)
        chisq = score**2 / var_safe
        result = _Result(beta=score / var_safe, se=1.0 / np.sqrt(var_safe), chisq=chisq,
                         logp=chi2_1_logsf(chisq, compiled=True), corrected=np.zeros(var.shape, dtype=bool),
                         failed=np.zeros(var.shape, dtype=bool))
    if correction is Correction.NONE:
        return result
    with np.errstate(invalid="ignore"):
        picked = np.flatnonzero(ok & testable & (result.logp < log_pthresh))
    mac = np.minimum(dosage, 2.0 * n_obs - dosage)
    for start in range(0, picked.size, _CHUNK):
        rows = picked[start:start + _CHUNK]
        g = _imputed_columns(block, rows, dosage, n_obs)
        gr = g - model.x @ (inv @ gwx[rows].T)
        g_masked = None
        if masked is not None and correction is Correction.FIRTH:
            g_masked = _imputed_columns(masked, rows, dosage, n_obs)  # its fill: the mean over all analysed samples
        _correct(result, rows, gr, score[rows], var[rows], model, j, correction, g, sparse[rows], flipped[rows],
                 mac[rows], g_masked)
    return result


def binary_block(block: GenoBlock, model: BinaryModel, *, correction: Correction, pthresh: float,
                 min_mac: float, sparse: NDArray[np.bool_] | None = None,
                 flipped: NDArray[np.bool_] | None = None, masked: GenoBlock | None = None) -> BinaryStats:
    """Test every variant of ``block`` against every phenotype of ``model``.

    Corrections run only for variants with a minor allele count of at least
    ``min_mac`` (the others are not reported) and a score-test p-value below
    ``pthresh``. ``masked`` holds the genotypes of the analysed samples
    outside ``block`` (with ``fill`` set), which exact Firth needs.
    """
    cross, _, n_obs, dosage = cross_products(block, model.weights, compiled=True)
    gwg = _weighted_sumsq(block, model.w, dosage, n_obs)
    testable = np.minimum(dosage, 2.0 * n_obs - dosage) >= min_mac
    none = np.zeros(block.values.shape[1], dtype=bool)
    results = [_phenotype(block, model, j, cross, gwg, testable, dosage, n_obs, correction, float(np.log(pthresh)),
                          none if sparse is None else sparse, none if flipped is None else flipped, masked)
               for j in range(model.y.shape[1])]

    def stack(name: str) -> NDArray[np.float64]:
        return np.column_stack([getattr(r, name) for r in results])

    return BinaryStats(
        n_obs=n_obs, dosage_sum=dosage, beta=stack("beta"), se=stack("se"), chisq=stack("chisq"),
        log10p=-stack("logp") / _LN10 + 0.0, corrected=stack("corrected").astype(bool),
        failed=stack("failed").astype(bool),
    )
