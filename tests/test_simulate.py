"""The simulator: deterministic, readable by bed-reader, planted effects as specified."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from bed_reader import open_bed

from gwasflow.simulate import simulate_cohort, write_cohort


def test_simulate_cohort__same_seed_same_cohort() -> None:
    a = simulate_cohort(n_samples=50, n_variants=30, n_causal=3, seed=1)
    b = simulate_cohort(n_samples=50, n_variants=30, n_causal=3, seed=1)
    c = simulate_cohort(n_samples=50, n_variants=30, n_causal=3, seed=2)
    assert np.array_equal(a.genotypes, b.genotypes)
    assert not np.array_equal(a.genotypes, c.genotypes)


def test_simulate_cohort__positions_increase_within_each_chromosome() -> None:
    c = simulate_cohort(n_samples=20, n_variants=100, n_chrom=3, n_causal=2)
    for chrom in np.unique(c.chrom):
        assert np.all(np.diff(c.pos[c.chrom == chrom]) > 0)
    assert sorted(set(c.chrom)) == ["1", "2", "3"]


def test_write_cohort__bed_roundtrips_through_bed_reader(tmp_path: Path) -> None:
    c = simulate_cohort(n_samples=40, n_variants=25, n_causal=2, seed=5)
    files = write_cohort(c, tmp_path / "x")
    with open_bed(files.bed, count_A1=True) as bed:
        values = bed.read(dtype="float64")
        assert list(bed.allele_1) == list(c.allele1)
        assert list(bed.sid) == list(c.variant_ids)
    expected = np.where(c.genotypes == -127, np.nan, c.genotypes.astype(float))
    assert np.array_equal(np.isnan(values), np.isnan(expected))
    assert np.array_equal(np.nan_to_num(values, nan=-1), np.nan_to_num(expected, nan=-1))
    truth = files.truth.read_text().splitlines()
    assert truth[0] == "chrom\tid\tbeta" and len(truth) == 3
    header = files.pheno.read_text().splitlines()[0]
    assert header == "FID IID Y1 Y2"


def test_simulate_cohort__binary_traits_hit_the_prevalence_with_planted_log_odds() -> None:
    c = simulate_cohort(n_samples=4000, n_variants=200, n_causal=5, trait="binary", prevalence=0.1, seed=3)
    for name in ("Y1", "Y2"):
        y = c.phenotypes[name]
        observed = y[~np.isnan(y)]
        assert set(np.unique(observed)) == {0.0, 1.0}
        assert 0.08 < observed.mean() < 0.12
    assert np.allclose(np.abs(c.causal_beta), 0.9)


def test_simulate_cohort__quantitative_cohort_unchanged_by_binary_option() -> None:
    a = simulate_cohort(n_samples=50, n_variants=30, n_causal=3, seed=1)
    b = simulate_cohort(n_samples=50, n_variants=30, n_causal=3, seed=1, trait="quantitative", prevalence=0.3)
    assert np.array_equal(a.phenotypes["Y1"], b.phenotypes["Y1"], equal_nan=True)
