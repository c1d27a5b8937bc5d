"""Built-in LD clumping against a real PLINK --clump on the same genotypes and results."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from gwasflow.regenie.io.bed import open_bed_file
from gwasflow.report.loci.clump import ClumpOptions, clump
from gwasflow.report.loci.founders import founder_index
from gwasflow.report.loci.results import ResultRows, read_results
from gwasflow.spec.genotypes import GenoFormat
from tests.report.loci.ldcohort import LdCohort, write_ld_cohort
from tests.report.loci.plinkref import PlinkClump, reference_plink, run_plink_clump


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> LdCohort:
    return write_ld_cohort(tmp_path_factory.mktemp("ldcohort"))


def _ours(cohort: LdCohort, options: ClumpOptions) -> list[PlinkClump]:
    rows = read_results(cohort.results)
    found = clump(rows, open_bed_file(str(cohort.bed_prefix)), options)
    return [PlinkClump(str(rows.ids[c.index]), c.total, frozenset(str(rows.ids[m]) for m in c.members))
            for c in found]


@pytest.mark.parametrize(("p1", "r2", "kb"), [(5e-8, 0.5, 250.0), (1e-3, 0.5, 250.0), (1e-3, 0.2, 60.0)])
def test_clump__equals_plink_clump(cohort: LdCohort, tmp_path: Path, p1: float, r2: float, kb: float) -> None:
    reference = run_plink_clump(reference_plink(), cohort.bed_prefix, cohort.plink_results, tmp_path / "ref",
                                p1=p1, p2=1e-2, r2=r2, kb=kb)
    ours = _ours(cohort, ClumpOptions(p1=p1, p2=1e-2, r2=r2, kb=kb))
    assert len(reference) >= 3
    assert sum(c.total for c in reference) >= 20  # the data has LD: clumps have members
    assert ours == reference  # same index variants, in the same order, same TOTAL and SP2 members


def test_clump__defaults_are_genome_wide_significance(cohort: LdCohort) -> None:
    rows = read_results(cohort.results)
    found = clump(rows, open_bed_file(str(cohort.bed_prefix)))
    leads = rows.log10p[[c.index for c in found]]
    assert found and (leads >= -np.log10(5e-8)).all()
    assert list(leads) == sorted(leads, reverse=True)
    members = [m for c in found for m in c.members]
    assert len(members) == len(set(members))  # a variant belongs to one clump at most
    assert not {c.index for c in found} & set(members)


def test_clump__results_without_genotypes_are_left_out(cohort: LdCohort) -> None:
    rows = read_results(cohort.results)
    best = int(np.nanargmax(rows.log10p))
    renamed = rows.ids.copy()
    renamed[best] = "not_in_the_bed"
    found = clump(ResultRows(rows.chrom, rows.pos, renamed, rows.log10p), open_bed_file(str(cohort.bed_prefix)))
    assert found
    assert best not in {c.index for c in found}
    assert all(best not in c.members for c in found)


def test_clump_options__rejects_bad_thresholds() -> None:
    with pytest.raises(ValueError, match="p-value thresholds"):
        ClumpOptions(p1=0.0)
    with pytest.raises(ValueError, match="r2"):
        ClumpOptions(r2=1.5)


def test_clump_options__window_is_plink2s() -> None:
    assert ClumpOptions(kb=250).bp_radius == 249_999
    assert ClumpOptions(kb=0.5).bp_radius == 499


def test_lead_r2__same_in_small_blocks(cohort: LdCohort, monkeypatch: pytest.MonkeyPatch) -> None:
    import gwasflow.report.loci.clump as clump_module

    source = open_bed_file(str(cohort.bed_prefix))
    others = np.arange(150, 260, dtype=np.intp)
    whole = clump_module.lead_r2(source, 200, others)
    monkeypatch.setattr(clump_module, "_BLOCK_BYTES", 8 * source.n_samples * 7)  # 7 variants per read
    blocked = clump_module.lead_r2(source, 200, others)
    assert np.isfinite(whole).sum() > 100
    np.testing.assert_array_equal(blocked, whole)
    assert whole[50] == pytest.approx(1.0)  # the lead itself
    assert np.nanmax(np.delete(whole, 50)) > 0.5 > np.nanmin(whole)  # neighbours in LD, others not


def test_clump__founders_only_as_plink(cohort: LdCohort, tmp_path: Path) -> None:
    """Samples with parents in the .fam are left out of r2, as PLINK computes LD over founders only."""
    for ext in ("bed", "bim"):
        shutil.copyfile(f"{cohort.bed_prefix}.{ext}", tmp_path / f"fam.{ext}")
    lines = Path(f"{cohort.bed_prefix}.fam").read_text().splitlines()
    fields = [line.split() for line in lines]
    for k in range(0, len(fields), 2):  # half the samples get parents: only the others are founders
        fields[k][2:4] = ["S1", "S3"]
    (tmp_path / "fam.fam").write_text("".join(" ".join(f) + "\n" for f in fields))
    founders = founder_index(GenoFormat.BED, str(tmp_path / "fam"))
    assert founders is not None and founders.tolist() == list(range(1, len(fields), 2))
    options = ClumpOptions(p1=1e-3, p2=1e-2, r2=0.5, kb=250)
    reference = run_plink_clump(reference_plink(), tmp_path / "fam", cohort.plink_results, tmp_path / "ref",
                                p1=options.p1, p2=options.p2, r2=options.r2, kb=options.kb)
    rows = read_results(cohort.results)
    found = clump(rows, open_bed_file(str(tmp_path / "fam")), options, sample_index=founders)
    ours = [PlinkClump(str(rows.ids[c.index]), c.total, frozenset(str(rows.ids[m]) for m in c.members))
            for c in found]
    assert ours == reference
    assert ours != _ours(cohort, options)  # with all samples the clumps differ: the founders did matter
