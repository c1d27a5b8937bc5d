"""Cut variants into step 2 shards and phenotypes into groups.

A step 2 shard selects its variants with regenie's ``--range CHR:START-END``
(positions inclusive), so a shard is a contiguous run of variants of one
chromosome, and two shards never share a position: a chunk boundary never
falls between two variants at the same position, even when that makes a
chunk larger than ``variants_per_job``.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gwasflow.errors import PlanError

__all__ = ["Chunk", "chrom_sort_key", "chunk_variants", "group_phenotypes"]

_NAMED_CHROMS = {"X": 23, "Y": 24, "XY": 25, "MT": 26, "M": 26}
_CHR_PREFIX = re.compile(r"^chr", re.IGNORECASE)


@dataclass(frozen=True)
class Chunk:
    """Variants ``start..end`` (positions, inclusive) of ``chrom``; ``index`` counts chunks per chromosome."""

    chrom: str
    start: int
    end: int
    n_variants: int
    index: int

    @property
    def range(self) -> str:
        """The regenie ``--range`` argument for this chunk."""
        return f"{self.chrom}:{self.start}-{self.end}"


def chrom_sort_key(chrom: str) -> tuple[int, int, str]:
    """Order chromosomes 1..22, then X (23), Y (24), XY (25), MT (26), then any other name.

    A ``chr`` prefix is ignored and PLINK's numeric codes 23-26 sort with
    their named twins.
    """
    name = _CHR_PREFIX.sub("", chrom).upper()
    if name.isdigit():
        return (0, int(name), chrom)
    if name in _NAMED_CHROMS:
        return (0, _NAMED_CHROMS[name], chrom)
    return (1, 0, chrom)


def chunk_variants(
    chrom: npt.NDArray[np.str_] | Sequence[str],
    pos: npt.NDArray[np.int64] | Sequence[int],
    variants_per_job: int,
) -> list[Chunk]:
    """Cut variants (in ``.bim`` order) into chunks of at most ``variants_per_job``.

    Each chromosome must be one contiguous run sorted by position
    (``gwasflow.validate`` reports it otherwise; here it is a :class:`PlanError`).
    Chunks come back in ``.bim`` order.
    """
    if variants_per_job <= 0:
        raise ValueError("variants_per_job must be > 0")
    chrom_arr = np.asarray(chrom, dtype=np.str_)
    pos_arr = np.asarray(pos, dtype=np.int64)
    if chrom_arr.shape != pos_arr.shape or chrom_arr.ndim != 1:
        raise ValueError("chrom and pos must be 1-d arrays of the same length")
    n = len(pos_arr)
    if n == 0:
        return []
    change = np.flatnonzero(chrom_arr[1:] != chrom_arr[:-1]) + 1
    bounds = [0, *change.tolist(), n]
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for a, b in itertools.pairwise(bounds):
        name = str(chrom_arr[a])
        if name in seen:
            raise PlanError(f"chromosome {name} is not contiguous in the variant list")
        seen.add(name)
        chunks.extend(_chunk_run(name, pos_arr[a:b], variants_per_job))
    return chunks


def _chunk_run(name: str, pos: npt.NDArray[np.int64], size: int) -> list[Chunk]:
    """Chunks of one chromosome; ``pos`` is sorted."""
    if len(pos) > 1 and bool(np.any(pos[1:] < pos[:-1])):
        raise PlanError(f"positions on chromosome {name} are not sorted")
    p: list[int] = pos.tolist()  # plain ints: per-chunk work below is scalar
    n = len(p)
    out: list[Chunk] = []
    i = 0
    while i < n:
        j = min(i + size, n)
        if j < n and p[j] == p[j - 1]:
            # j would split a run of equal positions: end before it, or after it if it starts at i
            left = bisect.bisect_left(p, p[j], i, j)
            j = left if left > i else bisect.bisect_right(p, p[j], j)
        out.append(Chunk(name, p[i], p[j - 1], j - i, len(out)))
        i = j
    return out


def group_phenotypes(columns: Sequence[str], phenotypes_per_job: int) -> list[tuple[str, ...]]:
    """Consecutive groups of at most ``phenotypes_per_job`` columns, in the given order."""
    if phenotypes_per_job <= 0:
        raise ValueError("phenotypes_per_job must be > 0")
    cols = list(columns)
    return [tuple(cols[i : i + phenotypes_per_job]) for i in range(0, len(cols), phenotypes_per_job)]
