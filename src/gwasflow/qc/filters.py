"""The built-in QC: plink2's sample and variant filters, in plink2's order, on a ``.bed`` or hard-call ``.pgen``.

The order and rules are those of plink2 2.00a3.5 for
``--mind --geno --hwe --maf --mac`` (its documented order of operations;
``plink2.cc`` applies them in this sequence):

1. ``--mind``: a sample is removed when its missing calls over all variants
   exceed ``floor(mind * n_variants)``.
2. ``--geno``: a variant is removed when its missing calls over the samples
   left exceed ``floor(geno * n_samples)``.
3. ``--hwe``: exact test (:mod:`gwasflow.qc.hwe`) on the genotype counts of
   the founders left (both parents ``0`` in the .fam); removed when p is below
   the threshold; a variant with no founder call is kept.
4. ``--maf`` / ``--mac`` (one filter in plink2): founder allele counts; the
   frequency of the non-major allele below ``maf``, or its count below
   ``mac``, removes the variant. A variant with no founder call has
   frequencies 1/2 (kept by ``--maf``) and count 0 (removed by ``--mac``).
5. ``--indep-pairwise`` (:mod:`gwasflow.qc.prune`) over what is left.

Thresholds carry plink2's guard of 2^-44 against rounding. Only autosomes
(chromosomes 1-22) are handled: plink2 treats X, Y and MT by sex, which the
built-in filters do not model.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from gwasflow.errors import EngineInputError
from gwasflow.qc.hwe import hwe_exact_p
from gwasflow.qc.model import GenotypeFormat, QcConfig, QcEngine, QcFilter, QcResult
from gwasflow.qc.source import CallSource, open_call_source, read_founders

__all__ = ["GenotypeCounts", "read_founders", "run_builtin_qc"]

SMALL_EPSILON = 2.0**-44
_BLOCK_BYTES = 1 << 24


class GenotypeCounts:
    """Per-variant counts over the samples kept by ``--mind``: missing calls (all) and genotypes (founders)."""

    def __init__(self, n_variants: int):
        self.missing = np.zeros(n_variants, dtype=np.int64)
        self.hom_a1 = np.zeros(n_variants, dtype=np.int64)
        self.het = np.zeros(n_variants, dtype=np.int64)
        self.hom_a2 = np.zeros(n_variants, dtype=np.int64)


def run_builtin_qc(prefix: str, config: QcConfig, kind: GenotypeFormat = GenotypeFormat.BED) -> QcResult:
    """Apply ``config`` to ``PREFIX.bed/.bim/.fam`` (or a hard-call ``.pgen/.pvar/.psam``); raise
    :class:`EngineInputError` on unusable input."""
    source, founders = open_call_source(prefix, kind)
    _check_autosomes(source)
    removed: dict[QcFilter, int] = {}
    keep_samples = np.ones(source.n_samples, dtype=bool)
    if config.mind is not None:
        keep_samples = _mind_filter(source, config.mind)
        removed[QcFilter.MIND] = int((~keep_samples).sum())
    sample_index = np.flatnonzero(keep_samples)
    if sample_index.size == 0:
        raise EngineInputError(f"{prefix}: no samples remaining after --mind {config.mind} (plink2 stops here too)")
    counts = _count_genotypes(source, sample_index, founders[sample_index])
    keep_variants = np.ones(source.n_variants, dtype=bool)
    if config.geno is not None:
        limit = int(config.geno * (1 + SMALL_EPSILON) * sample_index.size)
        _drop(keep_variants, counts.missing > limit, QcFilter.GENO, removed)
    if config.hwe is not None:
        p = hwe_exact_p(counts.het, counts.hom_a1, counts.hom_a2)
        observed = counts.het + counts.hom_a1 + counts.hom_a2 > 0
        _drop(keep_variants, observed & (p < config.hwe * (1 - SMALL_EPSILON)), QcFilter.HWE, removed)
    if config.maf is not None or config.mac is not None:
        _drop(keep_variants, _fails_frequency(counts, config), QcFilter.MAF_MAC, removed)
    if not keep_variants.any():
        raise EngineInputError(f"{prefix}: no variants remaining after the filters (plink2 stops here too)")
    if config.prune is not None:
        from gwasflow.qc.prune import indep_pairwise

        founder_index = sample_index[founders[sample_index]]
        pruned = indep_pairwise(source, np.flatnonzero(keep_variants), founder_index, config.prune)
        removed[QcFilter.PRUNE] = int(pruned.size)
        keep_variants[pruned] = False
    return QcResult(
        engine=QcEngine.BUILTIN,
        variant_ids=tuple(str(v) for v in source.variants.ids[keep_variants]),
        samples=tuple((source.fid[i], source.iid[i]) for i in sample_index),
        n_variants_in=source.n_variants,
        n_samples_in=source.n_samples,
        removed=removed,
    )


def _check_autosomes(source: CallSource) -> None:
    other = np.flatnonzero(source.variants.chrom > 22)
    if other.size:
        first = int(other[0])
        raise EngineInputError(
            f"{source.prefix}: variant {source.variants.ids[first]} (number {first + 1}) is not on an autosome; "
            "the built-in QC handles chromosomes 1-22 only (use --engine plink2)"
        )


def _blocks(source: CallSource, n_samples: int) -> list[NDArray[np.intp]]:
    per_block = max(1, _BLOCK_BYTES // max(1, n_samples))
    return [np.arange(start, min(start + per_block, source.n_variants), dtype=np.intp)
            for start in range(0, source.n_variants, per_block)]


def _mind_filter(source: CallSource, mind: float) -> NDArray[np.bool_]:
    """Samples kept by ``--mind``: missing calls over all variants at most ``floor(mind * n_variants)``."""
    missing = np.zeros(source.n_samples, dtype=np.int64)
    for block in _blocks(source, source.n_samples):
        missing += (source.read_raw(block) < 0).sum(axis=1)
    limit = int(source.n_variants * (mind * (1 + SMALL_EPSILON)))
    kept: NDArray[np.bool_] = missing <= limit
    return kept


def _count_genotypes(source: CallSource, sample_index: NDArray[np.intp], is_founder: NDArray[np.bool_],
                     ) -> GenotypeCounts:
    counts = GenotypeCounts(source.n_variants)
    for block in _blocks(source, sample_index.size):
        calls = source.read_raw(block, sample_index)
        counts.missing[block] = (calls < 0).sum(axis=0)
        founder_calls = calls[is_founder]
        counts.hom_a1[block] = (founder_calls == 2).sum(axis=0)
        counts.het[block] = (founder_calls == 1).sum(axis=0)
        counts.hom_a2[block] = (founder_calls == 0).sum(axis=0)
    return counts


def _fails_frequency(counts: GenotypeCounts, config: QcConfig) -> NDArray[np.bool_]:
    """plink2's ``--maf``/``--mac`` rule on founder allele counts (non-major allele)."""
    a1 = 2 * counts.hom_a1 + counts.het
    a2 = 2 * counts.hom_a2 + counts.het
    total = a1 + a2
    minor = np.minimum(a1, a2)
    fails = np.zeros(total.shape[0], dtype=bool)
    if config.maf is not None and config.maf > 0.0:
        with np.errstate(invalid="ignore", divide="ignore"):
            freq = np.where(total > 0, minor / np.maximum(total, 1), 0.5)
        fails |= freq < config.maf * (1 - SMALL_EPSILON)
    if config.mac is not None and config.mac > 0.0:
        fails |= minor < config.mac
    return fails


def _drop(keep: NDArray[np.bool_], fails: NDArray[np.bool_], name: QcFilter, removed: dict[QcFilter, int]) -> None:
    """Remove the still-kept variants that fail ``name``; count them under it."""
    newly = keep & fails
    removed[name] = int(newly.sum())
    keep &= ~newly
