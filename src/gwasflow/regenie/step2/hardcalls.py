"""The quantitative-trait test of a block of hard calls (``.bed``), straight from the int8 calls.

The model and the statistics are :func:`gwasflow.regenie.step2.assoc.association_block`'s; here the
products ``G'[1 | Q | E]`` are summed by a compiled loop over the 1-byte calls
(:func:`gwasflow.regenie.kernels.calls_weighted_kernel`), which runs without the GIL and without the
block's float64 copy (80 MB for 10,000 samples x 1,000 variants, written and read again): missing calls
count 0 and mean imputation is applied afterwards as a correction of the products, exactly as
:func:`~gwasflow.regenie.step2.assoc.cross_products` does (its ``M'W`` by a compiled loop too: the GIL
is held only to set the work up). Sums of squares are ``sum g + 2 (number of
2s)``. A trait's missing samples are taken out of its sums as there
(:func:`~gwasflow.regenie.step2.assoc.remove_gaps`), which needs the genotypes only at those samples:
those few rows are made float.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from gwasflow.regenie.step2.assoc import BlockStats, NullModel, Offsets, finish_stats, remove_gaps

__all__ = ["association_calls", "call_products", "sparse_calls", "warm_kernels"]

_F64 = NDArray[np.float64]


def _padded_weights(weights: _F64) -> _F64:
    """``weights`` transposed, each column contiguous, with rows of zeros up to a multiple of 4."""
    n_weights = weights.shape[1]
    padded = np.zeros((-(-n_weights // 4) * 4, weights.shape[0]))
    padded[:n_weights] = weights.T
    return padded


def call_products(calls: NDArray[np.int8], weights: _F64,
                  ) -> tuple[_F64, _F64, NDArray[np.int64], _F64, NDArray[np.int64]]:
    """``G_imp'weights``, sums of squares of ``G_imp``, calls and dosage sums (as :func:`cross_products`) of
    the int8 ``calls`` (F order, negative = missing), ``G_imp`` the calls with each missing one at its
    variant's mean; and the number of 2s of each variant."""
    from gwasflow.regenie.kernels import calls_weighted_kernel, hard_call_scan_kernel, missing_weighted_kernel

    calls = np.asfortranarray(calls)
    n_samples, n_variants = calls.shape
    n_missing = np.empty(n_variants, dtype=np.int64)
    twos = np.empty(n_variants, dtype=np.int64)
    positions = hard_call_scan_kernel(calls, n_missing, twos)
    padded = _padded_weights(weights)
    cross = np.empty((n_variants, padded.shape[0]))
    calls_weighted_kernel(calls, padded, cross)
    cross = cross[:, :weights.shape[1]]
    dosage = cross[:, 0].copy()
    n_obs = n_samples - n_missing
    sumsq = dosage + 2.0 * twos
    if positions.size:
        missing = np.empty((n_variants, padded.shape[0]))
        missing_weighted_kernel(positions, n_samples, padded, missing)
        mean = dosage / np.maximum(n_obs, 1)
        cross += mean[:, None] * missing[:, :weights.shape[1]]
        sumsq = sumsq + n_missing * mean**2
    return cross, sumsq, n_obs, dosage, twos


def warm_kernels() -> None:
    """Import numba and load this module's compiled loops (about 0.3 s, mostly numba's start), on arrays of the
    types :func:`call_products` passes: run in a thread while the inputs are read, the blocks find them ready."""
    calls = np.zeros((4, 2), dtype=np.int8, order="F")
    weights = np.zeros((4, 4))
    call_products(calls, weights)
    calls[0, 0] = -127
    call_products(calls, weights)


def _call_gap_rows(calls: NDArray[np.int8], dosage: _F64, n_obs: NDArray[np.int64],
                   ) -> Callable[[NDArray[np.intp]], tuple[_F64, NDArray[np.int64], _F64]]:
    """:data:`~gwasflow.regenie.step2.assoc.GapRows` of int8 calls: the few rows a trait misses, made float."""
    def gap_rows(rows: NDArray[np.intp]) -> tuple[_F64, NDArray[np.int64], _F64]:
        sub = calls[rows]
        missing = sub < 0
        g: _F64 = np.where(missing, 0.0, sub.astype(np.float64))
        seen_sum: _F64 = g.sum(axis=0)
        n_missing = missing.sum(axis=0).astype(np.int64)
        if missing.any():
            g = np.where(missing, (dosage / np.maximum(n_obs, 1))[None, :], g)
        return g, n_missing, seen_sum
    return gap_rows


def sparse_calls(n_samples: int, n_obs: NDArray[np.int64], dosage: _F64, twos: NDArray[np.int64],
                 n_genotyped: int) -> NDArray[np.bool_]:
    """:func:`~gwasflow.regenie.step2.assoc.sparse_variants` of hard calls from their counts: a variant is
    sparse when at most half of the ``n_genotyped`` samples have a non-zero mean-imputed genotype: its 1s and
    2s, and its missing calls (of ``n_samples`` rows, ``n_obs`` called) unless its mean is 0."""
    ones = dosage - 2.0 * twos  # exact: sums of small integers
    nonzero = ones + twos + np.where(dosage == 0.0, 0, n_samples - n_obs)
    result: NDArray[np.bool_] = nonzero <= 0.5 * n_genotyped
    return result


def association_calls(calls: NDArray[np.int8], null: NullModel, offsets: Offsets, *,
                      n_genotyped: int | None = None) -> BlockStats:
    """:func:`~gwasflow.regenie.step2.assoc.association_block` of int8 hard calls (F order, negative =
    missing); for traits with missing samples, their share is taken out as there, regenie's sparse branch
    (:func:`sparse_calls`, over ``n_genotyped`` samples) chosen from the counts of the calls."""
    k = null.q.shape[1]
    n_pheno = null.y.shape[1]
    cross, sumsq, n_obs, dosage, twos = call_products(calls, offsets.weights)
    gtq = cross[:, 1:1 + k]
    gg = sumsq - np.einsum("ij,ij->i", gtq, gtq)
    numer = cross[:, 1 + k:] - gtq @ offsets.qte
    denom = np.repeat(gg[:, None], n_pheno, axis=1)
    counts = np.repeat(n_obs[:, None], n_pheno, axis=1)
    sums = np.repeat(dosage[:, None], n_pheno, axis=1)
    if null.gaps:
        if n_genotyped is None:
            raise ValueError("association_calls: traits with missing samples need n_genotyped")
        sparse = sparse_calls(calls.shape[0], n_obs, dosage, twos, n_genotyped)
        remove_gaps(null, sparse, gtq, denom, counts, sums, _call_gap_rows(calls, dosage, n_obs))
    return finish_stats(gg, sumsq, numer, denom, counts, sums, null, offsets, compiled=True)
