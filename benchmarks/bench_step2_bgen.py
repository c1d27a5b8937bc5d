"""Benchmark step 2 on imputed dosages (BGEN v1.2), the built-in engine paired with the real regenie.

Simulates a cohort (numpy, fixed seed): Hardy-Weinberg genotypes blurred into non-integer dosages, as
after imputation, written as BGEN v1.2 layout 2 (unphased; by default one file each at 8 and 16 bits,
zlib and zstd; a ``.sample`` file) with 4 quantitative phenotypes and 3 covariates; then runs
``--step 2 --ignore-pred --bsize 1000`` in paired rounds: the built-in engine, then the real regenie
(``benchmarks/_engine.py`` finds it) on the same files with the same flags, per file and thread count.
Prints each program's wall time, CPU time, peak RSS and the ratios, per round and as the median over
rounds (this machine's speed drifts by 10-25%).

    python benchmarks/bench_step2_bgen.py                                   # 10,000 x 50,000, 4 files
    python benchmarks/bench_step2_bgen.py --bits 8 --compression zlib --rounds 3
    python benchmarks/bench_step2_bgen.py --keep /tmp/bgen50k --reuse --threads 1,2
    python benchmarks/bench_step2_bgen.py --keep /tmp/bgen50k --reuse --bits 8 --compression zlib --threads 1,2 \
        --rounds 3 --block-phase                                         # thread scaling of the blocks
"""

from __future__ import annotations

import argparse
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
from _engine import block_phase, find_regenie, paired_round, report_rounds
from bench_step2 import print_scaling


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--variants", type=int, default=50_000)
    parser.add_argument("--bits", default="8,16", help="comma-separated bit depths (8, 16)")
    parser.add_argument("--compression", default="zlib,zstd", help="comma-separated: zlib, zstd")
    parser.add_argument("--threads", default="1", help="comma-separated thread counts")
    parser.add_argument("--rounds", type=int, default=1, help="paired rounds (medians printed)")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--keep", type=Path, default=None, help="simulate into this folder and keep it")
    parser.add_argument("--reuse", action="store_true", help="with --keep: use the files already there")
    parser.add_argument("--block-phase", action="store_true",
                        help="also time one variant, and print the block phase (median wall - that) per thread count")
    parser.add_argument("--simulate-only", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _variant_block(dosage: np.ndarray, bits: int, compress: object) -> bytes:
    """A layout-2 genotype block of unphased probabilities carrying ``dosage`` (of the first allele)."""
    n = dosage.shape[0]
    scale = (1 << bits) - 1
    p_aa = np.clip(dosage - 1.0, 0.0, 1.0)
    q_aa = np.floor(p_aa * scale + 0.5).astype(np.int64)
    q_ab = np.minimum(np.floor((dosage - 2.0 * p_aa) * scale + 0.5).astype(np.int64), scale - q_aa)
    values = np.empty(2 * n, dtype=np.uint8 if bits == 8 else "<u2")
    values[0::2], values[1::2] = q_aa, q_ab
    raw = struct.pack("<IHBB", n, 2, 2, 2) + bytes([2]) * n + struct.pack("<BB", 0, bits) + values.tobytes()
    packed = compress(raw)  # type: ignore[operator]
    return struct.pack("<II", len(packed) + 4, len(raw)) + packed


def simulate(folder: Path, args: argparse.Namespace, bits: int, compression: str) -> Path:
    """Write ``cohort_<bits>bit_<compression>.bgen`` (the same dosages for every format), the ``.sample``,
    ``pheno.txt`` and ``covar.txt``; return the BGEN file's path."""
    rng = np.random.default_rng(args.seed)
    n, m = args.samples, args.variants
    if compression == "zstd":
        import zstandard

        compress, code = zstandard.ZstdCompressor(level=3).compress, 2
    else:
        compress, code = zlib.compress, 1
    ids = [f"s{i}" for i in range(n)]
    chrom = np.repeat(np.arange(1, 23), -(-m // 22))[:m]
    path = folder / f"cohort_{bits}bit_{compression}.bgen"
    with path.open("wb") as out:
        out.write(struct.pack("<IIIII", 20, 20, m, n, 0x6E656762) + struct.pack("<I", code | (2 << 2)))
        freq = rng.uniform(0.01, 0.5, m)
        for start in range(0, m, 2000):
            f = freq[start:start + 2000]
            calls = (rng.random((n, f.size)) < f).astype(float) + (rng.random((n, f.size)) < f)
            dosage = np.clip(calls + rng.normal(0.0, 0.15, calls.shape) * (rng.random(f.size) < 0.7), 0.0, 2.0)
            for j in range(f.size):
                vid = f"v{start + j}".encode()
                ch = str(chrom[start + j]).encode()
                out.write(struct.pack("<H", len(vid)) + vid + struct.pack("<H", len(vid)) + vid)
                out.write(struct.pack("<H", len(ch)) + ch + struct.pack("<IH", start + j + 1, 2))
                out.write(struct.pack("<I", 1) + b"A" + struct.pack("<I", 1) + b"G")
                out.write(_variant_block(dosage[:, j], bits, compress))
    (folder / "cohort.sample").write_text("ID_1 ID_2 missing\n0 0 0\n" + "".join(f"{s} {s} 0\n" for s in ids))
    covar = rng.normal(size=(n, 3))
    pheno = covar @ rng.normal(size=(3, 4)) + rng.normal(size=(n, 4))
    for name, values, prefix in (("pheno.txt", pheno, "Y"), ("covar.txt", covar, "C")):
        header = "FID IID " + " ".join(f"{prefix}{j + 1}" for j in range(values.shape[1]))
        rows = [f"{s} {s} " + " ".join(f"{v:.6f}" for v in row) for s, row in zip(ids, values.tolist(), strict=True)]
        (folder / name).write_text("\n".join([header, *rows]) + "\n")
    return path


def simulate_in_child(folder: Path, args: argparse.Namespace, bits: int, compression: str) -> Path:
    """:func:`simulate` in a child process: a child's peak RSS counts the memory it inherits at fork, so the
    benchmark process must stay small."""
    subprocess.run([sys.executable, __file__, "--simulate-only", str(folder), "--samples", str(args.samples),
                    "--variants", str(args.variants), "--seed", str(args.seed), "--bits", str(bits),
                    "--compression", compression], check=True)
    return folder / f"cohort_{bits}bit_{compression}.bgen"


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.simulate_only is not None:
        simulate(args.simulate_only, args, int(args.bits), args.compression)
        return 0
    context = tempfile.TemporaryDirectory(prefix="bench_bgen_") if args.keep is None else None
    folder = Path(context.name) if context is not None else args.keep
    folder.mkdir(parents=True, exist_ok=True)
    regenie = find_regenie()
    if regenie is None:
        print("(no real regenie binary found: built-in engine only)")
    for bits in (int(b) for b in args.bits.split(",")):
        for compression in args.compression.split(","):
            path = folder / f"cohort_{bits}bit_{compression}.bgen"
            if not (args.reuse and path.is_file()):
                start = time.perf_counter()
                simulate_in_child(folder, args, bits, compression)
                print(f"simulated {args.samples} x {args.variants} BGEN ({bits}-bit, {compression}) "
                      f"in {time.perf_counter() - start:.1f} s ({folder})")
            phases = {}
            for threads in (int(t) for t in args.threads.split(",")):
                flags = ["--step", "2", "--bgen", str(path), "--sample", str(folder / "cohort.sample"),
                         "--phenoFile", str(folder / "pheno.txt"), "--covarFile", str(folder / "covar.txt"),
                         "--ignore-pred", "--bsize", "1000", "--threads", str(threads)]
                out = folder / f"{path.stem}_t{threads}"
                rounds = [paired_round(flags, out, threads, regenie) for _ in range(args.rounds)]
                report_rounds(f"{bits}-bit {compression} threads {threads}", rounds)
                if args.block_phase:  # the simulated variants are named v0, v1, ...
                    phases[threads] = block_phase(f"{bits}-bit {compression} threads {threads}", flags, out, threads,
                                                  rounds, "v0", args.variants)
            print_scaling(phases)
    if context is not None:
        context.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
