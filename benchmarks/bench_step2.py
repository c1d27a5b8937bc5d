"""Benchmark the built-in engine's step 2 (quantitative traits, ``--ignore-pred``).

Simulates a cohort (numpy, fixed seed) in a temporary folder — by default
10,000 samples x 50,000 variants x 4 phenotypes — then runs
``python -m gwasflow.regenie --step 2 --ignore-pred --bsize 1000`` once per
thread count in a subprocess whose BLAS pools are capped through
``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS``/``MKL_NUM_THREADS``, and right
after it the real regenie on the same files with the same flags (when
``benchmarks/_engine.py`` finds its binary). Prints both programs' wall and
CPU times, peak RSS and the ratios, per run and as medians, and our variant x
phenotype tests per second.

    python benchmarks/bench_step2.py                      # full size, threads 1 and 2
    python benchmarks/bench_step2.py --samples 2000 --variants 5000 --threads 1
    python benchmarks/bench_step2.py --keep /tmp/b50k --repeat 3     # simulate once into /tmp/b50k, 3 runs each
    python benchmarks/bench_step2.py --keep /tmp/b50k --reuse        # reuse a simulated folder
    python benchmarks/bench_step2.py --variants 200000 --threads 2    # peak RSS stays flat in the variants
    python benchmarks/bench_step2.py --keep /tmp/b20k --reuse --repeat 3 --block-phase   # thread scaling of the blocks

With ``--repeat N`` each thread count runs N paired rounds and the medians are
printed: the machine is shared, so single runs are noisy.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _engine import block_phase, find_regenie, paired_round, report_rounds


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--variants", type=int, default=50_000)
    parser.add_argument("--phenotypes", type=int, default=4)
    parser.add_argument("--bsize", type=int, default=1000)
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts to run")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--keep", type=Path, default=None, help="simulate into this folder and keep it")
    parser.add_argument("--reuse", action="store_true", help="with --keep: use the cohort already there")
    parser.add_argument("--repeat", type=int, default=1, help="runs per thread count (best and spread printed)")
    parser.add_argument("--block-phase", action="store_true",
                        help="also time one variant, and print the block phase (median wall - that) per thread count")
    parser.add_argument("--simulate-only", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


_BED_CODE = np.array([0b11, 0b10, 0b00, 0b01], dtype=np.uint8)  # A1 count 0, 1, 2, missing (index 3)


def _bed_bytes(dosage: np.ndarray) -> bytes:
    """PLINK .bed bytes (variant-major) of int8 A1 counts (n_samples, n_variants), -127 = missing."""
    n_samples, n_variants = dosage.shape
    codes = _BED_CODE[np.where(dosage < 0, 3, dosage)]
    padded = np.zeros((-(-n_samples // 4) * 4, n_variants), dtype=np.uint8)
    padded[:n_samples] = codes
    quads = padded.T.reshape(n_variants, -1, 4)
    packed = quads[:, :, 0] | (quads[:, :, 1] << 2) | (quads[:, :, 2] << 4) | (quads[:, :, 3] << 6)
    return packed.tobytes()


def _write_genotypes(folder: Path, rng: np.random.Generator, ids: list[str], n_variants: int) -> None:
    """Hardy-Weinberg dosages with 0.5% missing calls, streamed to cohort.bed/.bim/.fam in chunks of 5,000."""
    n_samples = len(ids)
    chrom = np.repeat(np.arange(1, 23), -(-n_variants // 22))[:n_variants]
    freq = rng.uniform(0.01, 0.5, n_variants).astype(np.float32)
    with (folder / "cohort.bed").open("wb") as bed, (folder / "cohort.bim").open("w") as bim:
        bed.write(bytes([0x6C, 0x1B, 0x01]))
        for start in range(0, n_variants, 5000):
            f = freq[start:start + 5000]
            chunk = (rng.random((n_samples, f.size), dtype=np.float32) < f).astype(np.int8)
            chunk += rng.random((n_samples, f.size), dtype=np.float32) < f
            chunk[rng.random((n_samples, f.size), dtype=np.float32) < 0.005] = -127
            bed.write(_bed_bytes(chunk))
            bim.write("".join(f"{chrom[j]}\tv{j}\t0\t{j + 1}\tA\tG\n" for j in range(start, start + f.size)))
    (folder / "cohort.fam").write_text("".join(f"{s} {s} 0 0 0 -9\n" for s in ids))


def simulate(folder: Path, n_samples: int, n_variants: int, n_pheno: int, seed: int) -> None:
    """Write ``cohort.bed/.bim/.fam``, ``pheno.txt`` and ``covar.txt`` into ``folder`` (memory: one chunk)."""
    rng = np.random.default_rng(seed)
    ids = [f"s{i}" for i in range(n_samples)]
    _write_genotypes(folder, rng, ids, n_variants)
    covar = rng.normal(size=(n_samples, 3))
    pheno = covar @ rng.normal(size=(3, n_pheno)) + rng.normal(size=(n_samples, n_pheno))
    for name, values, prefix in (("pheno.txt", pheno, "Y"), ("covar.txt", covar, "C")):
        header = "FID IID " + " ".join(f"{prefix}{j + 1}" for j in range(values.shape[1]))
        rows = [f"{s} {s} " + " ".join(f"{v:.6f}" for v in row) for s, row in zip(ids, values.tolist(), strict=True)]
        (folder / name).write_text("\n".join([header, *rows]) + "\n")


def step2_flags(folder: Path, threads: int, bsize: int) -> list[str]:
    """The step 2 flags both programs run with (``--out`` added per program)."""
    return ["--step", "2", "--bed", str(folder / "cohort"), "--phenoFile", str(folder / "pheno.txt"),
            "--covarFile", str(folder / "covar.txt"), "--ignore-pred", "--bsize", str(bsize),
            "--threads", str(threads)]


def print_scaling(phases: dict[int, float]) -> None:
    """The block phase's throughput with N threads against 1 thread, for each N measured."""
    if 1 in phases:
        for threads, phase in sorted(phases.items()):
            if threads > 1:
                print(f"block phase with {threads} threads: {phases[1] / phase:.2f}x the 1-thread throughput")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.simulate_only is not None:
        simulate(args.simulate_only, args.samples, args.variants, args.phenotypes, args.seed)
        return 0
    context = tempfile.TemporaryDirectory(prefix="bench_step2_") if args.keep is None else None
    folder = Path(context.name) if context is not None else args.keep
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if not (args.reuse and (folder / "cohort.bed").is_file()):
            start = time.perf_counter()
            # simulate in a child so this process stays small: a child's peak RSS counts what it inherits at fork
            subprocess.run([sys.executable, __file__, "--simulate-only", str(folder), "--samples", str(args.samples),
                            "--variants", str(args.variants), "--phenotypes", str(args.phenotypes),
                            "--seed", str(args.seed)], check=True)
            print(f"simulated {args.samples} samples x {args.variants} variants x {args.phenotypes} phenotypes "
                  f"in {time.perf_counter() - start:.1f} s ({folder})")
        n_variants = sum(1 for _ in (folder / "cohort.bim").open())
        n_pheno = len((folder / "pheno.txt").open().readline().split()) - 2
        tests = n_variants * n_pheno
        print(f"cohort: {n_variants} variants x {n_pheno} phenotypes; --bsize {args.bsize}")
        regenie = find_regenie()
        if regenie is None:
            print("(no real regenie binary found: built-in engine only)")
        phases = {}
        first_id = (folder / "cohort.bim").open().readline().split()[1]
        for threads in (int(t) for t in args.threads.split(",")):
            flags = step2_flags(folder, threads, args.bsize)
            rounds = [paired_round(flags, folder / f"t{threads}", threads, regenie) for _ in range(args.repeat)]
            report_rounds(f"bed threads {threads}", rounds)
            best = min(r.ours.wall for r in rounds)
            print(f"bed threads {threads}: built-in best {best:.2f} s, tests/s={tests / best:,.0f}")
            if args.block_phase:
                phases[threads] = block_phase(f"bed threads {threads}", flags, folder / f"t{threads}", threads,
                                              rounds, first_id, n_variants)
        print_scaling(phases)
    finally:
        if context is not None:
            context.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
