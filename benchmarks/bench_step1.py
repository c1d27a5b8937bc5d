"""Benchmark the built-in engine's step 1 (quantitative traits): wall time, CPU time and peak RSS.

Simulates a cohort with ``bench_step2.simulate`` (numpy, fixed seed; streamed to
disk, so simulation memory is one chunk) — by default 5,000 samples x 20,000
variants x 4 phenotypes — then runs ``python -m gwasflow.regenie --step 1
--bsize 1000 --threads T`` in a subprocess, then the real regenie with the same
flags on the same files (when ``benchmarks/_engine.py`` finds its binary), and
prints both programs' wall and CPU times, peak RSS and the ratios. Memory is
flat in the number of variants: genotypes are read one block at a time and only
the level 0 predictions (samples x blocks x 5 x phenotypes) are kept.

    python benchmarks/bench_step1.py                                   # 5,000 x 20,000, threads 2
    python benchmarks/bench_step1.py --keep /tmp/s1 --repeat 3         # simulate once, 3 paired rounds
    python benchmarks/bench_step1.py --variants 40000                  # peak RSS vs the number of variants
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _engine import find_regenie, paired_round, report_rounds
from bench_step2 import simulate


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=5_000)
    parser.add_argument("--variants", type=int, default=20_000)
    parser.add_argument("--phenotypes", type=int, default=4)
    parser.add_argument("--bsize", type=int, default=1000)
    parser.add_argument("--threads", default="2", help="comma-separated thread counts to run")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--keep", type=Path, default=None, help="simulate into this folder (reused if present)")
    parser.add_argument("--repeat", type=int, default=1, help="paired rounds per thread count (medians printed)")
    parser.add_argument("--simulate-only", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def step1_flags(folder: Path, threads: int, bsize: int) -> list[str]:
    """The step 1 flags both programs run with (``--out`` added per program)."""
    return ["--step", "1", "--bed", str(folder / "cohort"), "--phenoFile", str(folder / "pheno.txt"),
            "--covarFile", str(folder / "covar.txt"), "--bsize", str(bsize), "--lowmem",
            "--threads", str(threads)]


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.simulate_only is not None:
        simulate(args.simulate_only, args.samples, args.variants, args.phenotypes, args.seed)
        return 0
    context = tempfile.TemporaryDirectory(prefix="bench_step1_") if args.keep is None else None
    folder = Path(context.name) if context is not None else args.keep
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if not (folder / "cohort.bed").is_file():
            start = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--simulate-only", str(folder), "--samples", str(args.samples),
                            "--variants", str(args.variants), "--phenotypes", str(args.phenotypes),
                            "--seed", str(args.seed)], check=True)
            print(f"simulated {args.samples} samples x {args.variants} variants x {args.phenotypes} phenotypes "
                  f"in {time.perf_counter() - start:.1f} s ({folder})")
        regenie = find_regenie()
        if regenie is None:
            print("(no real regenie binary found: built-in engine only)")
        for threads in (int(t) for t in args.threads.split(",")):
            flags = step1_flags(folder, threads, args.bsize)
            rounds = [paired_round(flags, folder / f"s1_t{threads}", threads, regenie) for _ in range(args.repeat)]
            report_rounds(f"step 1 threads {threads} --bsize {args.bsize}", rounds)
    finally:
        if context is not None:
            context.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
