"""Time the merge job (shards -> sorted bgzip + tabix index), the final check's read and the GWAS-SSF export.

Writes a synthetic merged result (the generator of ``bench_report.py``, 22 chromosomes), cuts it into
gzip shards of ``--shard-rows`` rows as step 2 would leave them, then times ``merge_phenotype``,
``scan_result`` (what ``gwasflow verify`` reads per trait) and ``write_ssf_table`` (``gwasflow
export-sumstats``, when this checkout has it) on the merged file.

    python benchmarks/bench_merge.py [--variants 1000000] [--shard-rows 50000]
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from pathlib import Path

from bench_report import write_synthetic

from gwasflow.report.merge import merge_phenotype, scan_result


def _shards(source: Path, folder: Path, rows_per_shard: int) -> list[Path]:
    shards: list[Path] = []
    with gzip.open(source, "rt") as handle:
        header = handle.readline()
        batch: list[str] = []
        for line in handle:
            batch.append(line)
            if len(batch) == rows_per_shard:
                shards.append(_write_shard(folder / f"s{len(shards):05d}.regenie.gz", header, batch))
                batch = []
        if batch:
            shards.append(_write_shard(folder / f"s{len(shards):05d}.regenie.gz", header, batch))
    return shards


def _write_shard(path: Path, header: str, rows: list[str]) -> Path:
    with gzip.open(path, "wt", compresslevel=1) as handle:
        handle.write(header)
        handle.writelines(rows)
    return path


def _timed(label: str, rows: int, func: object, *args: object, **kwargs: object) -> object:
    start = time.perf_counter()
    result = func(*args, **kwargs)  # type: ignore[operator]
    elapsed = time.perf_counter() - start
    print(f"{label:<28} {elapsed:7.2f} s  {rows / elapsed / 1e6:5.2f} M rows/s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument("--shard-rows", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_synthetic(root / "source.regenie.gz", args.variants, seed=1)
        shards = _shards(root / "source.regenie.gz", root, args.shard_rows)
        out = root / "results" / "Y1.regenie.gz"
        print(f"{args.variants:,} variants in {len(shards)} shards")
        _timed("merge (sort, bgzip, tabix)", args.variants, merge_phenotype, shards, out, planned_rows=args.variants)
        _timed("verify read (scan_result)", args.variants, scan_result, out)
        index = out.with_name(out.name + ".tbi")
        extra = f", index {index.stat().st_size / 1e3:.0f} kB" if index.exists() else ""
        print(f"merged file {out.stat().st_size / 1e6:.1f} MB{extra}")
        try:
            from gwasflow.report.sumstats import write_ssf_table
        except ImportError:
            return
        _timed("GWAS-SSF export", args.variants, write_ssf_table, out, root / "Y1.tsv.gz")


if __name__ == "__main__":
    main()
