"""The QC stage: built-in engine against plink2 on one simulated cohort (tests/qc/cohort.py).

Prints the wall time of each engine for the issue's filters and pruning
(--maf 0.01 --mac 100 --geno 0.1 --mind 0.1 --hwe 1e-15, --indep-pairwise 1000 100 0.9) and whether the
two selected the same variants and samples. Run from the repository root:

    PYTHONPATH=src python benchmarks/bench_qc.py --samples 4000 --blocks 2500
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.qc.cohort import simulate_qc_cohort

from gwasflow.qc.filters import run_builtin_qc
from gwasflow.qc.model import PruneConfig, QcConfig
from gwasflow.qc.plink2 import run_plink2_qc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--blocks", type=int, default=2500, help="LD blocks (about 7 variants each)")
    args = parser.parse_args()
    configs = {
        "filters": QcConfig(maf=0.01, mac=100, geno=0.1, mind=0.1, hwe=1e-15),
        "filters+prune": QcConfig(maf=0.01, mac=100, geno=0.1, mind=0.1, hwe=1e-15,
                                  prune=PruneConfig(1000, 100, 0.9)),
    }
    with tempfile.TemporaryDirectory() as tmp:
        prefix = str(simulate_qc_cohort(Path(tmp) / "c", n_samples=args.samples, n_blocks=args.blocks))
        for name, config in configs.items():
            start = time.perf_counter()
            ours = run_builtin_qc(prefix, config)
            builtin = time.perf_counter() - start
            start = time.perf_counter()
            theirs = run_plink2_qc(prefix, config)
            plink2 = time.perf_counter() - start
            same = ours.variant_ids == theirs.variant_ids and ours.samples == theirs.samples
            print(f"{name}: {ours.n_samples_in} samples x {ours.n_variants_in} variants -> "
                  f"{len(ours.samples)} x {len(ours.variant_ids)}; builtin {builtin:.2f} s, plink2 {plink2:.2f} s, "
                  f"same selection: {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
