"""Time build_graph + to_dict on a large synthetic plan.

Default: 10 datasets x 1,000,000 variants over 22 chromosomes, 20 phenotypes
in 2 groups of 10, ``variants_per_job`` 200 -> 100,000 step 2 shards.

    python benchmarks/bench_plan.py [--datasets 10] [--variants 1000000] [--variants-per-job 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from gwasflow.core.states import Step
from gwasflow.plan.build import build_graph
from gwasflow.plan.meta import DatasetMeta
from gwasflow.spec.model import RunSpec


def synthetic_datasets(n_datasets: int, n_variants: int) -> list[DatasetMeta]:
    rng = np.random.default_rng(1)
    out = []
    for d in range(n_datasets):
        chrom_idx = np.sort(rng.integers(1, 23, size=n_variants))
        chrom = chrom_idx.astype(str)
        pos = np.empty(n_variants, dtype=np.int64)
        for c in range(1, 23):
            mask = chrom_idx == c
            pos[mask] = np.cumsum(rng.integers(1, 200, size=int(mask.sum())))
        out.append(DatasetMeta(f"d{d}", f"/data/cohort{d}", 500_000, n_variants, chrom, pos))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=int, default=10)
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument("--variants-per-job", type=int, default=200)
    parser.add_argument("--phenotypes", type=int, default=20)
    parser.add_argument("--phenotypes-per-job", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    datasets = synthetic_datasets(args.datasets, args.variants)
    spec = RunSpec.model_validate(
        {
            "name": "bench",
            "datasets": [{"bed": d.prefix, "label": d.label} for d in datasets],
            "phenotypes": {"file": "/data/pheno.txt", "columns": [f"P{i}" for i in range(args.phenotypes)]},
            "covariates": {"file": "/data/covar.txt", "columns": [f"PC{i}" for i in range(10)]},
            "step2": {
                "variants_per_job": args.variants_per_job,
                "phenotypes_per_job": args.phenotypes_per_job,
            },
            "workdir": "/scratch/bench",
            "outdir": "/results/bench",
        }
    )
    totals, cpu_totals = [], []
    for run in range(1, args.repeat + 1):
        c0, t0 = time.process_time(), time.perf_counter()
        graph = build_graph(spec, datasets, python="/usr/bin/python3")
        t1 = time.perf_counter()
        data = graph.to_dict()
        c2, t2 = time.process_time(), time.perf_counter()
        totals.append(t2 - t0)
        cpu_totals.append(c2 - c0)
        print(
            f"run {run}: build_graph {t1 - t0:.2f} s + to_dict {t2 - t1:.2f} s = {t2 - t0:.2f} s wall"
            f" ({c2 - c0:.2f} s CPU)"
        )
        if run < args.repeat:
            del graph, data
    counts = {step.value: n for step, n in graph.counts().items()}
    print(f"jobs: {len(graph):,} {counts}")
    print(f"step 2 shards: {len(graph.by_step(Step.STEP2)):,}")
    best, median = min(totals), statistics.median(totals)
    print(f"build_graph + to_dict: best {best:.2f} s, median {median:.2f} s wall (target < 5 s)")
    print(f"                       best {min(cpu_totals):.2f} s CPU (wall is inflated when other work shares the CPUs)")
    t3 = time.perf_counter()
    size = len(json.dumps(data))
    print(f"(json.dumps, not in the figure above: {time.perf_counter() - t3:.2f} s, {size / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
