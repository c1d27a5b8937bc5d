"""``gwasflow demo``: a simulated cohort and a spec that runs a whole GWAS on it.

Everything lands in one folder, which is also the run folder, so that
``gwasflow status`` (and later ``failures``, ``report``) work from inside it::

    DIR/spec.yaml              the run spec (paths relative to DIR)
    DIR/truth.tsv              the planted variants: chrom, id, beta
    DIR/data/cohort.*          phenotypes, covariates (and, in the simple form, PLINK .bed/.bim/.fam)
    DIR/data/array.*           biobank form: the genotyping array (.bed/.bim/.fam), for QC and step 1
    DIR/data/imputed_chr<c>.*  biobank form: imputed dosages, one BGEN (+ .bgi) per chromosome, for step 2
    DIR/data/imputed.sample    biobank form: the BGEN files' samples
    DIR/results/Y1.regenie.gz  merged results (after the run)

:func:`write_biobank_demo` writes the biobank form (``gwasflow demo``), :func:`write_demo` the simple one
(``gwasflow demo --simple``: one ``.bed`` for both steps).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from gwasflow.core.rundir import write_atomic
from gwasflow.simulate import simulate_cohort, write_cohort
from gwasflow.simulate_biobank import write_biobank

__all__ = ["BIOBANK_DEMO_SPEC", "DEMO_SPEC", "write_biobank_demo", "write_demo"]

_RUN_LINES = """\
retry:
  max_attempts: 4             # per job, for crash / timeout / out of memory / truncated output
  backoff_s: 1
engine:
  kind: builtin               # or: kind: regenie, binary: /path/to/regenie
executor:
  kind: local
  max_parallel: 2
workdir: work                 # transient workspace, deleted at the end
outdir: .                     # results/, summary.tsv and the run store go here
"""

DEMO_SPEC = """\
# gwasflow run spec written by `gwasflow demo`. Relative paths are relative to this file.
name: demo
datasets:
  - bed: data/cohort          # PLINK prefix: data/cohort.bed/.bim/.fam
    label: cohort
phenotypes:
  file: data/cohort.pheno.txt
  columns: [Y1, Y2]           # Y1 has {n_causal} planted causal variants, Y2 is null
covariates:
  file: data/cohort.covar.txt
  columns: [age, sex, pc1]
{trait_lines}
step1:
  bsize: 1000
  resources: {{cpus: 1, memory_mb: 4000, time_s: 600}}
step2:
  bsize: 1000
  variants_per_job: {variants_per_job}
  phenotypes_per_job: 2
  resources: {{cpus: 1, memory_mb: 2000, time_s: 120}}
""" + _RUN_LINES

BIOBANK_DEMO_SPEC = """\
# gwasflow run spec written by `gwasflow demo`. Relative paths are relative to this file.
# Biobank shape: QC and step 1 on the genotyping array, step 2 on imputed dosages, one BGEN file per chromosome.
name: demo
phenotypes:
  file: data/cohort.pheno.txt
  columns: [Y1, Y2]           # Y1 has {n_causal} planted causal variants, Y2 is null
covariates:
  file: data/cohort.covar.txt
  columns: [age, sex, pc1]
{trait_lines}
step1:
  genotypes: {{bed: data/array}}   # the array: {n_array} of the {n_variants} variants, some calls missing
  qc:                           # a qc job writes the variant and sample lists step 1 reads
    maf: 0.01                   # minimum minor allele frequency
    geno: 0.05                  # maximum missing call rate per variant
    mind: 0.05                  # maximum missing call rate per sample
    hwe: 1.0e-15                # Hardy-Weinberg exact test p-value
    engine: builtin             # or plink2, or auto (plink2 when on PATH): the same lists
  bsize: 1000
  resources: {{cpus: 1, memory_mb: 4000, time_s: 600}}
datasets:                       # step 2: imputed dosages
  - bgen: data/imputed_chr{{chrom}}.bgen
    sample: data/imputed.sample
    chromosomes: 1-{n_chrom}
    min_info: 0.8               # --minINFO: poorly imputed variants are not tested
    label: imp
step2:
  min_mac: 5                    # --minMAC
  bsize: 1000
  variants_per_job: {variants_per_job}
  phenotypes_per_job: 2
  resources: {{cpus: 1, memory_mb: 2000, time_s: 120}}
""" + _RUN_LINES


_TRAIT_LINES = {
    "quantitative": "trait: quantitative",
    "binary": (
        "trait: binary                 # cases 1, controls 0 (about 15% cases)\n"
        "correction: firth_approx      # or firth, spa: applied to tests with p < pthresh\n"
        "pthresh: 0.05"
    ),
}


def _n_causal(n_variants: int) -> int:
    return 20 if n_variants >= 200 else max(1, n_variants // 10)


def _variants_per_job(n_variants: int, n_chrom: int) -> int:
    """Three step 2 jobs per chromosome."""
    per_chrom = -(-n_variants // n_chrom)
    return max(1, -(-per_chrom // 3))


def write_demo(
    out: Path, *, n_samples: int = 2000, n_variants: int = 20_000, seed: int = 7, trait: str = "quantitative"
) -> Path:
    """The simple demo: one simulated ``.bed`` for both steps; writes data and spec into ``out``, returns the spec."""
    if trait not in _TRAIT_LINES:
        raise ValueError(f"trait must be one of {sorted(_TRAIT_LINES)}, got {trait!r}")
    n_causal = _n_causal(n_variants)
    cohort = simulate_cohort(
        n_samples=n_samples, n_variants=n_variants, n_chrom=3, n_causal=n_causal, seed=seed, trait=trait
    )
    out.mkdir(parents=True, exist_ok=True)
    files = write_cohort(cohort, out / "data" / "cohort")
    shutil.copyfile(files.truth, out / "truth.tsv")
    spec = DEMO_SPEC.format(
        n_causal=n_causal, variants_per_job=_variants_per_job(n_variants, 3), trait_lines=_TRAIT_LINES[trait]
    )
    spec_path = out / "spec.yaml"
    write_atomic(spec_path, spec)
    return spec_path


def write_biobank_demo(
    out: Path, *, n_samples: int = 2000, n_variants: int = 20_000, seed: int = 7, trait: str = "quantitative"
) -> Path:
    """The biobank-shaped demo: QC and step 1 on a simulated array ``.bed``, step 2 on imputed BGEN files per
    chromosome (``n_variants`` in all); writes data and spec into ``out``, returns the spec's path."""
    if trait not in _TRAIT_LINES:
        raise ValueError(f"trait must be one of {sorted(_TRAIT_LINES)}, got {trait!r}")
    if n_samples < 200 or n_variants < 300:
        raise ValueError("the biobank demo needs at least 200 samples and 300 variants (the simple one: --simple)")
    out.mkdir(parents=True, exist_ok=True)
    n_causal, n_chrom = _n_causal(n_variants), 3
    cohort = simulate_cohort(
        n_samples=n_samples, n_variants=n_variants, n_chrom=n_chrom, n_causal=n_causal, seed=seed, trait=trait
    )
    files = write_biobank(cohort, out / "data", seed=seed + 1)
    shutil.copyfile(files.truth, out / "truth.tsv")
    spec = BIOBANK_DEMO_SPEC.format(
        n_causal=n_causal, n_array=files.n_array, n_variants=n_variants, n_chrom=n_chrom,
        variants_per_job=_variants_per_job(n_variants, n_chrom), trait_lines=_TRAIT_LINES[trait],
    )
    spec_path = out / "spec.yaml"
    write_atomic(spec_path, spec)
    return spec_path
