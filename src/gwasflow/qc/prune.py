"""LD pruning as plink2's ``--indep-pairwise WINDOW STEP R2`` (window in variants), on founders' hard calls.

The rule (plink2 2.00a3.5, ``IndepPairwise`` in plink2_ld.cc; documented under
``--indep-pairwise``), per chromosome over the variants that passed QC:

* a chromosome with a single variant is left alone;
* windows of ``WINDOW`` variants start at the chromosome's first variant and
  move by ``STEP`` variants; the last one ends at the chromosome's end;
* a variant that is monomorphic among the founders' calls is removed when it
  enters a window;
* at the end of each window, scan the variants still in it in order: for the
  first variant ``i``, find the first later variant ``j`` with r^2 above the
  threshold; remove the one with the higher major-allele frequency (``i``
  only when its frequency is higher beyond a 2^-44 relative guard, else
  ``j``), and go on with the variant after ``i``; repeat the scan until a
  pass removes nothing;
* r^2 of a pair is the squared correlation of the genotypes (coded +1, 0, -1)
  over the founders called at both variants, computed from integer sums as
  plink2 does: ``cov^2 > r2 * (1 + 2^-44) * var1 * var2`` prunes.

Major-allele frequencies come from each variant's own founder calls.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from gwasflow.errors import EngineInputError
from gwasflow.qc.model import PruneConfig
from gwasflow.qc.source import CallSource

__all__ = ["indep_pairwise", "prune_window_exceed"]

SMALL_EPSILON = 2.0**-44
MIN_FOUNDERS = 50


def indep_pairwise(source: CallSource, variant_index: NDArray[np.intp], founder_index: NDArray[np.intp],
                   config: PruneConfig) -> NDArray[np.intp]:
    """Indices (into ``source``'s variants) of the variants that pruning removes from ``variant_index``."""
    if founder_index.size < MIN_FOUNDERS:
        raise EngineInputError(
            f"{source.prefix}: LD pruning needs at least {MIN_FOUNDERS} founders, found {founder_index.size}")
    ids = source.variants.ids[variant_index]
    if np.unique(ids).size != ids.size:
        raise EngineInputError(f"{source.prefix}: duplicate variant ids; LD pruning needs unique ids")
    chrom = source.variants.chrom[variant_index]
    removed: list[NDArray[np.intp]] = []
    with threadpool_limits(limits=1, user_api="blas"):  # many small products: threads only cost here
        for code in np.unique(chrom):
            members = variant_index[chrom == code]
            if members.size > 1:
                removed.append(_prune_chromosome(source, members, founder_index, config))
    return np.sort(np.concatenate(removed)) if removed else np.zeros(0, dtype=np.intp)


def _prune_chromosome(source: CallSource, members: NDArray[np.intp], founder_index: NDArray[np.intp],
                      config: PruneConfig) -> NDArray[np.intp]:
    """Removed variants of one chromosome (``members`` in file order)."""
    calls = _signed_calls(source.read_raw(members, founder_index))
    called = calls != _MISSING
    n_called = called.sum(axis=0)
    n_plus = (calls == 1).sum(axis=0)
    n_minus = (calls == -1).sum(axis=0)
    monomorphic = ((n_plus == 0) & (n_minus == 0)) | (n_plus == n_called) | (n_minus == n_called)
    with np.errstate(invalid="ignore", divide="ignore"):
        plus_freq = (2 * n_plus + (n_called - n_plus - n_minus)) / (2 * n_called)
    major_freq = np.maximum(plus_freq, 1.0 - plus_freq)
    removed = np.zeros(members.size, dtype=bool)
    window = np.zeros(0, dtype=np.intp)
    exceed = np.zeros((0, 0), dtype=bool)
    start, loaded, end = 0, 0, min(config.window, members.size)
    while True:
        fresh = np.arange(loaded, end, dtype=np.intp)
        removed[fresh[monomorphic[fresh]]] = True
        window, exceed = _extend_window(window, exceed, fresh[~monomorphic[fresh]], calls, config.r2)
        loaded = end
        _prune_window(window, exceed, major_freq, removed)
        if end == members.size:
            break
        start += config.step
        end = min(start + config.window, members.size)
        stay = ~removed[window] & (window >= start)
        window, exceed = window[stay], exceed[np.ix_(stay, stay)]
    return members[removed]


_MISSING = 9


def _signed_calls(raw: NDArray[np.int8]) -> NDArray[np.int8]:
    """Hard calls 0/1/2 as -1/0/+1 (plink2's coding for r^2), missing as :data:`_MISSING`; one byte each, as a
    chromosome's founder calls are held at once."""
    signed: NDArray[np.int8] = np.where(raw < 0, np.int8(_MISSING), raw - np.int8(1)).astype(np.int8)
    return signed


def _extend_window(window: NDArray[np.intp], exceed: NDArray[np.bool_], fresh: NDArray[np.intp],
                   calls: NDArray[np.integer], r2: float) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
    """The window with ``fresh`` variants appended; only the pairs involving them are computed."""
    if fresh.size == 0:
        return window, exceed
    grown = np.concatenate([window, fresh])
    cross = prune_window_exceed(calls[:, grown], r2, calls[:, fresh])
    matrix = np.zeros((grown.size, grown.size), dtype=bool)
    matrix[:window.size, :window.size] = exceed
    matrix[:, window.size:] = cross
    matrix[window.size:, :] = cross.T
    return grown, matrix


def _prune_window(window: NDArray[np.intp], exceed: NDArray[np.bool_], major_freq: NDArray[np.float64],
                  removed: NDArray[np.bool_]) -> None:
    """plink2's end-of-window scan, repeated until a pass removes nothing (``removed`` updated in place)."""
    if window.size < 2:
        return
    gone = removed[window].copy()
    changed = True
    while changed:
        changed = False
        for i in range(window.size):
            if gone[i]:
                continue
            hits = np.flatnonzero(exceed[i, i + 1:] & ~gone[i + 1:])
            if hits.size == 0:
                continue
            j = i + 1 + int(hits[0])
            first, second = window[i], window[j]
            loser = i if major_freq[first] > major_freq[second] * (1 + SMALL_EPSILON) else j
            gone[loser] = True
            changed = True
    removed[window[gone]] = True


def prune_window_exceed(calls: NDArray[np.integer], r2: float, other: NDArray[np.integer] | None = None,
                        ) -> NDArray[np.bool_]:
    """For every column pair of ``calls`` (n_samples, n_a) and ``other`` (n_samples, n_b; default ``calls``),
    coded -1/0/+1 with missing :data:`_MISSING`: whether r^2 over the samples called at both exceeds ``r2``
    by plink2's integer rule. Shape (n_a, n_b)."""
    a_called, a_values = _split(calls)
    b_called, b_values = (a_called, a_values) if other is None else _split(other)
    n = _int_product(a_called, b_called)
    sums_a = _int_product(a_values, b_called)  # [i, j]: sum of a_i over the samples called at b_j
    sums_b = _int_product(a_called, b_values)  # [i, j]: sum of b_j over the samples called at a_i
    squares_a = _int_product(a_values * a_values, b_called)
    squares_b = _int_product(a_called, b_values * b_values)
    dot = _int_product(a_values, b_values)
    cov = (dot * n - sums_a * sums_b).astype(np.float64)
    var1 = (squares_a * n - sums_a * sums_a).astype(np.float64)
    var2 = (squares_b * n - sums_b * sums_b).astype(np.float64)
    threshold = r2 * (1 + SMALL_EPSILON)
    exceed: NDArray[np.bool_] = cov * cov > threshold * var1 * var2
    return exceed


def _split(calls: NDArray[np.integer]) -> tuple[NDArray[np.floating], NDArray[np.floating]]:
    """Called indicator and values (0 where missing) for BLAS products of small integers: float32, whose
    sums of at most 2^24 terms of -1, 0 or 1 are exact (twice float64's speed), float64 beyond."""
    dtype = np.float32 if calls.shape[0] < _EXACT_FLOAT32 else np.float64
    missing = calls == _MISSING
    return (~missing).astype(dtype), np.where(missing, 0, calls).astype(dtype)


_EXACT_FLOAT32 = 2**24


def _int_product(a: NDArray[np.floating], b: NDArray[np.floating]) -> NDArray[np.int64]:
    """``a.T @ b`` of small integers (exact, see :func:`_split`), as int64."""
    product: NDArray[np.int64] = np.rint(a.T @ b).astype(np.int64)
    return product
