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

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gwasflow.regenie.linalg import check_scales, covariate_basis, masked_residuals
from gwasflow.regenie.step2.tails import chi2_1_logsf

__all__ = [
    "BinaryStats",
    "BlockStats",
    "GenoBlock",
    "NullModel",
    "Offsets",
    "association_block",
    "chi2_1_logsf",
    "cross_products",
    "finish_stats",
    "fit_null",
    "genotype_block",
    "make_offsets",
    "missing_sums",
    "observed_sums",
    "remove_gaps",
    "run_sums",
    "sparse_variants",
]

_LN10 = float(np.log(10.0))
@dataclass(frozen=True)
class NullModel:
    """Covariate basis and scaled phenotype residuals of the phenotypes, with their missing samples.

    As regenie does for several quantitative traits with missing values
    (Pheno.cpp ``residualize_phenotypes``; Step2_Models.cpp
    ``compute_score_qt``): one basis Q of the covariates over every analysed
    sample; a missing value is 0, the projection ``Q Q'y`` is removed at the
    observed samples only, and a trait's residual is 0 where it is missing.
    """

    q: NDArray[np.float64]  # (n_samples, n_covariates)
    y: NDArray[np.float64]  # (n_samples, n_phenotypes), residualized and scaled, 0 where missing
    scale: NDArray[np.float64]  # (n_phenotypes,) the s above
    dof: NDArray[np.float64]  # n_observed - n_covariates, per phenotype
    observed: NDArray[np.bool_]  # (n_samples, n_phenotypes)
    gaps: list[tuple[NDArray[np.intp], list[int]]]  # analysed samples missing a trait, and those traits


def _gaps(observed: NDArray[np.bool_]) -> list[tuple[NDArray[np.intp], list[int]]]:
    groups: dict[bytes, list[int]] = {}
    for column in range(observed.shape[1]):
        if not observed[:, column].all():
            groups.setdefault(np.packbits(~observed[:, column]).tobytes(), []).append(column)
    return [(np.flatnonzero(~observed[:, cols[0]]).astype(np.intp), cols) for cols in groups.values()]


def fit_null(covariates: NDArray[np.float64], phenotypes: NDArray[np.float64], names: list[str]) -> NullModel:
    """Residualize ``phenotypes`` (NaN = missing) on ``covariates`` and scale them, as regenie's step 2 does."""
    q = covariate_basis(covariates)
    observed = ~np.isnan(phenotypes)
    y, scale = masked_residuals(q, phenotypes)
    dof = observed.sum(axis=0).astype(np.float64) - q.shape[1]
    check_scales(scale, names)
    return NullModel(q=q, y=y, scale=scale, dof=dof, observed=observed, gaps=_gaps(observed))


@dataclass(frozen=True)
class Offsets:
    """Per-chromosome quantities of a null model with its LOCO offset removed."""

    weights: NDArray[np.float64]  # [1 | Q | E], (n_samples, 1 + k + p)
    qte: NDArray[np.float64]  # Q'E, (k, p)
    sigma2: NDArray[np.float64]  # e'e / (n - k), (p,)


def make_offsets(null: NullModel, loco: NDArray[np.float64] | None) -> Offsets:
    """``E = y - loco`` at the observed samples, 0 elsewhere (``loco`` (n_samples, p) or None)."""
    resid = null.y if loco is None else np.where(null.observed, null.y - np.nan_to_num(loco), 0.0)
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
class BinaryStats(BlockStats):
    """:class:`BlockStats` plus, per (variant, phenotype), whether a correction ran and whether it failed."""

    corrected: NDArray[np.bool_]
    failed: NDArray[np.bool_]


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
    fill: _F64 | None = None  # imputed value of a missing call, per variant; None: the block's own mean

    def imputed(self, dosage: _F64, n_obs: NDArray[np.int64]) -> _F64:
        """The value a missing call takes: ``fill``, or the mean of the block's observed calls."""
        if self.fill is not None:
            return self.fill
        result: _F64 = dosage / np.maximum(n_obs, 1)
        return result


_COLUMNS = 64  # variants per pass when scanning a block for missing calls: temporaries stay small at any N


def _column_chunks(n_variants: int) -> list[slice]:
    return [slice(lo, min(lo + _COLUMNS, n_variants)) for lo in range(0, n_variants, _COLUMNS)]


def _zero_missing(values: _F64, raw: NDArray[np.int8] | _F64) -> NDArray[np.intp]:
    """Set ``values`` to 0 where ``raw`` is missing; the missing calls' column-major flat positions."""
    n_samples = raw.shape[0]
    found = []
    for cols in _column_chunks(raw.shape[1]):
        flat = np.asfortranarray(raw[:, cols]).ravel(order="F")
        hits = np.flatnonzero(np.less(flat, 0) if raw.dtype == np.int8 else np.isnan(flat))
        if hits.size:
            values[:, cols].ravel(order="F")[hits] = 0.0  # ravel of a Fortran-ordered slice of columns is a view
            found.append(hits + cols.start * n_samples)
    return np.concatenate(found) if found else np.empty(0, dtype=np.intp)


def genotype_block(raw: NDArray[np.int8] | _F64, *, out: _F64 | None = None, fill: _F64 | None = None) -> GenoBlock:
    """Prepare ``raw``: int8 hard calls (negative = missing) or float dosages (NaN = missing).

    ``out``, a Fortran-ordered float64 buffer with ``raw``'s number of rows and
    at least its number of columns, is reused for the values: writing into
    pages already mapped is several times faster than a fresh 80 MB array.
    ``out`` may hold ``raw`` itself (float64 dosages decoded into it): the
    block is then prepared in place, without a copy, and ``raw``'s missing
    calls become 0; otherwise ``raw`` is not modified.
    ``fill`` is the value of a missing call per variant (regenie imputes the
    mean over every analysed sample, also when a trait uses fewer of them);
    by default the mean of the observed calls of ``raw``.
    """
    n_samples, n_variants = raw.shape
    if out is None:
        values: _F64 = np.empty((n_samples, n_variants), dtype=np.float64, order="F")
    else:
        values = out[:, :n_variants]
    in_place = raw.dtype == np.float64 and values.ctypes.data == raw.ctypes.data and values.strides == raw.strides
    if not in_place:
        np.copyto(values, raw)
    if raw.dtype == np.int8:
        miss_cols, miss_rows = np.divmod(_zero_missing(values, raw), n_samples)
        calls: NDArray[np.int8] = np.asfortranarray(raw).astype(np.int8, copy=False)
        twos = np.count_nonzero(calls == 2, axis=0)
        return GenoBlock(values=values, miss_rows=miss_rows, miss_cols=miss_cols, twos=np.asarray(twos),
                         hard_calls=calls, fill=fill)
    sumsq, missing = _dosage_squares(values)
    miss_cols, miss_rows = np.divmod(missing, n_samples)
    return GenoBlock(values=values, miss_rows=miss_rows, miss_cols=miss_cols, sumsq=sumsq, fill=fill)


def _dosage_squares(values: _F64) -> tuple[_F64, NDArray[np.intp]]:
    """Sums of squares of dosages whose missing calls (NaN) are set to 0 here, and those calls' column-major
    flat positions.

    One pass: the sums of squares are NaN exactly for the variants with a
    missing call (dosages are finite), so only those columns are searched and
    summed again; imputed dosages, which seldom miss a call, are read once.
    """
    sumsq: _F64 = np.einsum("ij,ij->j", values, values)
    found = []
    suspect = np.flatnonzero(np.isnan(sumsq))
    for j in suspect.tolist():
        column = values[:, j]
        hits = np.flatnonzero(np.isnan(column))
        column[hits] = 0.0
        found.append(hits + j * values.shape[0])
    if suspect.size:
        part = np.asfortranarray(values[:, suspect])
        sumsq[suspect] = np.einsum("ij,ij->j", part, part)
    return sumsq, np.concatenate(found) if found else np.empty(0, dtype=np.intp)


def observed_sums(raw: NDArray[np.int8] | _F64) -> tuple[NDArray[np.int64], _F64]:
    """Per variant, the number of observed calls and their sum (int8: negative = missing; float: NaN)."""
    n_called = np.empty(raw.shape[1], dtype=np.int64)
    total = np.empty(raw.shape[1], dtype=np.float64)
    for cols in _column_chunks(raw.shape[1]):
        part = raw[:, cols]
        seen = part >= 0 if raw.dtype == np.int8 else ~np.isnan(part)
        n_called[cols] = seen.sum(axis=0)
        total[cols] = np.where(seen, part, 0).sum(axis=0, dtype=np.float64)
    return n_called, total


def missing_sums(block: GenoBlock, weights: _F64) -> _F64:
    """:func:`run_sums` of the block's missing calls."""
    return run_sums(block.miss_rows, block.miss_cols, block.values.shape[1], weights)


def run_sums(miss_rows: NDArray[np.intp], miss_cols: NDArray[np.intp], n_variants: int, weights: _F64) -> _F64:
    """For each variant, the sum of the rows of ``weights`` at its missing samples: (n_variants, n_weights).

    That is ``M' weights`` with ``M`` the (n_samples x n_variants) indicator of
    the missing calls, summed run by run (``miss_cols`` is sorted by the
    column-major scan, so each variant's missing calls are one run).
    """
    # the missing calls' rows of weights, a few percent of the calls, and a row of zeros after them
    rows = np.zeros((miss_rows.size + 1, weights.shape[1]))
    np.take(weights, miss_rows, axis=0, out=rows[:-1])
    starts = np.searchsorted(miss_cols, np.arange(n_variants))  # each variant's run of missing calls
    sums: _F64 = np.add.reduceat(rows, starts, axis=0)
    sums[np.bincount(miss_cols, minlength=n_variants) == 0] = 0.0  # reduceat gives a row for an empty run
    return sums


def cross_products(block: GenoBlock, weights: _F64, *, compiled: bool = False,
                   ) -> tuple[_F64, _F64, NDArray[np.int64], _F64]:
    """G_imp'[1|Q|E], sums of squares of G_imp, non-missing counts and dosage sums of observed calls.

    ``compiled``: ``G'W`` by a compiled loop, not BLAS, whose calls from several threads at once ran one at a time
    (:mod:`gwasflow.regenie.kernels.products`); for step 2 with numba loaded anyway.
    """
    n_samples, n_variants = block.values.shape
    if compiled:
        from gwasflow.regenie.kernels.products import columns_cross_kernel

        cross = np.empty((n_variants, weights.shape[1]))
        columns_cross_kernel(block.values, np.asfortranarray(weights), cross)
    else:
        cross = block.values.T @ weights
    dosage = cross[:, 0].copy()
    n_miss = np.bincount(block.miss_cols, minlength=n_variants)
    n_obs = (n_samples - n_miss).astype(np.int64)
    sumsq = block.sumsq if block.sumsq is not None else dosage + 2.0 * np.asarray(block.twos, dtype=np.float64)
    if block.miss_cols.size:
        mean = block.imputed(dosage, n_obs)
        cross += mean[:, None] * missing_sums(block, weights)
        sumsq = sumsq + n_miss * mean**2
    return cross, sumsq, n_obs, dosage


#: For the samples ``rows`` a trait misses: their genotypes (n_rows, n_variants), missing calls imputed, and per
#: variant their missing calls and the sum of their observed calls.
GapRows = Callable[[NDArray[np.intp]], tuple[_F64, NDArray[np.int64], _F64]]


def _block_gap_rows(block: GenoBlock, dosage: _F64, n_obs: NDArray[np.int64]) -> GapRows:
    """:data:`GapRows` of a prepared block."""
    def gap_rows(rows: NDArray[np.intp]) -> tuple[_F64, NDArray[np.int64], _F64]:
        n_samples = block.values.shape[0]
        g = block.values[rows]
        position = np.full(n_samples, -1, dtype=np.intp)
        position[rows] = np.arange(rows.size)
        hit = position[block.miss_rows] >= 0
        n_missing = np.bincount(block.miss_cols[hit], minlength=g.shape[1])
        seen_sum = g.sum(axis=0)
        if hit.any():
            cols = block.miss_cols[hit]
            g[position[block.miss_rows[hit]], cols] = block.imputed(dosage, n_obs)[cols]
        return g, n_missing, seen_sum
    return gap_rows


def remove_gaps(null: NullModel, sparse: NDArray[np.bool_] | None, gtq: _F64, denom: _F64,
                calls: NDArray[np.int64], sums: _F64, gap_rows: GapRows) -> None:
    """Take out of each trait's ``g_r'g_r`` (``denom``), calls and dosage sums its missing samples' share, in place.

    For the samples a trait misses, ``dense`` is ``sum (g - Q Q'g)^2`` over
    them, what regenie removes for a variant it keeps dense; ``sparse`` is
    ``sum g (g - 2 Q Q'g)``, what its sparse-genotype branch removes (it takes
    ``Q'MQ = I``), for the variants flagged in ``sparse``.
    """
    flagged = np.zeros(gtq.shape[0], dtype=bool) if sparse is None else sparse
    for rows, columns in null.gaps:
        g, n_missing, seen_sum = gap_rows(rows)
        fitted = null.q[rows] @ gtq.T
        dense = np.einsum("ij,ij->j", g - fitted, g - fitted)
        sparse_part = np.einsum("ij,ij->j", g, g - 2.0 * fitted)
        removed = np.where(flagged, sparse_part, dense)
        gap_calls = (rows.size - n_missing).astype(np.float64)
        for col in columns:
            denom[:, col] -= removed
            calls[:, col] -= gap_calls.astype(np.int64)
            sums[:, col] -= seen_sum


def sparse_variants(raw: NDArray[np.int8] | _F64, n_genotyped: int, *, count_zeros: bool = False,
                    flip: bool = False) -> NDArray[np.bool_]:
    """Which variants regenie tests through its sparse-genotype branch (``check_sparse_G``, threshold 0.5).

    ``raw`` holds every analysed sample (int8 calls, negative = missing, or
    dosages, NaN = missing). With ``.bed`` and BGEN input a variant is sparse
    when at most half of the genotype file's samples (after ``--keep`` /
    ``--remove``) are analysed with a non-zero mean-imputed genotype; with PGEN
    input when at least half have an observed call of 0. With ``flip``
    (binary traits) the genotype is first counted in the minor allele
    (``2 - g`` when the mean is above 1), as regenie does.
    """
    n_miss = np.empty(raw.shape[1], dtype=np.int64)
    total = np.empty(raw.shape[1], dtype=np.float64)
    zeros = np.empty(raw.shape[1], dtype=np.int64)
    twos = np.empty(raw.shape[1], dtype=np.int64)
    for cols in _column_chunks(raw.shape[1]):  # a few columns at a time: no temporary of the block's size
        part = raw[:, cols]
        missing = part < 0 if raw.dtype == np.int8 else np.isnan(part)
        n_miss[cols] = missing.sum(axis=0)
        values = np.where(missing, 0, part).astype(np.float64, copy=False)
        total[cols] = values.sum(axis=0)
        zeros[cols] = np.count_nonzero(values == 0.0, axis=0)
        twos[cols] = np.count_nonzero(values == 2.0, axis=0)
    n_seen = raw.shape[0] - n_miss
    mean = total / np.maximum(n_seen, 1)
    zeros_seen = zeros - n_miss
    if count_zeros:
        result: NDArray[np.bool_] = zeros_seen >= 0.5 * n_genotyped
        return result
    if flip:
        flipped = mean > 1.0
        zeros_seen = np.where(flipped, twos, zeros_seen)
        mean = np.where(flipped, 2.0 - mean, mean)
    nonzero = n_seen - zeros_seen + np.where(mean == 0.0, 0, n_miss)
    result = nonzero <= 0.5 * n_genotyped
    return result


def association_block(geno: NDArray[np.float64] | NDArray[np.int8] | GenoBlock, null: NullModel,
                      offsets: Offsets, sparse: NDArray[np.bool_] | None = None, *, compiled: bool = False,
                      ) -> BlockStats:
    """Test every variant of ``geno`` (n_samples, n_variants) against every phenotype.

    ``geno`` is a :class:`GenoBlock`, or raw dosages as :func:`genotype_block`
    takes them. For a trait with missing samples, ``g_r'g_r`` is summed over
    its observed samples (regenie's ``masked_indivs' G^2``); regenie computes
    it approximately for the variants it keeps sparse (:func:`sparse_variants`),
    and so does this function for the variants flagged in ``sparse``. ``compiled``: as :func:`cross_products`.
    """
    block = geno if isinstance(geno, GenoBlock) else genotype_block(geno)
    k = null.q.shape[1]
    n_pheno = null.y.shape[1]
    cross, sumsq, n_obs, dosage = cross_products(block, offsets.weights, compiled=compiled)
    gtq = cross[:, 1:1 + k]
    gg = sumsq - np.einsum("ij,ij->i", gtq, gtq)
    numer = cross[:, 1 + k:] - gtq @ offsets.qte
    denom = np.repeat(gg[:, None], n_pheno, axis=1)
    calls = np.repeat(n_obs[:, None], n_pheno, axis=1)
    sums = np.repeat(dosage[:, None], n_pheno, axis=1)
    if null.gaps:
        remove_gaps(null, sparse, gtq, denom, calls, sums, _block_gap_rows(block, dosage, n_obs))
    return finish_stats(gg, sumsq, numer, denom, calls, sums, null, offsets, compiled=compiled)


def finish_stats(gg: _F64, sumsq: _F64, numer: _F64, denom: _F64, calls: NDArray[np.int64], sums: _F64,
                 null: NullModel, offsets: Offsets, *, compiled: bool = False) -> BlockStats:
    """BETA, SE, CHISQ and LOG10P from ``g_r'e`` (``numer``) and ``g_r'g_r`` (``denom``, per phenotype); a
    variant whose residual ``gg`` is 0 against its sum of squares (a constant) is NA. ``compiled``: LOG10P's
    tail by the compiled loop (:func:`chi2_1_logsf`)."""
    ok = (gg > 1e-10 * np.maximum(sumsq, 1.0))[:, None] & (denom > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        denom_safe = np.where(ok, denom, np.nan)
        beta = numer / denom_safe
        se = np.sqrt(offsets.sigma2[None, :] / denom_safe)
        chisq = (beta / se) ** 2
    log10p = -chi2_1_logsf(chisq, compiled=compiled) / _LN10
    return BlockStats(
        n_obs=calls,
        dosage_sum=sums,
        beta=beta * null.scale,
        se=se * null.scale,
        chisq=chisq,
        log10p=log10p + 0.0,
    )
