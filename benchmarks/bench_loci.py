"""Time the loci of a phenotype: read the result, clump (plink2's rules), regional plots, gene look-ups.

Draws the LD cohort of the tests (tests/report/loci/ldcohort.py; default 2,000 samples x 20,000
variants over 3 chromosomes, like the demo, with LD) and times, separately: reading the result file,
clumping at p1 = 5e-8 and at 1e-4, ``annotate_phenotype`` (clumps + nearest genes + each locus's
regional r2 and SVG), and a 60,000-gene GTF index (load, 100,000 nearest-gene queries).

    python benchmarks/bench_loci.py [--samples 2000] [--variants 20000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.report.loci.ldcohort import write_ld_cohort

from gwasflow.regenie.io.bed import open_bed_file
from gwasflow.report.loci.annotate import annotate_phenotype
from gwasflow.report.loci.clump import ClumpOptions, clump
from gwasflow.report.loci.genes import load_genes
from gwasflow.report.loci.results import read_results


def _gtf(path: Path, n_genes: int) -> None:
    with gzip.open(path, "wt") as handle:
        for i in range(n_genes):
            chrom, start = f"chr{i % 22 + 1}", 10_000 + (i // 22) * 90_000
            handle.write(f"{chrom}\tENSEMBL\tgene\t{start}\t{start + 30_000}\t.\t{'+-'[i % 2]}\t.\t"
                         f'gene_id "ENSG{i:011d}"; gene_name "G{i}"; gene_biotype "protein_coding";\n')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--variants", type=int, default=20_000)
    parser.add_argument("--keep", type=Path, default=None, help="write the data here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp)
        began = time.perf_counter()
        cohort = write_ld_cohort(out, n_samples=args.samples, per_chrom=args.variants // 3)
        took = time.perf_counter() - began
        print(f"cohort: {args.samples} samples x {args.variants // 3 * 3} variants in {took:.1f} s")
        began = time.perf_counter()
        rows = read_results(cohort.results)
        print(f"read_results: {len(rows)} rows in {time.perf_counter() - began:.2f} s")
        source = open_bed_file(str(cohort.bed_prefix))
        for p1 in (5e-8, 1e-4):
            began = time.perf_counter()
            found = clump(rows, source, ClumpOptions(p1=p1))
            members = sum(c.total for c in found)
            print(f"clump p1={p1:g}: {len(found)} clumps, {members} joined variants in "
                  f"{time.perf_counter() - began:.2f} s")
        _gtf(out / "genes.gtf.gz", 60_000)
        began = time.perf_counter()
        genes = load_genes(out / "genes.gtf.gz")
        loaded = time.perf_counter() - began
        began = time.perf_counter()
        for k in range(100_000):
            genes.nearest(str(k % 22 + 1), (k * 7_919_993) % 200_000_000)
        print(f"genes: 60,000-gene GTF loaded in {loaded:.2f} s; 100,000 nearest() in "
              f"{time.perf_counter() - began:.2f} s")
        began = time.perf_counter()
        result = annotate_phenotype("Y1", rows, [source], genes)
        svgs = result.plots()
        print(f"annotate_phenotype: {len(result.loci)} loci with genes, regional r2 and {len(svgs)} SVGs "
              f"({sum(map(len, svgs.values())) // 1024} KiB) in {time.perf_counter() - began:.2f} s")


if __name__ == "__main__":
    main()
