"""Time the per-trait checks of ``gwasflow validate`` (validate/traits.py) on a large synthetic cohort.

Default: 500,000 samples, 22 datasets (one per chromosome, the same samples), 10 quantitative traits with
1% missing values, 10 covariates. Tables are split once beforehand, as validate does; only
:func:`gwasflow.validate.traits.check_traits` is timed.

    python benchmarks/bench_validate_traits.py [--samples 500000] [--datasets 22] [--traits 10] [--covariates 10]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from gwasflow.errors import Problem
from gwasflow.regenie.io import tables
from gwasflow.spec.model import RunSpec
from gwasflow.validate.traits import check_traits


def _table(path: str, ids: list[str], prefix: str, n_columns: int, rng: np.random.Generator) -> tables.Scan:
    values = rng.normal(size=(len(ids), n_columns))
    cells = np.char.mod("%.6f", values)
    cells[rng.random(size=cells.shape) < 0.01] = "NA"
    header = " ".join(["FID", "IID", *(f"{prefix}{k}" for k in range(n_columns))])
    lines = [header, *(f"{s} {s} {' '.join(row)}" for s, row in zip(ids, cells, strict=True))]
    return tables.scan_text("\n".join(lines) + "\n", path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=500_000)
    parser.add_argument("--datasets", type=int, default=22)
    parser.add_argument("--traits", type=int, default=10)
    parser.add_argument("--covariates", type=int, default=10)
    args = parser.parse_args()

    rng = np.random.default_rng(1)
    ids = [f"s{i}" for i in range(args.samples)]
    pheno = _table("/data/pheno.txt", ids, "P", args.traits, rng)
    covar = _table("/data/covar.txt", ids, "PC", args.covariates, rng)
    fams = [(f"/data/chr{d + 1}.fam", {(s, s) for s in ids}) for d in range(args.datasets)]
    spec = RunSpec.model_validate({
        "name": "bench",
        "datasets": [{"bed": f"/data/chr{d + 1}"} for d in range(args.datasets)],
        "phenotypes": {"file": pheno.path, "columns": [f"P{k}" for k in range(args.traits)]},
        "covariates": {"file": covar.path, "columns": [f"PC{k}" for k in range(args.covariates)]},
        "workdir": "/scratch/bench",
        "outdir": "/results/bench",
    })
    problems: list[Problem] = []
    start = time.perf_counter()
    check_traits(spec, fams, pheno, covar, problems)
    seconds = time.perf_counter() - start
    if problems:
        raise SystemExit(f"unexpected problems: {problems[:3]}")
    print(json.dumps({"samples": args.samples, "datasets": args.datasets, "traits": args.traits,
                      "covariates": args.covariates, "check_traits_s": round(seconds, 2)}))


if __name__ == "__main__":
    main()
