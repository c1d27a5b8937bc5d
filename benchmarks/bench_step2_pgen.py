"""Benchmark step 2 on PLINK 2 dosages (.pgen), the built-in engine paired with the real regenie.

Simulates the imputed-dosage cohort of ``bench_step2_bgen.py`` (8-bit zlib BGEN, 4 quantitative traits,
3 covariates), converts it with plink2 (``--bgen F ref-first --sample S --make-pgen``: dosages kept), then
runs ``--step 2 --pgen P --ignore-pred --bsize 1000`` in paired rounds: the built-in engine, then the real
regenie (``benchmarks/_engine.py`` finds it) on the same files with the same flags, per thread count.
Prints both programs' wall and CPU times, peak RSS and the ratios, per round and as medians.

    python benchmarks/bench_step2_pgen.py                                   # 10,000 x 50,000
    python benchmarks/bench_step2_pgen.py --variants 20000 --rounds 3 --threads 1,2
    python benchmarks/bench_step2_pgen.py --keep /tmp/pgen50k --reuse
    python benchmarks/bench_step2_pgen.py --keep /tmp/pgen20k --reuse --threads 1,2 --rounds 3 --block-phase
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _engine import block_phase, find_regenie, paired_round, report_rounds
from bench_step2 import print_scaling
from bench_step2_bgen import simulate_in_child


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--variants", type=int, default=50_000)
    parser.add_argument("--threads", default="1", help="comma-separated thread counts")
    parser.add_argument("--rounds", type=int, default=1, help="paired rounds (medians printed)")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--keep", type=Path, default=None, help="simulate into this folder and keep it")
    parser.add_argument("--reuse", action="store_true", help="with --keep: use the files already there")
    parser.add_argument("--block-phase", action="store_true",
                        help="also time one variant, and print the block phase (median wall - that) per thread count")
    return parser.parse_args(argv)


def make_pgen(folder: Path, args: argparse.Namespace) -> Path:
    """The cohort as ``cohort.pgen/.pvar/.psam`` (plink2's conversion of the simulated 8-bit BGEN)."""
    plink2 = shutil.which("plink2")
    if plink2 is None:
        raise SystemExit("plink2 is not on PATH (apt-get install plink2): it converts the BGEN cohort to .pgen")
    bgen = simulate_in_child(folder, args, 8, "zlib")
    prefix = folder / "cohort"
    subprocess.run([plink2, "--bgen", str(bgen), "ref-first", "--sample", str(folder / "cohort.sample"),
                    "--make-pgen", "--threads", "2", "--out", str(prefix)], check=True, capture_output=True)
    return prefix


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    context = tempfile.TemporaryDirectory(prefix="bench_pgen_") if args.keep is None else None
    folder = Path(context.name) if context is not None else args.keep
    folder.mkdir(parents=True, exist_ok=True)
    prefix = folder / "cohort"
    if not (args.reuse and prefix.with_suffix(".pgen").is_file()):
        start = time.perf_counter()
        make_pgen(folder, args)
        print(f"simulated {args.samples} x {args.variants} dosages as .pgen in {time.perf_counter() - start:.1f} s "
              f"({folder})")
    regenie = find_regenie()
    if regenie is None:
        print("(no real regenie binary found: built-in engine only)")
    phases = {}
    n_variants = sum(1 for line in prefix.with_suffix(".pvar").open() if not line.startswith("#"))
    for threads in (int(t) for t in args.threads.split(",")):
        flags = ["--step", "2", "--pgen", str(prefix), "--phenoFile", str(folder / "pheno.txt"),
                 "--covarFile", str(folder / "covar.txt"), "--ignore-pred", "--bsize", "1000",
                 "--threads", str(threads)]
        rounds = [paired_round(flags, folder / f"pgen_t{threads}", threads, regenie) for _ in range(args.rounds)]
        report_rounds(f"pgen dosages threads {threads}", rounds)
        if args.block_phase:  # the simulated variants are named v0, v1, ...
            phases[threads] = block_phase(f"pgen dosages threads {threads}", flags, folder / f"pgen_t{threads}",
                                          threads, rounds, "v0", n_variants)
    print_scaling(phases)
    if context is not None:
        context.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
