"""The built-in QC on a hard-call .pgen (the cohort converted by plink2 --make-pgen): same as on the .bed and
as plink2 --pfile; a .pgen with dosages is refused."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gwasflow.errors import EngineInputError
from gwasflow.qc.filters import run_builtin_qc
from gwasflow.qc.model import GenotypeFormat, PruneConfig, QcConfig
from gwasflow.qc.plink2 import run_plink2_qc

PGEN = GenotypeFormat.PGEN


@pytest.fixture(scope="module")
def pgen_cohort(qc_cohort: str, plink2: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("pgen") / "cohort"
    subprocess.run([plink2, "--bfile", qc_cohort, "--make-pgen", "--out", str(out)], check=True, capture_output=True)
    return str(out)


def test_run_builtin_qc__pgen_same_as_bed_and_plink2(qc_cohort: str, pgen_cohort: str, plink2: str) -> None:
    config = QcConfig(maf=0.01, mac=5, geno=0.1, mind=0.1, hwe=1e-6, prune=PruneConfig(50, 5, 0.5))
    from_pgen = run_builtin_qc(pgen_cohort, config, PGEN)
    from_bed = run_builtin_qc(qc_cohort, config)
    theirs = run_plink2_qc(pgen_cohort, config, PGEN, program=plink2)
    assert from_pgen.variant_ids == from_bed.variant_ids == theirs.variant_ids
    assert from_pgen.samples == from_bed.samples == theirs.samples
    assert from_pgen.removed == theirs.removed
    assert (from_pgen.n_variants_in, from_pgen.n_samples_in) == (theirs.n_variants_in, theirs.n_samples_in)


def test_run_builtin_qc__pgen_with_dosages_is_refused(tmp_path: Path, plink2: str) -> None:
    samples = [f"S{i}" for i in range(4)]
    vcf = tmp_path / "d.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n"
        '##FORMAT=<ID=DS,Number=1,Type=Float,Description="dosage">\n'
        "##contig=<ID=1>\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples) + "\n"
        "1\t100\tvd\tA\tG\t.\t.\t.\tDS\t0.2\t1.5\t1\t0\n"
    )
    out = tmp_path / "d"
    subprocess.run([plink2, "--vcf", str(vcf), "dosage=DS", "--make-pgen", "--out", str(out)],
                   check=True, capture_output=True)
    with pytest.raises(EngineInputError, match="variant vd has dosages"):
        run_builtin_qc(str(out), QcConfig(maf=0.01), PGEN)


def test_qc__pgen_flag_writes_the_bed_lists(qc_cohort: str, pgen_cohort: str, tmp_path: Path) -> None:
    from gwasflow.cli import main

    flags = ["--maf", "0.01", "--hwe", "1e-6", "--engine", "builtin"]
    assert main(["qc", "--pgen", pgen_cohort, *flags, "--out", str(tmp_path / "p")]) == 0
    assert main(["qc", "--bed", qc_cohort, *flags, "--out", str(tmp_path / "b")]) == 0
    for ext in ("snplist", "keep"):
        assert (tmp_path / f"p.{ext}").read_bytes() == (tmp_path / f"b.{ext}").read_bytes()
