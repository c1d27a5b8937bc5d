"""``gwasflow demo``: a simulated cohort and a spec that runs a whole GWAS on it.

Everything lands in one folder, which is also the run folder, so that
``gwasflow status`` (and later ``failures``, ``report``) work from inside it::

    DIR/spec.yaml              the run spec (paths relative to DIR)
    DIR/truth.tsv              the planted variants: chrom, id, beta
    DIR/data/cohort.*          PLINK .bed/.bim/.fam, phenotypes, covariates
    DIR/results/Y1.regenie.gz  merged results (after the run)
"""

from __future__ import annotations

import shutil
from pathlib import Path

from gwasflow.engine.rundir import write_atomic
from gwasflow.simulate import simulate_cohort, write_cohort

__all__ = ["DEMO_SPEC", "write_demo"]

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


_TRAIT_LINES = {
    "quantitative": "trait: quantitative",
    "binary": (
        "trait: binary                 # cases 1, controls 0 (about 15% cases)\n"
        "correction: firth_approx      # or firth, spa: applied to tests with p < pthresh\n"
        "pthresh: 0.05"
    ),
}


def write_demo(
    out: Path, *, n_samples: int = 2000, n_variants: int = 20_000, seed: int = 7, trait: str = "quantitative"
) -> Path:
    """Simulate the cohort into ``out`` and write its spec; returns the spec's path."""
    if trait not in _TRAIT_LINES:
        raise ValueError(f"trait must be one of {sorted(_TRAIT_LINES)}, got {trait!r}")
    out.mkdir(parents=True, exist_ok=True)
    n_causal = 20 if n_variants >= 200 else max(1, n_variants // 10)
    cohort = simulate_cohort(
        n_samples=n_samples, n_variants=n_variants, n_chrom=3, n_causal=n_causal, seed=seed, trait=trait
    )
    files = write_cohort(cohort, out / "data" / "cohort")
    shutil.copyfile(files.truth, out / "truth.tsv")
    per_chrom = -(-n_variants // 3)
    spec = DEMO_SPEC.format(
        n_causal=n_causal, variants_per_job=max(1, -(-per_chrom // 3)), trait_lines=_TRAIT_LINES[trait]
    )
    spec_path = out / "spec.yaml"
    write_atomic(spec_path, spec)
    return spec_path
