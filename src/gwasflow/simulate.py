"""Synthetic cohorts with planted effects, for ``gwasflow demo``, tests and benchmarks.

The model is deliberately simple and fully known, so a run's results can be
checked against the truth:

* genotypes: independent variants (no LD), minor allele frequency uniform in
  ``[maf_min, 0.5]``, Hardy-Weinberg proportions, a small fraction missing;
* covariates: ``age`` (standardized), ``sex`` (0/1) and ``pc1`` (standard normal);
* trait ``Y1``: covariate effects + ``n_causal`` planted additive effects, each
  explaining ``h2_per_causal`` of the phenotypic variance, + Gaussian noise;
* trait ``Y2``: covariate effects + noise only (a null trait: its genomic
  inflation lambda GC should be close to 1);
* about 0.5% of phenotype values are missing (``NA``), independently per trait.

With ``trait="binary"`` both traits are case/control (1/0) instead: the log-odds
are covariate effects + (for ``Y1``) the planted effects, each a per-allele
log odds ratio of +-``log_or``, and an intercept chosen so that a fraction
``prevalence`` of samples are cases.

Files written for a prefix ``P``: ``P.bed/.bim/.fam`` (PLINK 1, SNP-major,
A1 = the counted allele = .bim column 5), ``P.pheno.txt``, ``P.covar.txt``
(whitespace-separated, ``FID IID`` header) and a truth table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from bed_reader import to_bed

__all__ = ["Cohort", "CohortFiles", "simulate_cohort", "write_cohort", "write_plink", "write_tables"]

_NUCLEOTIDES = np.array(["A", "C", "G", "T"])


@dataclass(frozen=True)
class Cohort:
    """A simulated cohort held in memory."""

    genotypes: np.ndarray  # (n_samples, n_variants) int8, -127 = missing, counts of A1
    chrom: np.ndarray  # (n_variants,) str
    pos: np.ndarray  # (n_variants,) int64
    variant_ids: np.ndarray  # (n_variants,) str
    allele1: np.ndarray  # counted allele
    allele2: np.ndarray
    sample_ids: np.ndarray  # (n_samples,) str; FID = IID
    covariates: dict[str, np.ndarray]
    phenotypes: dict[str, np.ndarray]  # NaN = missing
    causal_index: np.ndarray  # indices of the planted variants in Y1
    causal_beta: np.ndarray  # their per-allele effects


@dataclass(frozen=True)
class CohortFiles:
    prefix: Path
    bed: Path
    pheno: Path
    covar: Path
    truth: Path


def simulate_cohort(
    *,
    n_samples: int = 2000,
    n_variants: int = 20_000,
    n_chrom: int = 3,
    n_causal: int = 20,
    h2_per_causal: float = 0.025,
    maf_min: float = 0.05,
    missing_rate: float = 0.002,
    seed: int = 7,
    trait: str = "quantitative",
    prevalence: float = 0.15,
    log_or: float = 0.9,
) -> Cohort:
    """Draw a cohort. Same arguments and seed, same cohort, on any machine."""
    if n_samples < 10 or n_variants < n_chrom or n_chrom < 1:
        raise ValueError("need at least 10 samples and one variant per chromosome")
    if trait not in ("quantitative", "binary"):
        raise ValueError(f"trait must be quantitative or binary, got {trait!r}")
    if trait == "quantitative" and n_causal * h2_per_causal >= 0.9:
        raise ValueError("planted effects would explain >= 90% of the variance")
    rng = np.random.default_rng(seed)
    maf = rng.uniform(maf_min, 0.5, size=n_variants)
    genotypes = rng.binomial(2, maf, size=(n_samples, n_variants)).astype(np.int8)
    missing = rng.random(size=genotypes.shape) < missing_rate
    chrom, pos = _layout(n_variants, n_chrom, rng)
    covariates = {
        "age": rng.standard_normal(n_samples),
        "sex": rng.integers(0, 2, size=n_samples).astype(np.float64),
        "pc1": rng.standard_normal(n_samples),
    }
    base = 0.3 * covariates["age"] + 0.5 * covariates["sex"] - 0.2 * covariates["pc1"]
    causal = np.sort(rng.choice(n_variants, size=n_causal, replace=False))
    # per-allele effect so that each causal variant explains h2_per_causal of Var(Y1) = 1 (+ covariates)
    var_g = 2 * maf[causal] * (1 - maf[causal])
    beta = np.sqrt(h2_per_causal / var_g) * rng.choice([-1.0, 1.0], size=n_causal)
    genetic = genotypes[:, causal].astype(np.float64) @ beta
    genetic -= genetic.mean()
    if trait == "binary":
        beta = log_or * np.sign(beta)
        genetic = genotypes[:, causal].astype(np.float64) @ beta
        genetic -= genetic.mean()
        y1 = _cases(base + genetic, prevalence, rng)
        y2 = _cases(base, prevalence, rng)
    else:
        noise_sd = np.sqrt(1.0 - n_causal * h2_per_causal)
        y1 = base + genetic + noise_sd * rng.standard_normal(n_samples)
        y2 = base + rng.standard_normal(n_samples)
    for y in (y1, y2):
        y[rng.random(n_samples) < 0.005] = np.nan
    genotypes[missing] = -127
    ids = np.array([f"S{i + 1:06d}" for i in range(n_samples)])
    alleles = rng.choice(4, size=(n_variants, 2), replace=True)
    alleles[:, 1] = (alleles[:, 0] + rng.integers(1, 4, size=n_variants)) % 4
    return Cohort(
        genotypes=genotypes,
        chrom=chrom,
        pos=pos,
        variant_ids=np.array([f"rs{c}_{p}" for c, p in zip(chrom, pos, strict=True)]),
        allele1=_NUCLEOTIDES[alleles[:, 0]],
        allele2=_NUCLEOTIDES[alleles[:, 1]],
        sample_ids=ids,
        covariates=covariates,
        phenotypes={"Y1": y1, "Y2": y2},
        causal_index=causal,
        causal_beta=beta,
    )


def _cases(log_odds: np.ndarray, prevalence: float, rng: np.random.Generator) -> np.ndarray:
    """Draw 0/1 outcomes with an intercept found by bisection so that the mean risk is ``prevalence``."""
    low, high = -30.0, 30.0
    for _ in range(80):
        mid = (low + high) / 2
        risk = 1.0 / (1.0 + np.exp(-(log_odds + mid)))
        low, high = (mid, high) if risk.mean() < prevalence else (low, mid)
    risk = 1.0 / (1.0 + np.exp(-(log_odds + (low + high) / 2)))
    return (rng.random(log_odds.shape[0]) < risk).astype(np.float64)


def _layout(n_variants: int, n_chrom: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Chromosome labels and strictly increasing positions within each chromosome."""
    sizes = np.full(n_chrom, n_variants // n_chrom)
    sizes[: n_variants % n_chrom] += 1
    chrom = np.repeat(np.array([str(c + 1) for c in range(n_chrom)]), sizes)
    pos = np.concatenate([np.cumsum(rng.integers(1_000, 20_000, size=s)) for s in sizes]).astype(np.int64)
    return chrom, pos


def write_cohort(cohort: Cohort, prefix: str | Path) -> CohortFiles:
    """Write the cohort's PLINK files, phenotype, covariate and truth tables."""
    prefix = Path(prefix)
    bed = write_plink(cohort, prefix)
    pheno, covar, truth = write_tables(cohort, prefix)
    return CohortFiles(prefix=prefix, bed=bed, pheno=pheno, covar=covar, truth=truth)


def write_plink(cohort: Cohort, prefix: str | Path) -> Path:
    """Write the cohort's genotypes as ``prefix.bed/.bim/.fam`` (A1 counted); returns the ``.bed`` path."""
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    bed = prefix.with_name(prefix.name + ".bed")
    to_bed(
        bed,
        cohort.genotypes,
        properties={
            "fid": cohort.sample_ids,
            "iid": cohort.sample_ids,
            "sex": np.where(cohort.covariates["sex"] > 0, 2, 1),
            "chromosome": cohort.chrom,
            "sid": cohort.variant_ids,
            "bp_position": cohort.pos,
            "allele_1": cohort.allele1,
            "allele_2": cohort.allele2,
        },
        count_A1=True,
        num_threads=1,
    )
    return bed


def write_tables(cohort: Cohort, prefix: str | Path) -> tuple[Path, Path, Path]:
    """Write ``prefix.pheno.txt``, ``prefix.covar.txt`` and ``prefix.truth.tsv`` (chrom, id, beta of Y1)."""
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    pheno = prefix.with_name(prefix.name + ".pheno.txt")
    covar = prefix.with_name(prefix.name + ".covar.txt")
    truth = prefix.with_name(prefix.name + ".truth.tsv")
    _write_table(pheno, cohort.sample_ids, cohort.phenotypes)
    _write_table(covar, cohort.sample_ids, cohort.covariates)
    lines = ["chrom\tid\tbeta"]
    for idx, beta in zip(cohort.causal_index, cohort.causal_beta, strict=True):
        lines.append(f"{cohort.chrom[idx]}\t{cohort.variant_ids[idx]}\t{beta:.6g}")
    _write_text(truth, "\n".join(lines) + "\n")
    return pheno, covar, truth


def _write_table(path: Path, ids: np.ndarray, columns: dict[str, np.ndarray]) -> None:
    names = list(columns)
    rows = ["FID IID " + " ".join(names)]
    matrix = np.column_stack([columns[n] for n in names])
    for sid, values in zip(ids, matrix, strict=True):
        cells = ["NA" if np.isnan(v) else f"{v:.6g}" for v in values]
        rows.append(f"{sid} {sid} " + " ".join(cells))
    _write_text(path, "\n".join(rows) + "\n")


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
