"""The biobank-shaped simulation behind ``gwasflow demo``: array faults QC must find, imputed dosages, BGEN files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from gwasflow.qc import QcConfig, QcFilter
from gwasflow.qc.filters import run_builtin_qc
from gwasflow.qc.plink2 import run_plink2_qc
from gwasflow.simulate import simulate_cohort
from gwasflow.simulate_bgen import write_bgen, write_sample_file
from gwasflow.simulate_biobank import genotyping_array, imputation_quality, imputed_dosages, write_biobank


def test_write_bgen__cbgen_reads_back_the_dosages_and_the_index_tiles_the_file(tmp_path: Path) -> None:
    from cbgen import bgen_file, bgen_metafile

    rng = np.random.default_rng(3)
    dosage = np.clip(rng.normal(1.0, 0.7, size=(40, 25)), 0.0, 2.0)
    dosage[:, 0] = [0.0, 1.0, 2.0, 0.5] * 10
    variants = {"chrom": ["2"] * 25, "pos": np.arange(25) * 100 + 7, "ids": [f"v{j}" for j in range(25)],
                "a1": ["A"] * 25, "a2": ["G"] * 25}
    path = tmp_path / "x.bgen"
    write_bgen(path, dosage, variants)
    with sqlite3.connect(tmp_path / "x.bgen.bgi") as con:
        rows = con.execute("SELECT rsid, file_start_position, size_in_bytes FROM Variant ORDER BY position").fetchall()
    assert [r[0] for r in rows] == variants["ids"]
    starts = [r[1] for r in rows]
    ends = [r[1] + r[2] for r in rows]
    assert starts[0] == 24 and starts[1:] == ends[:-1] and ends[-1] == path.stat().st_size
    assert not list(tmp_path.glob("*.tmp"))
    with bgen_file(path) as reader:
        reader.create_metafile(tmp_path / "x.metafile")
        with bgen_metafile(tmp_path / "x.metafile") as meta:
            parts = [meta.read_partition(p).variants for p in range(meta.npartitions)]
            offsets = np.concatenate([part.offset for part in parts])
            assert [v.decode() for part in parts for v in part.rsid] == variants["ids"]
        for j, offset in enumerate(offsets.tolist()):
            probs = reader.read_probability(int(offset))
            assert probs.shape == (40, 3)
            np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
            # three 8-bit probabilities, each rounded: the dosage is within 1.5 / 255 of the one written
            np.testing.assert_allclose(2.0 * probs[:, 0] + probs[:, 1], dosage[:, j], atol=1.5 / 255, err_msg=f"v{j}")


def test_write_sample_file__oxford_header_and_one_line_per_sample(tmp_path: Path) -> None:
    write_sample_file(tmp_path / "s.sample", ["S1", "S2"])
    assert (tmp_path / "s.sample").read_text() == "ID_1 ID_2 missing\n0 0 0\nS1 S1 0\nS2 S2 0\n"


def test_imputed_dosages__quality_shrinks_toward_twice_the_frequency_and_fills_missing_calls() -> None:
    calls = np.array([[0, 2, 1], [2, -127, 1], [1, 2, -127], [1, 0, 0]], dtype=np.int8)
    quality = np.array([1.0, 0.5, 0.0])
    dosage = imputed_dosages(calls, quality)
    mean = np.array([1.0, 4 / 3, 2 / 3])
    np.testing.assert_allclose(dosage[:, 0], [0, 2, 1, 1])
    np.testing.assert_allclose(dosage[[0, 2, 3], 1], 0.5 * np.array([2, 2, 0]) + 0.5 * mean[1])
    np.testing.assert_allclose(dosage[1, 1], mean[1])
    np.testing.assert_allclose(dosage[:, 2], mean[2])


def test_imputation_quality__a_fraction_below_095_the_rest_above() -> None:
    quality = imputation_quality(20_000, low_quality=0.15, seed=4)
    low = quality < 0.95
    assert 0.13 < low.mean() < 0.17
    assert quality.min() >= 0.4 and quality.max() <= 1.0


def test_genotyping_array__builtin_qc_and_plink2_remove_exactly_the_planted_faults(tmp_path: Path) -> None:
    cohort = simulate_cohort(n_samples=600, n_variants=3000, n_chrom=2, n_causal=10, seed=11)
    files = write_biobank(cohort, tmp_path / "data", seed=4)
    faults = files.faults
    assert len(faults.bad_samples) == 5 and len(faults.bad_variants) == len(faults.hwe_outliers) == 10
    config = QcConfig(maf=0.01, geno=0.05, mind=0.05, hwe=1e-15)
    result = run_builtin_qc(str(files.array), config)
    assert result.n_variants_in == files.n_array == 900
    kept_samples = {iid for _, iid in result.samples}
    assert kept_samples == set(cohort.sample_ids) - {str(cohort.sample_ids[i]) for i in faults.bad_samples}
    bim = np.loadtxt(f"{files.array}.bim", dtype=str)[:, 1]
    assert set(bim) - set(result.variant_ids) == set(faults.bad_variants) | set(faults.hwe_outliers)
    assert result.removed[QcFilter.MIND] == 5 and result.removed[QcFilter.GENO] == 10
    assert result.removed[QcFilter.HWE] == 10
    plink2 = run_plink2_qc(str(files.array), config, threads=1)  # plink2 missing is an error, as in tests/qc
    assert (plink2.variant_ids, plink2.samples, plink2.removed) == (result.variant_ids, result.samples, result.removed)
    planted = {str(v) for v in cohort.variant_ids[cohort.causal_index]}
    assert not set(faults.bad_variants + faults.hwe_outliers) & planted


def test_genotyping_array__too_many_faults_for_the_array_refused() -> None:
    cohort = simulate_cohort(n_samples=50, n_variants=40, n_chrom=1, n_causal=2, seed=1)
    with pytest.raises(ValueError, match="too few variants"):
        genotyping_array(cohort, fraction=0.25, n_bad_variants=5, n_hwe_outliers=6)
