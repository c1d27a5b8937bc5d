"""LD clumping of one phenotype's results, by the rules of ``plink2 --clump``.

plink2's procedure (docs: "LD-based result clumping", ``--clump``), with its defaults here
except ``p1`` (genome-wide significance instead of plink2's 1e-4):

* variants are matched to the genotype file by ID; a result without a genotype is left out;
* index candidates are the variants with ``p <= p1``, taken in order of p (ties: file order);
* a candidate already in an earlier clump is not an index; otherwise every variant of the
  results on its chromosome within ``kb`` (``|bp - bp_index| <= kb * 1000 - 1``) that is in no
  clump yet and has ``r2 > r2_min`` with it joins its clump, whatever its p-value (plink2's TOTAL);
* the members listed (plink2's SP2 column) are those with ``p <= p2``.

r2 comes from the genotype file (:mod:`gwasflow.report.loci.ld`): phased r2 from hard calls or
dosages, as plink2 computes it by default, over the samples given (plink2 uses the founders:
:func:`gwasflow.report.loci.founders.founder_index`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gwasflow.regenie.io.genotypes import GenotypeSource
from gwasflow.report.loci.ld import orient_minor, r2_with
from gwasflow.report.loci.results import ResultRows

__all__ = ["Clump", "ClumpOptions", "clump", "genotype_index", "lead_r2", "read_dosages"]

_EPSILON = 2.0**-44  # plink2's kSmallEpsilon, applied to thresholds as it does
_BLOCK_BYTES = 1 << 27  # dosages read at once for r2 with a lead


@dataclass(frozen=True)
class ClumpOptions:
    """plink2's ``--clump-p1``, ``--clump-p2``, ``--clump-r2``, ``--clump-kb``."""

    p1: float = 5e-8
    p2: float = 1e-2
    r2: float = 0.5
    kb: float = 250.0

    def __post_init__(self) -> None:
        if not (0.0 < self.p1 <= 1.0 and 0.0 < self.p2 <= 1.0):
            raise ValueError(f"clump p-value thresholds must be in (0, 1], got p1={self.p1} p2={self.p2}")
        if not 0.0 <= self.r2 < 1.0 or self.kb <= 0.0:
            raise ValueError(f"clump r2 must be in [0, 1) and kb > 0, got r2={self.r2} kb={self.kb}")

    @property
    def bp_radius(self) -> int:
        return int(self.kb * 1000.0 * (1.0 + _EPSILON) - 1.0)

    @property
    def min_log10p_index(self) -> float:
        return -math.log10(self.p1) * (1.0 - _EPSILON)

    @property
    def min_log10p_member(self) -> float:
        return -math.log10(self.p2) * (1.0 - _EPSILON)


@dataclass(frozen=True)
class Clump:
    """One clump: the row index of its index variant in the results and those of its members.

    ``members`` are the joined variants with ``p <= p2`` (plink2's SP2), ``total`` counts every
    joined variant (plink2's TOTAL); neither includes the index variant.
    """

    index: int
    members: tuple[int, ...]
    total: int


def read_dosages(source: GenotypeSource, variant_index: NDArray[np.intp],
                 sample_index: NDArray[np.intp] | None = None) -> NDArray[np.float64]:
    """Dosages (n_samples, n_variants) of the given genotype-file variants, each counting its minor allele."""
    order = np.argsort(variant_index, kind="stable")
    block = source.read_block(np.ascontiguousarray(variant_index[order]), sample_index)
    dosage = np.empty_like(block)
    dosage[:, order] = block
    return orient_minor(dosage)


def clump(rows: ResultRows, source: GenotypeSource, options: ClumpOptions | None = None, *,
          sample_index: NDArray[np.intp] | None = None) -> list[Clump]:
    """Clump ``rows`` (one phenotype's results) with r2 from ``source``; clumps in order of their index's p."""
    options = options or ClumpOptions()
    geno = genotype_index(rows, source)
    usable = np.flatnonzero((geno >= 0) & np.isfinite(rows.log10p))
    if usable.size == 0:
        return []
    # rows by (chromosome, position) of their genotype, for windows by bisection
    keys = (source.variants.chrom[geno[usable]].astype(np.int64) << 32) + source.variants.pos[geno[usable]]
    order = np.argsort(keys, kind="stable")
    keys, by_position = keys[order], usable[order]
    candidates = usable[rows.log10p[usable] >= options.min_log10p_index]
    ranked = sorted(candidates.tolist(), key=lambda i: (-rows.log10p[i], int(geno[i])))
    clumped = np.zeros(rows.log10p.shape[0], dtype=bool)
    clumps: list[Clump] = []
    radius, min_r2 = options.bp_radius, options.r2 * (1.0 + _EPSILON)
    for lead in ranked:
        if clumped[lead]:
            continue
        clumped[lead] = True
        chrom, pos = int(source.variants.chrom[geno[lead]]), int(source.variants.pos[geno[lead]])
        lo = int(np.searchsorted(keys, (chrom << 32) + max(pos - radius, 0), side="left"))
        hi = int(np.searchsorted(keys, (chrom << 32) + pos + radius, side="right"))
        window = by_position[lo:hi]
        window = window[~clumped[window]]
        with np.errstate(invalid="ignore"):
            joined = window[lead_r2(source, int(geno[lead]), geno[window], sample_index) > min_r2]
        clumped[joined] = True
        members = tuple(int(i) for i in joined if rows.log10p[i] >= options.min_log10p_member)
        clumps.append(Clump(index=int(lead), members=members, total=int(joined.size)))
    return clumps


def genotype_index(rows: ResultRows, source: GenotypeSource) -> NDArray[np.intp]:
    """For each result row, the index of its variant in the genotype file (by ID), -1 if absent.

    Raises ``ValueError`` naming an ID found twice in the genotype file (plink2 refuses it too).
    """
    position: dict[str, int] = {}
    wanted = set(rows.ids.tolist())
    for index, name in enumerate(source.variants.ids.tolist()):
        if name in wanted:
            if name in position:
                raise ValueError(f"variant ID {name!r} appears more than once in the genotype file")
            position[name] = index
    return np.array([position.get(name, -1) for name in rows.ids.tolist()], dtype=np.intp)


def lead_r2(source: GenotypeSource, geno_lead: int, geno_others: Sequence[int] | NDArray[np.intp],
            sample_index: NDArray[np.intp] | None = None) -> NDArray[np.float64]:
    """r2 of each of ``geno_others`` (genotype-file indices) with the variant ``geno_lead``; NaN where undefined.

    The others are read in blocks of at most about 128 MiB of dosages, so a dense window of a
    biobank-sized file does not have to fit in memory at once.
    """
    others = np.asarray(geno_others, dtype=np.intp)
    out = np.empty(others.size)
    if others.size == 0:
        return out
    lead = read_dosages(source, np.array([geno_lead], dtype=np.intp), sample_index)[:, 0]
    step = max(1, _BLOCK_BYTES // (8 * max(1, lead.shape[0])))
    for start in range(0, others.size, step):
        block = read_dosages(source, others[start:start + step], sample_index)
        out[start:start + step] = r2_with(lead, block)
    return out
