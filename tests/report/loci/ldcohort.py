"""A small cohort with linkage disequilibrium and association results, for the clumping tests.

``gwasflow.simulate`` draws independent variants (no LD), so clumping it is trivial. Here each
chromosome's haplotypes are mosaics of a few founder haplotypes, switching founder between
neighbouring variants with a probability that grows with their distance: nearby variants are in
strong LD, distant ones nearly independent. Genotypes are two haplotypes (a few calls missing); one
trait has planted effects, and the results are regenie-format rows whose LOG10P comes from each
variant's marginal linear regression.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from bed_reader import to_bed
from scipy import stats

__all__ = ["LdCohort", "write_ld_cohort"]


@dataclass(frozen=True)
class LdCohort:
    bed_prefix: Path
    results: Path  # regenie-format, gzip, with LOG10P
    plink_results: Path  # ID and P, for plink --clump
    n_significant: int


def _haplotypes(rng: np.random.Generator, n_hap: int, pos: np.ndarray, n_founders: int) -> np.ndarray:
    founders = (rng.random((n_founders, pos.size)) < rng.uniform(0.05, 0.6, pos.size)).astype(np.int8)
    for j in range(1, pos.size):  # neighbours often split the founders the same way: LD among founders
        if rng.random() < 0.8:
            founders[:, j] = founders[:, j - 1] if rng.random() < 0.7 else 1 - founders[:, j - 1]
    switch = rng.random((n_hap, pos.size)) < 1.0 - np.exp(-np.diff(pos, prepend=pos[0]) / 60_000.0)
    choice = np.empty((n_hap, pos.size), dtype=np.intp)
    choice[:, 0] = rng.integers(0, n_founders, n_hap)
    fresh = rng.integers(0, n_founders, (n_hap, pos.size))
    for j in range(1, pos.size):
        choice[:, j] = np.where(switch[:, j], fresh[:, j], choice[:, j - 1])
    haps = founders[choice, np.arange(pos.size)]
    mutate = rng.random(haps.shape) < 0.005
    return np.where(mutate, 1 - haps, haps).astype(np.int8)


def write_ld_cohort(out: Path, *, n_samples: int = 600, per_chrom: int = 400, seed: int = 11) -> LdCohort:
    """Write ``out/ld.bed/.bim/.fam``, ``out/ld.regenie.gz`` and ``out/ld.plink.txt``."""
    rng = np.random.default_rng(seed)
    chroms, positions, genotypes = [], [], []
    for chrom in (1, 2, 3):
        pos = np.cumsum(rng.integers(500, 6_000, per_chrom)).astype(np.int64) + 10_000
        haps = _haplotypes(rng, 2 * n_samples, pos, n_founders=6)
        genotypes.append(haps[0::2] + haps[1::2])
        chroms.append(np.full(per_chrom, chrom))
        positions.append(pos)
    geno = np.concatenate(genotypes, axis=1).astype(np.float64)
    chrom_all, pos_all = np.concatenate(chroms), np.concatenate(positions)
    n_variants = geno.shape[1]
    causal = rng.choice(n_variants, 16, replace=False)
    y = geno[:, causal] @ rng.choice([-0.5, 0.5], causal.size) + rng.standard_normal(n_samples)
    geno[rng.random(geno.shape) < 0.01] = np.nan
    ids = np.array([f"v{c}_{p}" for c, p in zip(chrom_all, pos_all, strict=True)])
    log10p = np.array([_log10p(geno[:, j], y) for j in range(n_variants)])
    out.mkdir(parents=True, exist_ok=True)
    prefix = out / "ld"
    to_bed(f"{prefix}.bed", geno.astype(np.float32), count_A1=True,
           properties={"fid": [f"S{i}" for i in range(n_samples)], "iid": [f"S{i}" for i in range(n_samples)],
                       "chromosome": chrom_all.astype(str), "sid": ids, "bp_position": pos_all,
                       "allele_1": np.full(n_variants, "A"), "allele_2": np.full(n_variants, "G")})
    results = out / "ld.regenie.gz"
    with gzip.open(results, "wt") as handle:
        handle.write("CHROM\tGENPOS\tID\tALLELE0\tALLELE1\tLOG10P\n")
        for c, p, i, lp in zip(chrom_all.tolist(), pos_all.tolist(), ids.tolist(), log10p.tolist(), strict=True):
            handle.write(f"{c}\t{p}\t{i}\tG\tA\t{lp!r}\n")
    plink = out / "ld.plink.txt"
    with plink.open("w") as handle:
        handle.write("ID\tP\n")
        for i, lp in zip(ids.tolist(), log10p.tolist(), strict=True):
            handle.write(f"{i}\t{10.0 ** -lp!r}\n")
    return LdCohort(prefix, results, plink, int((log10p > -np.log10(5e-8)).sum()))


def _log10p(g: np.ndarray, y: np.ndarray) -> float:
    seen = ~np.isnan(g)
    if np.ptp(g[seen]) == 0:
        return 0.0  # monomorphic here: no test
    result = stats.linregress(g[seen], y[seen])
    return float(-np.log10(result.pvalue)) if result.pvalue > 0 else 300.0
