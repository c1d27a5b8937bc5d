"""Small merged ``.regenie.gz`` files for the page tests: null chi-squares, planted peaks, a test gene annotation."""

from __future__ import annotations

import bisect
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

HEADER = "CHROM GENPOS ID ALLELE0 ALLELE1 A1FREQ N TEST BETA SE CHISQ LOG10P EXTRA\n"
CHROMS = ("1", "2", "3")


def write_trait(path: Path, *, seed: int, n_variants: int = 3000, peaks: int = 1, n: int = 1000) -> None:
    """A merged result file: ``n_variants`` over chromosomes 1-3, ``peaks`` strong variants with neighbours."""
    rng = np.random.default_rng(seed)
    chisq = rng.chisquare(1, size=n_variants)
    for k in range(peaks):
        at = (k + 1) * n_variants // (peaks + 1)
        chisq[at] = rng.uniform(45, 90)
        chisq[at + 1 : at + 4] = rng.uniform(15, 30, size=3)
    logp = -stats.chi2.logsf(chisq, 1) / np.log(10)
    beta = rng.normal(0, 0.05, size=n_variants)
    se = np.abs(beta) / np.sqrt(np.maximum(chisq, 1e-12))
    freq = rng.uniform(0.01, 0.99, size=n_variants)
    per_chrom = n_variants // len(CHROMS) + 1
    lines = [HEADER]
    for i in range(n_variants):
        chrom, pos = CHROMS[i // per_chrom], 10_000 * (i % per_chrom + 1)
        lines.append(f"{chrom} {pos} rs{seed}_{i} A G {freq[i]:.6g} {n} ADD {beta[i]:.6g} {se[i]:.6g} "
                     f"{chisq[i]:.6g} {logp[i]:.6g} NA\n")  # fmt: skip
    with gzip.open(path, "wt", compresslevel=1) as handle:
        handle.write("".join(lines))


def read_rows(path: Path) -> list[dict[str, str]]:
    """Every row of a result file as a dict of its text fields."""
    with gzip.open(path, "rt") as handle:
        header = handle.readline().split()
        return [dict(zip(header, line.split(), strict=True)) for line in handle]


@dataclass(frozen=True)
class Genes:
    """A test gene annotation: (chrom, start, end, name); nearest by distance to the gene's span."""

    genes: tuple[tuple[str, int, int, str], ...]

    def nearest(self, chrom: str, pos: int) -> tuple[str, int] | None:
        on = sorted((s, e, name) for c, s, e, name in self.genes if c == chrom)
        if not on:
            return None
        at = bisect.bisect_left([s for s, _, _ in on], pos)
        near = [on[i] for i in (at - 1, at) if 0 <= i < len(on)]
        best = min(near, key=lambda g: max(0, g[0] - pos, pos - g[1]))
        return best[2], max(0, best[0] - pos, pos - best[1])
