"""Benchmark the built-in engine's binary-trait step 2 (``--bt`` with ``--spa`` and ``--firth --approx``).

Simulates a cohort (numpy, fixed seed) in a temporary folder — by default
10,000 samples x 50,000 variants (Hardy-Weinberg, 0.5% missing calls, the
genotype writer of ``bench_step2.py``) x 4 case/control phenotypes at 10%
prevalence with 3 covariates — then, for each correction, runs
``python -m gwasflow.regenie --step 2 --bt <correction> --pThresh P --ignore-pred``
in a subprocess with BLAS capped to the thread count. Prints wall time,
variant x phenotype tests per second, the number of corrected tests (from the
engine's log), CPU time and peak RSS; and, with ``--qt``, the quantitative-trait
run on the same genotypes for the ratio. Each run is paired with the real regenie
on the same files and flags right after it (when ``benchmarks/_engine.py`` finds
its binary): both times, peak memories and the ratios are printed, per round and
as medians. With ``--repeat N`` the configurations
run in N rounds of one run each (the machine's speed drifts: each round sees the
same drift), after one untimed corrected run that fills numba's kernel cache;
the ratio is printed best against best and as the median over the rounds.

    python benchmarks/bench_step2_bt.py                       # full size, 1 thread, spa and firth-approx
    python benchmarks/bench_step2_bt.py --qt --repeat 2       # also the QT baseline on the same cohort
    python benchmarks/bench_step2_bt.py --samples 2000 --variants 5000 --corrections spa
    python benchmarks/bench_step2_bt.py --variants 10000 --corrections firth,none   # exact Firth's cost
    python benchmarks/bench_step2_bt.py --keep /tmp/bbt --reuse   # reuse a simulated folder
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _engine import PairedRound, find_regenie, paired_round, report_rounds

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_step2 import _write_genotypes

CORRECTIONS = {"spa": ["--spa"], "firth-approx": ["--firth", "--approx"], "firth": ["--firth"], "none": []}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--variants", type=int, default=50_000)
    parser.add_argument("--phenotypes", type=int, default=4)
    parser.add_argument("--prevalence", type=float, default=0.10)
    parser.add_argument("--bsize", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pthresh", type=float, default=0.05)
    parser.add_argument("--corrections", default="spa,firth-approx", help=f"comma-separated: {', '.join(CORRECTIONS)}")
    parser.add_argument("--qt", action="store_true", help="also time the quantitative-trait step 2 on the genotypes")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--keep", type=Path, default=None, help="simulate into this folder and keep it")
    parser.add_argument("--reuse", action="store_true", help="with --keep: use the cohort already there")
    parser.add_argument("--repeat", type=int, default=1, help="runs per configuration (best and spread printed)")
    return parser.parse_args(argv)


def _write_table(path: Path, ids: list[str], values: np.ndarray, prefix: str, fmt: str) -> None:
    header = "FID IID " + " ".join(f"{prefix}{j + 1}" for j in range(values.shape[1]))
    rows = [f"{s} {s} " + " ".join(format(v, fmt) for v in row) for s, row in zip(ids, values.tolist(), strict=True)]
    path.write_text("\n".join([header, *rows]) + "\n")


def simulate(folder: Path, args: argparse.Namespace) -> None:
    """``cohort.bed/.bim/.fam``, ``covar.txt``, ``pheno_bt.txt`` (0/1) and ``pheno_qt.txt``."""
    rng = np.random.default_rng(args.seed)
    ids = [f"s{i}" for i in range(args.samples)]
    _write_genotypes(folder, rng, ids, args.variants)
    covar = rng.normal(size=(args.samples, 3))
    liability = covar @ rng.normal(scale=0.5, size=(3, args.phenotypes))
    intercept = np.log(args.prevalence / (1 - args.prevalence))
    cases = rng.random(liability.shape) < 1 / (1 + np.exp(-(intercept + liability)))
    _write_table(folder / "covar.txt", ids, covar, "C", ".6f")
    _write_table(folder / "pheno_bt.txt", ids, cases.astype(np.float64), "Y", ".0f")
    _write_table(folder / "pheno_qt.txt", ids, liability + rng.normal(size=liability.shape), "Y", ".6f")


def run_once(folder: Path, args: argparse.Namespace, flags: list[str], pheno: str, out: str,
             regenie: Path | None) -> tuple[PairedRound, str]:
    """One built-in engine run, then regenie on the same flags (when there); the engine's log text."""
    argv = ["--step", "2", "--bed", str(folder / "cohort"), "--phenoFile", str(folder / pheno),
            "--covarFile", str(folder / "covar.txt"), *flags, "--ignore-pred", "--bsize", str(args.bsize),
            "--threads", str(args.threads)]
    run = paired_round(argv, folder / out, args.threads, regenie)
    return run, (folder / f"{out}_ours.log").read_text()


def _report(label: str, runs: list[tuple[PairedRound, str]], tests: int) -> float:
    report_rounds(label, [run for run, _ in runs])
    best = min(run.ours.wall for run, _ in runs)
    found = re.search(r"Number of tests with \w+ correction : (\d+)", runs[0][1])
    corrected = f"  corrected={found.group(1)}" if found else ""
    print(f"{label}: built-in best {best:.2f} s, tests/s={tests / best:,.0f}{corrected}")
    return tests / best


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    context = tempfile.TemporaryDirectory(prefix="bench_step2_bt_") if args.keep is None else None
    folder = Path(context.name) if context is not None else args.keep
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if not (args.reuse and (folder / "pheno_bt.txt").is_file()):
            start = time.perf_counter()
            simulate(folder, args)
            print(f"simulated {args.samples} samples x {args.variants} variants x {args.phenotypes} binary "
                  f"phenotypes ({args.prevalence:.0%} cases) in {time.perf_counter() - start:.1f} s ({folder})")
        tests = args.variants * args.phenotypes
        print(f"{tests:,} tests per run; --bsize {args.bsize} --threads {args.threads} --pThresh {args.pthresh:g}")
        configs = [("qt", [], "pheno_qt.txt", "qt")] if args.qt else []
        for name in args.corrections.split(","):
            configs.append((name, ["--bt", *CORRECTIONS[name], "--pThresh", f"{args.pthresh:g}"], "pheno_bt.txt",
                            f"bt_{name}"))
        regenie = find_regenie()
        if regenie is None:
            print("(no real regenie binary found: built-in engine only)")
        if any(label != "qt" for label, *_ in configs):
            # untimed: the first corrected run compiles the numba kernels into their cache
            _, flags, pheno, out = next(c for c in configs if c[0] != "qt")
            run_once(folder, args, flags, pheno, out, None)
        # rounds of one run per configuration: drift of the machine's speed hits every configuration alike
        runs: dict[str, list[tuple[PairedRound, str]]] = {label: [] for label, *_ in configs}
        for _ in range(args.repeat):
            for label, flags, pheno, out in configs:
                runs[label].append(run_once(folder, args, flags, pheno, out, regenie))
        rates = {label: _report("qt" if label == "qt" else f"bt {label}", runs[label], tests) for label in runs}
        if "qt" in rates:
            for name, rate in rates.items():
                if name != "qt":
                    per_round = sorted(bt.ours.wall / qt.ours.wall
                                       for (bt, _), (qt, _) in zip(runs[name], runs["qt"], strict=True))
                    print(f"qt / bt {name} throughput ratio: {rates['qt'] / rate:.2f} (best vs best), "
                          f"{per_round[len(per_round) // 2]:.2f} (median of the {len(per_round)} rounds)")
    finally:
        if context is not None:
            context.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
