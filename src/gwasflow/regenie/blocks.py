"""Which variants a run reads and in which blocks: shared by step 1 and step 2.

``--chr``, ``--range`` and ``--extract``/``--exclude`` select variants (in
file order); blocks hold at most ``--bsize`` variants of one chromosome
(regenie docs, "Options": ``--bsize``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from gwasflow.regenie.io.bed import VariantInfo
from gwasflow.regenie.io.lists import read_variant_list
from gwasflow.regenie.options import Options

__all__ = ["iter_blocks", "select_variants"]


def select_variants(variants: VariantInfo, opts: Options) -> NDArray[np.intp]:
    """Indices (in file order) of the variants kept by ``--chr``, ``--range`` and ``--extract``/``--exclude``."""
    keep = np.ones(variants.chrom.shape[0], dtype=bool)
    if opts.extract:
        keep &= np.isin(variants.ids, sorted(read_variant_list(opts.extract, "--extract")))
    if opts.exclude:
        keep &= ~np.isin(variants.ids, sorted(read_variant_list(opts.exclude, "--exclude")))
    if opts.chrs:
        keep &= np.isin(variants.chrom, opts.chrs)
    if opts.range is not None:
        r = opts.range
        keep &= (variants.chrom == r.chrom) & (variants.pos >= r.start) & (variants.pos <= r.end)
    return np.flatnonzero(keep).astype(np.intp)


def iter_blocks(index: NDArray[np.intp], chrom: NDArray[np.int64], bsize: int,
                ) -> Iterator[tuple[int, NDArray[np.intp]]]:
    """Split ``index`` into runs of one chromosome, then into blocks of at most ``bsize``."""
    if index.size == 0:
        return
    codes = chrom[index]
    starts = np.flatnonzero(np.diff(codes)) + 1
    for run in np.split(index, starts):
        for first in range(0, run.size, bsize):
            yield int(chrom[run[0]]), run[first:first + bsize]
