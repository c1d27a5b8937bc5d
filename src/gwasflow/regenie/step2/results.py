"""The text of step 2's result rows for one block: variant columns, per-trait filters and formatting.

A test is written when the trait's minor allele count reaches ``--minMAC``
(recounted in regenie's order of additions at the boundary, where rounding
decides) and, with ``--minINFO`` on dosages, when the variant's INFO over all
analysed samples and over the trait's own samples reach it; the others are
counted as ignored (regenie docs, ``--minMAC`` and ``--minINFO``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gwasflow.regenie.io.bed import VariantInfo
from gwasflow.regenie.output import result_bytes
from gwasflow.regenie.step2.assoc import BinaryStats, BlockStats

__all__ = ["BlockResult", "InfoFilter", "VariantText", "format_group", "sequential_mac", "variant_text"]


@dataclass
class BlockResult:
    """One block's result rows per phenotype (UTF-8 bytes) and its counts for the log."""

    texts: list[bytes]
    ignored: int = 0
    corrected: int = 0
    failed: int = 0


@dataclass
class VariantText:
    """The block's variants' first columns as bytes: variant ``r``'s ``CHROM GENPOS ID ALLELE0 ALLELE1 `` is
    ``data[starts[r]:starts[r + 1]]`` (what :func:`gwasflow.regenie.output.result_bytes` reads)."""

    data: NDArray[np.uint8]
    starts: NDArray[np.int64]


def variant_text(variants: VariantInfo, block: NDArray[np.intp]) -> VariantText:
    """The CHROM, GENPOS, ID, ALLELE0 and ALLELE1 columns of the block's variants, as one buffer of bytes."""
    lines = [f"{c} {p} {i} {a0} {a1} ".encode() for c, p, i, a0, a1 in zip(
        variants.chrom[block].tolist(), variants.pos[block].tolist(), variants.ids[block].tolist(),
        variants.allele0[block].tolist(), variants.allele1[block].tolist(), strict=True)]
    starts = np.zeros(len(lines) + 1, dtype=np.int64)
    np.cumsum([len(line) for line in lines], out=starts[1:])
    return VariantText(np.frombuffer(b"".join(lines), dtype=np.uint8), starts)


def sequential_mac(values: NDArray[np.float64], masked: NDArray[np.bool_]) -> float:
    """A trait's minor allele count summed in regenie's order (Geno.cpp: the total over the analysed samples in
    file order, minus the trait's masked samples one by one), for variants at the ``--minMAC`` boundary, where
    the order of the floating-point additions decides whether the variant is reported."""
    seen = values[~np.isnan(values)]
    total = 0.0
    for value in seen.tolist():
        total += value
    removed = 0.0
    for value in values[masked & ~np.isnan(values)].tolist():
        removed -= value
    count = removed + total
    n_called = int(seen.size - (masked & ~np.isnan(values)).sum())
    return min(count, 2.0 * n_called - count)


@dataclass
class InfoFilter:
    """``--minINFO`` on dosage input: the threshold and which variants pass it over all analysed samples."""

    min_info: float
    overall_ok: NDArray[np.bool_]


InfoScore = Callable[[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]], NDArray[np.float64]]


def format_group(stats: BlockStats, columns: list[int], strings: VariantText, min_mac: float,
                  variance_sums: NDArray[np.float64] | None, result: BlockResult,
                  boundary_mac: Callable[[int, int], float] | None = None,
                  info_filter: InfoFilter | None = None, *, info_score: InfoScore | None = None,
                  compiled: bool = True) -> None:
    """Result lines of one phenotype group into ``result.texts``, and its counts of ignored/corrected tests.

    Counts (``N``, ``A1FREQ``, the MAC filter) are per trait when ``stats``
    has them per trait (quantitative traits with different missing samples).
    ``variance_sums`` (dosage input: the sums :meth:`GenotypeSource.read_block_info` gives) give each trait's
    INFO score through ``info_score`` (the source's, :meth:`GenotypeSource.info_score`);
    ``boundary_mac(variant, trait)`` recounts a MAC within rounding of ``min_mac``.
    With ``info_filter``, a test is ignored (as for a low MAC) when the variant's
    INFO over all analysed samples, or over the trait's own samples, is below
    ``--minINFO`` (regenie's ``info1`` and per-trait ``info`` checks). ``compiled``: the rows are written by
    the compiled loop (else by Python; the same bytes).
    """
    mac, freq, n_obs = stats.mac, stats.a1freq, stats.n_obs
    if n_obs.ndim == 1:
        mac, freq, n_obs = mac[:, None], freq[:, None], n_obs[:, None]
    for j, col in enumerate(columns):
        t = j if n_obs.shape[1] > 1 else 0
        keep = mac[:, t] >= min_mac
        if boundary_mac is not None:
            for row in np.flatnonzero(np.abs(mac[:, t] - min_mac) <= 1e-9 * max(min_mac, 1.0)).tolist():
                keep[row] = boundary_mac(row, col) >= min_mac
        if info_filter is not None and variance_sums is not None and info_score is not None:
            trait_info = info_score(variance_sums[:, col], 2.0 * freq[:, t] * n_obs[:, t], n_obs[:, t])
            keep &= info_filter.overall_ok & (trait_info >= info_filter.min_info)
        rows = np.flatnonzero(keep)
        tail = np.column_stack([stats.beta[rows, j], stats.se[rows, j], stats.chisq[rows, j],
                                stats.log10p[rows, j]])
        failed = None
        if isinstance(stats, BinaryStats):
            failed = stats.failed[rows, j]
            result.corrected += int(stats.corrected[rows, j].sum())
            result.failed += int(failed.sum())
        head = freq[rows, t][:, None]
        if variance_sums is not None and info_score is not None:
            info = info_score(variance_sums[rows, col], 2.0 * freq[rows, t] * n_obs[rows, t], n_obs[rows, t])
            head = np.column_stack([freq[rows, t], info])
        result.texts[col] = result_bytes(strings.data, strings.starts, rows, head,
                                         np.ascontiguousarray(n_obs[rows, t], dtype=np.int64), tail, failed,
                                         compiled=compiled)
        result.ignored += int((~keep).sum())
