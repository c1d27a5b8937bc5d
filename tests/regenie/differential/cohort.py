"""Seeded generator of small cohorts with the awkward features of real data, for differential tests.

A :class:`Case` names the features; :func:`write_case` writes the files both
programs read:

* genotypes in LD blocks (haplotypes from a correlated latent Gaussian), a
  few rare variants, missing calls; ``.bed`` or BGEN v1.2 with dosages
  (8- or 16-bit, zlib, an Oxford ``.sample``);
* quantitative or binary traits with their own missing values (per trait,
  at different samples, means far from 0), optionally samples with every
  trait missing;
* numeric covariates (some missing) and a categorical one with string levels;
* sample sets that do not match: genotyped samples absent from the phenotype
  or covariate file and the reverse, the tables in shuffled row order,
  FID != IID; an optional ``--keep`` list with ungenotyped ids.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from bed_reader import to_bed

__all__ = ["Case", "CaseFiles", "write_case"]


@dataclass(frozen=True)
class Case:
    seed: int
    n_samples: int = 600
    n_variants: int = 900
    n_chrom: int = 3
    binary: bool = False
    n_traits: int = 3
    trait_missing: tuple[float, ...] = (0.05, 0.09, 0.0)  # per trait
    all_missing: int = 6  # samples with every trait missing
    covar_missing: float = 0.01
    categorical: bool = True
    mismatch: bool = True  # samples missing from tables, tables shuffled, extra rows
    keep_list: bool = False
    geno_missing: float = 0.01
    rare_fraction: float = 0.1  # variants with MAF < 1%
    prevalence: float = 0.2
    bgen_bits: int = 0  # 0: PLINK .bed; 8 or 16: BGEN with dosages
    flags: tuple[str, ...] = field(default_factory=tuple)  # extra flags for both programs


@dataclass(frozen=True)
class CaseFiles:
    geno_flags: list[str]
    pheno: Path
    covar: Path
    keep: Path | None
    pheno_names: list[str]
    step1_extract: Path  # variants with a minor allele count of at least 20 (step 1 runs on QC'd variants)


def _genotypes(case: Case, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Dosages (n_samples, n_variants) in [0, 2] and the chromosome of each variant."""
    n, m = case.n_samples, case.n_variants
    maf = rng.uniform(0.02, 0.5, size=m)
    rare = rng.random(m) < case.rare_fraction
    maf[rare] = rng.uniform(0.002, 0.01, size=int(rare.sum()))
    # LD: latent Gaussians AR(1) along each block of 20 variants, thresholded per haplotype
    haps = np.empty((2, n, m))
    for h in range(2):
        z = rng.standard_normal((n, m))
        for j in range(1, m):
            if j % 20:
                z[:, j] = 0.8 * z[:, j - 1] + 0.6 * z[:, j]
        from scipy.stats import norm

        haps[h] = z < norm.ppf(maf)[None, :]
    dosage = haps.sum(axis=0)
    if case.bgen_bits:
        # imputation uncertainty: shrink calls towards the frequency for some samples
        noise = rng.beta(8, 1, size=(n, m))
        dosage = noise * dosage + (1 - noise) * 2 * maf[None, :]
    chrom = np.repeat(np.arange(1, case.n_chrom + 1), -(-m // case.n_chrom))[:m]
    return dosage, chrom


def _traits(case: Case, dosage: np.ndarray, covars: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n, m = dosage.shape
    centred = dosage - dosage.mean(axis=0)
    out = np.empty((n, case.n_traits))
    for t in range(case.n_traits):
        causal = rng.choice(m, size=20, replace=False)
        genetic = centred[:, causal] @ rng.normal(0, 0.25, size=20)
        base = covars @ rng.normal(0, 0.3, size=covars.shape[1])
        if case.binary:
            logit = base + genetic + rng.logistic(size=n) * 0.5
            cut = np.quantile(logit, 1 - case.prevalence)
            out[:, t] = (logit > cut).astype(float)
        else:
            out[:, t] = 150 + 10 * t + 5 * (base + genetic + rng.standard_normal(n))
        miss = case.trait_missing[t % len(case.trait_missing)]
        out[rng.random(n) < miss, t] = np.nan
    if case.all_missing:
        out[rng.choice(n, size=case.all_missing, replace=False)] = np.nan
    return out


def _fmt(value: float) -> str:
    return "NA" if np.isnan(value) else f"{value:.6g}"


def _write_table(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.write_text("\n".join(" ".join(row) for row in [header, *rows]) + "\n")


def _bgen_variant(dosage: np.ndarray, bits: int) -> bytes:
    """One layout-2 variant block (zlib) of unphased diploid probabilities from dosages."""
    n = dosage.shape[0]
    # probabilities with this dosage: P(AB) = d where d <= 1 else 2 - d, P(AA) the rest
    p_aa = np.clip(dosage - 1, 0, 1)
    p_ab = dosage - 2 * p_aa
    scale = (1 << bits) - 1
    q_aa = np.floor(p_aa * scale + 0.5).astype(np.int64)
    q_ab = np.floor(p_ab * scale + 0.5).astype(np.int64)
    over = q_aa + q_ab > scale
    q_ab[over] = scale - q_aa[over]
    header = struct.pack("<IHBB", n, 2, 2, 2) + bytes([2] * n) + struct.pack("<BB", 0, bits)
    values = np.empty(2 * n, dtype=np.int64)
    values[0::2], values[1::2] = q_aa, q_ab  # the first allele (A) is the counted one
    payload = values.astype(np.uint8).tobytes() if bits == 8 else values.astype("<u2").tobytes()
    raw = header + payload
    packed = zlib.compress(raw)
    return struct.pack("<II", len(packed) + 4, len(raw)) + packed


def _write_bgen(path: Path, dosage: np.ndarray, chrom: np.ndarray, pos: np.ndarray, ids: list[str],
                bits: int) -> None:
    n, m = dosage.shape
    offset = 20
    flags = 1 | (2 << 2)  # zlib, layout 2, no sample identifiers
    header = struct.pack("<IIII", offset, m, n, 0x6E656762) + struct.pack("<I", flags)
    body = bytearray(struct.pack("<I", offset) + header)
    for j in range(m):
        vid = ids[j].encode()
        body += struct.pack("<H", len(vid)) + vid + struct.pack("<H", len(vid)) + vid
        ch = str(int(chrom[j])).encode()
        body += struct.pack("<H", len(ch)) + ch + struct.pack("<IH", int(pos[j]), 2)
        for allele in (b"A", b"G"):
            body += struct.pack("<I", 1) + allele
        body += _bgen_variant(dosage[:, j], bits)
    path.write_bytes(bytes(body))


def write_case(case: Case, folder: Path) -> CaseFiles:
    """Write the case's files into ``folder``."""
    rng = np.random.default_rng(case.seed)
    n = case.n_samples
    dosage, chrom = _genotypes(case, rng)
    pos = np.concatenate([np.arange(1, int((chrom == c).sum()) + 1) * 1000 for c in np.unique(chrom)])
    vids = [f"rs{case.seed}_{j}" for j in range(case.n_variants)]
    fid = [f"F{i // 2}" for i in range(n)]
    iid = [f"S{i}" for i in range(n)]
    age = rng.normal(55, 8, n)
    sex = rng.integers(0, 2, n).astype(float)
    pc1 = rng.standard_normal(n)
    site = rng.choice(["north", "south", "east-1"], size=n, p=[0.5, 0.3, 0.2])
    site_code = np.stack([site == "south", site == "east-1"], axis=1).astype(float)
    design = np.column_stack([(age - 55) / 8, sex, pc1, site_code])
    traits = _traits(case, dosage, design, rng)
    missing_calls = rng.random(dosage.shape) < case.geno_missing
    if case.bgen_bits:
        flags = ["--bgen", str(folder / "geno.bgen"), "--sample", str(folder / "geno.sample")]
        _write_bgen(folder / "geno.bgen", dosage, chrom, pos, vids, case.bgen_bits)
        lines = ["ID_1 ID_2 missing sex", "0 0 0 D"] + [f"{f} {i} 0 {int(s) + 1}" for f, i, s in
                                                         zip(fid, iid, sex, strict=True)]
        (folder / "geno.sample").write_text("\n".join(lines) + "\n")
    else:
        calls = dosage.astype(np.float32)
        calls[missing_calls] = np.nan
        props = {"fid": fid, "iid": iid, "chromosome": [str(c) for c in chrom], "bp_position": pos,
                 "sid": vids, "allele_1": ["A"] * case.n_variants, "allele_2": ["G"] * case.n_variants}
        to_bed(folder / "geno.bed", calls, properties=props, count_A1=True)
        flags = ["--bed", str(folder / "geno")]
    names = [f"T{t + 1}" for t in range(case.n_traits)]
    pheno_rows = list(range(n))
    covar_rows = list(range(n))
    extra: list[int] = []
    if case.mismatch:
        pheno_rows = [i for i in pheno_rows if i % 37 != 5]  # genotyped, not phenotyped
        covar_rows = [i for i in covar_rows if i % 41 != 7]  # genotyped, no covariates
        extra = list(range(5))  # phenotyped and with covariates, not genotyped
        rng.shuffle(pheno_rows)
        rng.shuffle(covar_rows)
    prow = [[fid[i], iid[i], *(_fmt(v) for v in traits[i])] for i in pheno_rows]
    prow += [[f"X{k}", f"X{k}", *("1" if case.binary else "150.5" for _ in names)] for k in extra]
    _write_table(folder / "pheno.txt", ["FID", "IID", *names], prow)
    crow = []
    for i in covar_rows:
        vals = [age[i], sex[i], pc1[i]]
        cells = [_fmt(np.nan if (k != 1 and rng.random() < case.covar_missing) else v) for k, v in enumerate(vals)]
        crow.append([fid[i], iid[i], *cells, str(site[i])])
    crow += [[f"X{k}", f"X{k}", "50", "1", "0.1", "north"] for k in extra]
    _write_table(folder / "covar.txt", ["FID", "IID", "age", "sex", "PC1", "site"], crow)
    keep = None
    if case.keep_list:
        keep = folder / "keep.txt"
        chosen = [i for i in range(n) if i % 9 != 1]
        keep.write_text("".join(f"{fid[i]} {iid[i]}\n" for i in chosen) + "Z1 Z1\n")
    counts = np.where(missing_calls, 0, dosage).sum(axis=0)
    mac = np.minimum(counts, 2 * n - counts)
    step1 = folder / "step1.snplist"
    step1.write_text("".join(f"{vids[j]}\n" for j in np.flatnonzero(mac >= 20)))
    return CaseFiles(geno_flags=flags, pheno=folder / "pheno.txt", covar=folder / "covar.txt", keep=keep,
                     pheno_names=names, step1_extract=step1)
