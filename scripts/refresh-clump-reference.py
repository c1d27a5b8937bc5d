"""Regenerate tests/data/loci/: a cohort with fractional dosages and plink2's --clump of it.

The committed reference lets tests/report/loci/test_clump_dosage.py check the built-in clumping on
dosages against plink2 >= 2.00a4 (Debian's plink2 2.00a3.5 has no --clump, and plink 1.9 reads hard
calls only). Usage, from the repository root::

    python scripts/refresh-clump-reference.py /path/to/plink2

It draws the LD cohort of tests/report/loci/ldcohort.py (300 samples, 600 variants), blurs each
genotype into a dosage (Gaussian noise, clipped to [0, 2], 3 decimals), writes them as a VCF DS
field, imports it with ``plink2 --vcf dosage=DS --make-pgen`` and runs ``plink2 --clump`` with the
thresholds in ``clump_args.txt``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from bed_reader import open_bed

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.report.loci.ldcohort import write_ld_cohort  # noqa: E402

OUT = ROOT / "tests" / "data" / "loci"
CLUMP_ARGS = ["--clump-p1", "0.01", "--clump-p2", "0.05", "--clump-r2", "0.5", "--clump-kb", "250"]


def _write_vcf(prefix: Path, vcf: Path) -> None:
    bed = open_bed(f"{prefix}.bed")
    dosage = bed.read(dtype="float64")
    noisy = np.round(np.clip(dosage + np.random.default_rng(1).normal(0, 0.25, dosage.shape), 0, 2), 3)
    with vcf.open("w") as handle:
        handle.write('##fileformat=VCFv4.2\n##FORMAT=<ID=DS,Number=1,Type=Float,Description="ALT dosage">\n')
        handle.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(bed.iid) + "\n")
        for j in range(noisy.shape[1]):
            values = "\t".join("." if np.isnan(x) else f"{x:.3f}" for x in noisy[:, j])
            handle.write(f"{bed.chromosome[j]}\t{bed.bp_position[j]}\t{bed.sid[j]}\tG\tA\t.\t.\t.\tDS\t{values}\n")


def main(plink2: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cohort = write_ld_cohort(Path(tmp), n_samples=300, per_chrom=200)
        vcf = Path(tmp) / "dosage.vcf"
        _write_vcf(cohort.bed_prefix, vcf)
        subprocess.run([plink2, "--vcf", str(vcf), "dosage=DS", "--make-pgen", "--out", str(OUT / "dosage")],
                       check=True, capture_output=True)
        subprocess.run([plink2, "--pfile", str(OUT / "dosage"), "--clump", str(cohort.plink_results), *CLUMP_ARGS,
                        "--out", str(OUT / "dosage")], check=True, capture_output=True)
        (OUT / "dosage.regenie.gz").write_bytes(cohort.results.read_bytes())
    (OUT / "dosage.log").unlink(missing_ok=True)
    version = subprocess.run([plink2, "--version"], check=True, capture_output=True, text=True).stdout.strip()
    (OUT / "clump_args.txt").write_text(" ".join(CLUMP_ARGS) + f"\n# reference: {version}\n")


if __name__ == "__main__":
    main(sys.argv[1])
