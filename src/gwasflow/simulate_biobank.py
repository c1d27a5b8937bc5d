"""A biobank-shaped cohort on disk: genotyping-array calls for step 1, imputed dosages per chromosome for step 2.

Built on a cohort from :func:`gwasflow.simulate.simulate_cohort` (its genotypes are the truth, its traits are
drawn from them):

* **array** (``.bed``): a random subset of the variants, as on a genotyping array, with the cohort's sparse
  missing calls plus the faults QC exists to remove: ``n_bad_samples`` samples and ``n_bad_variants``
  variants with ``bad_missing_rate`` of their calls missing (``mind``/``geno``), and ``n_hwe_outliers``
  variants whose heterozygous calls were in part called homozygous (a clustering error; ``hwe``);
* **imputed** (BGEN v1.2, one file per chromosome, a shared ``.sample``): every variant as a dosage
  ``d = r g + (1 - r) 2 p`` (a missing call imputed as ``2 p``), with an imputation quality ``r`` per variant,
  near 1 for most and lower for a fraction ``low_quality`` of them, so their INFO score falls below 1 and a
  ``min_info`` filter drops some.

Array faults never touch the planted variants, so the truth table stays the truth.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gwasflow.simulate import Cohort, write_plink, write_tables
from gwasflow.simulate_bgen import write_bgen, write_sample_file

__all__ = ["ArrayFaults", "BiobankFiles", "genotyping_array", "imputation_quality", "imputed_dosages", "write_biobank"]


@dataclass(frozen=True)
class ArrayFaults:
    """What QC should remove from the array: sample indices and variant ids (array order)."""

    bad_samples: tuple[int, ...]
    bad_variants: tuple[str, ...]
    hwe_outliers: tuple[str, ...]


@dataclass(frozen=True)
class BiobankFiles:
    array: Path  # PLINK prefix of the array genotypes
    n_array: int  # variants on the array
    bgen: tuple[Path, ...]  # one per chromosome, in chromosome order
    sample: Path
    pheno: Path
    covar: Path
    truth: Path
    faults: ArrayFaults


def genotyping_array(
    cohort: Cohort,
    *,
    fraction: float = 0.3,
    n_bad_samples: int = 5,
    n_bad_variants: int = 10,
    n_hwe_outliers: int = 10,
    bad_missing_rate: float = 0.1,
    seed: int = 1,
) -> tuple[Cohort, ArrayFaults]:
    """The cohort as seen by a genotyping array: a subset of its variants, with faults for QC to find."""
    rng = np.random.default_rng(seed)
    n_samples, n_variants = cohort.genotypes.shape
    on_array = np.sort(rng.choice(n_variants, size=max(1, int(fraction * n_variants)), replace=False))
    calls = cohort.genotypes[:, on_array].copy()
    spare = np.flatnonzero(~np.isin(on_array, cohort.causal_index))  # faults never hit a planted variant
    if n_bad_variants + n_hwe_outliers > spare.size or n_bad_samples > n_samples // 2:
        raise ValueError("too few variants or samples for the requested array faults")
    faulty = rng.choice(spare, size=n_bad_variants + n_hwe_outliers, replace=False)
    bad_cols, hwe_cols = np.sort(faulty[:n_bad_variants]), np.sort(faulty[n_bad_variants:])
    bad_rows = np.sort(rng.choice(n_samples, size=n_bad_samples, replace=False))
    calls[bad_rows] = np.where(rng.random((n_bad_samples, calls.shape[1])) < bad_missing_rate, -127, calls[bad_rows])
    calls[:, bad_cols] = np.where(rng.random((n_samples, bad_cols.size)) < bad_missing_rate, -127,
                                  calls[:, bad_cols])
    for col in hwe_cols:
        het = np.flatnonzero(calls[:, col] == 1)
        miscalled = het[rng.random(het.size) < 0.6]
        calls[miscalled, col] = rng.choice(np.array([0, 2], dtype=np.int8), size=miscalled.size)
    ids = cohort.variant_ids[on_array]
    array = dataclasses.replace(cohort, genotypes=calls, chrom=cohort.chrom[on_array], pos=cohort.pos[on_array],
                                variant_ids=ids, allele1=cohort.allele1[on_array], allele2=cohort.allele2[on_array])
    faults = ArrayFaults(bad_samples=tuple(int(i) for i in bad_rows), bad_variants=tuple(str(v) for v in ids[bad_cols]),
                         hwe_outliers=tuple(str(v) for v in ids[hwe_cols]))
    return array, faults


def imputation_quality(n_variants: int, *, low_quality: float = 0.15, seed: int = 2) -> NDArray[np.float64]:
    """Each variant's imputation quality ``r``: uniform in [0.95, 1], or in [0.4, 0.95] for ``low_quality`` of them."""
    rng = np.random.default_rng(seed)
    low = rng.random(n_variants) < low_quality
    quality: NDArray[np.float64] = np.where(low, rng.uniform(0.4, 0.95, n_variants), rng.uniform(0.95, 1.0, n_variants))
    return quality


def imputed_dosages(calls: NDArray[np.int8], quality: NDArray[np.float64]) -> NDArray[np.float64]:
    """Dosages of the counted allele (n_samples x n_variants): ``r g + (1 - r) 2p``, a missing call (< 0) as ``2p``.

    Computed 1,024 variants at a time, so the temporaries stay small.
    """
    dosage = np.empty(calls.shape, dtype=np.float64)
    for start in range(0, calls.shape[1], 1024):
        block = slice(start, start + 1024)
        seen = calls[:, block] >= 0
        mean = np.where(seen, calls[:, block], 0).sum(axis=0) / np.maximum(seen.sum(axis=0), 1)
        truth = np.where(seen, calls[:, block], mean)
        r = quality[block]
        dosage[:, block] = np.clip(r * truth + (1.0 - r) * mean, 0.0, 2.0)
    return dosage


def write_biobank(cohort: Cohort, folder: Path, *, seed: int = 1) -> BiobankFiles:
    """Write ``folder/array.*``, ``folder/imputed_chr<c>.bgen`` (+ ``.bgi``), ``folder/imputed.sample`` and the
    cohort's phenotype, covariate and truth tables (``folder/cohort.*``)."""
    folder.mkdir(parents=True, exist_ok=True)
    n_samples, n_variants = cohort.genotypes.shape
    n_faults = min(10, int(0.3 * n_variants) // 20)  # at most 1 in 10 array variants faulty
    array, faults = genotyping_array(cohort, n_bad_samples=min(5, n_samples // 100), n_bad_variants=n_faults,
                                     n_hwe_outliers=n_faults, seed=seed)
    write_plink(array, folder / "array")
    quality = imputation_quality(cohort.genotypes.shape[1], seed=seed + 1)
    paths = []
    for chrom in dict.fromkeys(str(c) for c in cohort.chrom):  # chromosomes in file order
        cols = np.flatnonzero(cohort.chrom == chrom)
        variants = {"chrom": cohort.chrom[cols], "pos": cohort.pos[cols], "ids": cohort.variant_ids[cols],
                    "a1": cohort.allele1[cols], "a2": cohort.allele2[cols]}
        path = folder / f"imputed_chr{chrom}.bgen"
        write_bgen(path, imputed_dosages(cohort.genotypes[:, cols], quality[cols]), variants)
        paths.append(path)
    sample = folder / "imputed.sample"
    write_sample_file(sample, [str(s) for s in cohort.sample_ids])
    pheno, covar, truth = write_tables(cohort, folder / "cohort")
    return BiobankFiles(array=folder / "array", n_array=array.genotypes.shape[1], bgen=tuple(paths), sample=sample,
                        pheno=pheno, covar=covar, truth=truth, faults=faults)
