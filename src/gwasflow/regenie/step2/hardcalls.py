"""The quantitative-trait test of a block of hard calls (``.bed``), straight from the int8 calls.

The model and the statistics are :func:`gwasflow.regenie.step2.assoc.association_block`'s; here the
products ``G'[1 | Q | E]`` are summed by a compiled loop over the 1-byte calls
(:func:`gwasflow.regenie.kernels.calls_weighted_kernel`), which runs without the GIL and without the
block's float64 copy (80 MB for 10,000 samples x 1,000 variants, written and read again): missing calls
count 0 and mean imputation is applied afterwards as a correction of the products, exactly as
:func:`~gwasflow.regenie.step2.assoc.cross_products` does (its ``M'W`` by a compiled loop too: the GIL
is held only to set the work up). Sums of squares are ``sum g + 2 (number of
2s)``. Used when no trait has missing samples (the per-trait sums of regenie's masked samples need the
block's values: :func:`~gwasflow.regenie.step2.assoc.association_block` does those).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from gwasflow.regenie.step2.assoc import BlockStats, NullModel, Offsets, finish_stats

__all__ = ["association_calls", "warm_kernels"]

_F64 = NDArray[np.float64]


def _padded_weights(weights: _F64) -> _F64:
    """``weights`` transposed, each column contiguous, with rows of zeros up to a multiple of 4."""
    n_weights = weights.shape[1]
    padded = np.zeros((-(-n_weights // 4) * 4, weights.shape[0]))
    padded[:n_weights] = weights.T
    return padded


def call_products(calls: NDArray[np.int8], weights: _F64) -> tuple[_F64, _F64, NDArray[np.int64], _F64]:
    """``G_imp'weights``, sums of squares of ``G_imp``, calls and dosage sums (as :func:`cross_products`) of
    the int8 ``calls`` (F order, negative = missing), ``G_imp`` the calls with each missing one at its
    variant's mean."""
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
    return cross, sumsq, n_obs, dosage


def warm_kernels() -> None:
    """Import numba and load this module's compiled loops (about 0.3 s, mostly numba's start), on arrays of the
    types :func:`call_products` passes: run in a thread while the inputs are read, the blocks find them ready."""
    calls = np.zeros((4, 2), dtype=np.int8, order="F")
    weights = np.zeros((4, 4))
    call_products(calls, weights)
    calls[0, 0] = -127
    call_products(calls, weights)


def association_calls(calls: NDArray[np.int8], null: NullModel, offsets: Offsets) -> BlockStats:
    """:func:`~gwasflow.regenie.step2.assoc.association_block` of int8 hard calls, for a null model whose
    traits miss no sample (``null.gaps`` empty)."""
    if null.gaps:
        raise ValueError("association_calls: the traits have missing samples; use association_block")
    k = null.q.shape[1]
    n_pheno = null.y.shape[1]
    cross, sumsq, n_obs, dosage = call_products(calls, offsets.weights)
    gtq = cross[:, 1:1 + k]
    gg = sumsq - np.einsum("ij,ij->i", gtq, gtq)
    numer = cross[:, 1 + k:] - gtq @ offsets.qte
    return finish_stats(gg, sumsq, numer, np.repeat(gg[:, None], n_pheno, axis=1),
                        np.repeat(n_obs[:, None], n_pheno, axis=1), np.repeat(dosage[:, None], n_pheno, axis=1),
                        null, offsets)
