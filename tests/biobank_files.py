"""A small biobank-shaped cohort on disk: array genotypes (.bed) for step 1, imputed BGEN per chromosome for step 2.

Genotypes come from :func:`gwasflow.simulate.simulate_cohort`. The imputed files carry the same variants as
dosages (the hard calls plus noise, clipped to [0, 2]) in BGEN v1.2 layout 2, 8-bit unphased probabilities,
zlib compressed, one file per chromosome, each with a bgenix-schema ``.bgi`` index written with sqlite3
and a shared Oxford ``.sample``. Covariates gain a categorical ``batch`` column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gwasflow.simulate import simulate_cohort, write_cohort
from gwasflow.simulate_bgen import write_bgen

__all__ = ["make_biobank", "write_bgen"]


def make_biobank(root: Path, *, n_samples: int = 300, n_variants: int = 400, n_chrom: int = 2) -> dict[str, Any]:
    """Write the cohort under ``root``; return the spec (paths relative to ``root``) and facts about it."""
    cohort = simulate_cohort(n_samples=n_samples, n_variants=n_variants, n_chrom=n_chrom, n_causal=5,
                             h2_per_causal=0.04, seed=12)
    files = write_cohort(cohort, root / "array" / "ukb_cal_allchr")
    rng = np.random.default_rng(5)
    calls = np.where(cohort.genotypes < 0, 0, cohort.genotypes).astype(np.float64)
    dosage = np.clip(calls + rng.normal(0.0, 0.2, calls.shape) * (rng.random(calls.shape[1]) < 0.6), 0.0, 2.0)
    (root / "imputed").mkdir()
    ids = [str(s) for s in cohort.sample_ids]
    for c in range(1, n_chrom + 1):
        cols = np.flatnonzero(cohort.chrom == str(c))
        variants = {"chrom": cohort.chrom[cols], "pos": cohort.pos[cols], "ids": cohort.variant_ids[cols],
                    "a1": cohort.allele1[cols], "a2": cohort.allele2[cols]}
        write_bgen(root / "imputed" / f"ukb_imp_chr{c}.bgen", dosage[:, cols], variants)
    sample_rows = "".join(f"{s} {s} 0\n" for s in ids)
    (root / "imputed" / "ukb_imp.sample").write_text("ID_1 ID_2 missing\n0 0 0\n" + sample_rows)
    lines = files.covar.read_text().splitlines()
    batch = [f"b{i % 3}" for i in range(len(ids))]
    (root / "covar.txt").write_text("\n".join([lines[0] + " batch"] + [f"{r} {b}" for r, b in
                                                                      zip(lines[1:], batch, strict=True)]) + "\n")
    (root / "lists").mkdir()
    (root / "lists" / "white_british.txt").write_text("".join(f"{s} {s}\n" for s in ids[: int(0.9 * len(ids))]))
    spec = {
        "name": "biobank",
        "step1": {"genotypes": {"bed": "array/ukb_cal_allchr"}, "bsize": 100},
        "datasets": [{"label": "imp", "bgen": "imputed/ukb_imp_chr{chrom}.bgen", "sample": "imputed/ukb_imp.sample",
                      "chromosomes": f"1-{n_chrom}", "min_info": 0.8}],
        "step2": {"min_mac": 5, "variants_per_job": 150, "bsize": 100},
        "samples": {"keep": "lists/white_british.txt"},
        "phenotypes": {"file": f"array/{files.pheno.name}", "columns": ["Y1", "Y2"]},
        "covariates": {"file": "covar.txt", "columns": ["age", "sex", "pc1"], "categorical": ["batch"]},
        "workdir": "work",
        "outdir": "out",
    }
    return {"spec": spec, "ids": ids, "n_variants": n_variants, "n_chrom": n_chrom}
