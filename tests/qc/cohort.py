"""A simulated cohort with every feature the QC filters act on, written as PLINK 1 ``.bed/.bim/.fam``.

Features: LD blocks (variants copied from a block's lead with a few changed calls), missing calls at
varied rates (some variants above 10%), samples with high missingness, rare variants (MAF < 1%, a few
copies), variants out of Hardy-Weinberg equilibrium (all heterozygous-heavy or without heterozygotes,
some far and some mild), monomorphic and all-missing variants, nonfounders (whose calls --hwe, --maf
and pruning leave out) and one sample whose only parent column is set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from bed_reader import to_bed

MISSING = -127


def _block_genotypes(rng: np.random.Generator, n_samples: int, size: int) -> np.ndarray:
    """A block of ``size`` variants in LD: a lead variant and copies with 0-30% of calls redrawn."""
    freq = rng.uniform(0.05, 0.5)
    lead = rng.binomial(2, freq, n_samples)
    block = np.empty((n_samples, size), dtype=np.int8)
    for k in range(size):
        copy = lead.copy() if rng.random() < 0.5 else 2 - lead
        redraw = rng.random(n_samples) < rng.uniform(0.0, 0.3)
        copy[redraw] = rng.binomial(2, rng.uniform(0.05, 0.5), int(redraw.sum()))
        block[:, k] = copy
    return block


def _hwe_outlier(rng: np.random.Generator, n_samples: int, kind: str) -> np.ndarray:
    """Genotypes with too many heterozygotes (``het``), none (``hom``), or a mild excess (``mild``)."""
    if kind == "het":
        calls = np.where(rng.random(n_samples) < 0.8, 1, rng.integers(0, 3, n_samples))
    elif kind == "hom":
        calls = np.where(rng.random(n_samples) < 0.5, 0, 2)
    else:
        calls = rng.binomial(2, 0.3, n_samples)
        flip = rng.random(n_samples) < 0.08
        calls[flip] = 1
    return calls.astype(np.int8)


def simulate_qc_cohort(prefix: Path, *, n_samples: int = 600, n_blocks: int = 120, seed: int = 3) -> Path:
    """Write the cohort to ``prefix.bed/.bim/.fam``; return ``prefix``."""
    rng = np.random.default_rng(seed)
    columns: list[np.ndarray] = []
    for _ in range(n_blocks):
        columns.append(_block_genotypes(rng, n_samples, int(rng.integers(1, 12))))
        if rng.random() < 0.25:
            columns.append(rng.binomial(2, rng.uniform(0.0005, 0.012), (n_samples, 1)).astype(np.int8))
        if rng.random() < 0.12:
            kind = str(rng.choice(["het", "hom", "mild"]))
            columns.append(_hwe_outlier(rng, n_samples, kind)[:, None])
    calls = np.concatenate(columns, axis=1)
    n_variants = calls.shape[1]
    calls[:, 5] = 0  # monomorphic
    calls[:, 17] = 2
    missing_rate = np.where(rng.random(n_variants) < 0.08, rng.uniform(0.08, 0.2, n_variants),
                            rng.uniform(0.0, 0.03, n_variants))
    mask = rng.random(calls.shape) < missing_rate[None, :]
    bad_samples = rng.choice(n_samples, 12, replace=False)
    mask[bad_samples] |= rng.random((12, n_variants)) < rng.uniform(0.05, 0.2, (12, 1))
    calls[mask] = MISSING
    calls[:, 29] = MISSING  # all missing
    _write(prefix, calls, rng)
    return prefix


def _write(prefix: Path, calls: np.ndarray, rng: np.random.Generator) -> None:
    n_samples, n_variants = calls.shape
    half = n_variants // 2
    chrom = np.where(np.arange(n_variants) < half, "1", "2")
    pos = np.concatenate([np.arange(1, half + 1), np.arange(1, n_variants - half + 1)]) * 1000
    father = np.full(n_samples, "0", dtype=object)
    mother = np.full(n_samples, "0", dtype=object)
    nonfounders = rng.choice(np.arange(40, n_samples), 40, replace=False)
    father[nonfounders] = "F1_I1"
    mother[nonfounders[:30]] = "F1_I2"
    mother[3] = "F1_I2"  # one parent given: not a founder either
    values = np.where(calls == MISSING, np.nan, calls.astype(np.float64))
    to_bed(f"{prefix}.bed", values, count_A1=True, properties={
        "fid": [f"F{i // 2 + 1}" for i in range(n_samples)],
        "iid": [f"I{i + 1}" for i in range(n_samples)],
        "father": list(father), "mother": list(mother),
        "sex": list(rng.integers(1, 3, n_samples)),
        "chromosome": list(chrom), "sid": [f"rs{k + 1}" for k in range(n_variants)],
        "bp_position": list(pos), "allele_1": ["A"] * n_variants, "allele_2": ["G"] * n_variants,
    })
