"""The built-in QC selects exactly what plink2 selects; its edge cases and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from bed_reader import to_bed

from gwasflow.errors import EngineInputError
from gwasflow.qc.filters import read_founders, run_builtin_qc
from gwasflow.qc.model import PruneConfig, QcConfig, QcFilter
from gwasflow.qc.plink2 import run_plink2_qc

CONFIGS = {
    # the command: plink2 --maf 0.01 --mac 100 --geno 0.1 --mind 0.1 --hwe 1e-15, then pruning
    "issue": QcConfig(maf=0.01, mac=100, geno=0.1, mind=0.1, hwe=1e-15, prune=PruneConfig(1000, 100, 0.9)),
    "strict": QcConfig(maf=0.05, mac=5, geno=0.02, mind=0.03, hwe=1e-4),
    "hwe-mild": QcConfig(hwe=0.05),
    "fractional-mac": QcConfig(mac=2.5),
    "prune-small-window": QcConfig(maf=0.01, geno=0.1, prune=PruneConfig(10, 3, 0.2)),
    "prune-step-1": QcConfig(prune=PruneConfig(50, 1, 0.5)),
    "prune-step-window": QcConfig(mind=0.1, prune=PruneConfig(30, 30, 0.05)),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_run_builtin_qc__same_lists_and_counts_as_plink2(name: str, qc_cohort: str, plink2: str) -> None:
    config = CONFIGS[name]
    ours = run_builtin_qc(qc_cohort, config)
    theirs = run_plink2_qc(qc_cohort, config, program=plink2)
    assert ours.variant_ids == theirs.variant_ids
    assert ours.samples == theirs.samples
    assert ours.removed == theirs.removed
    assert 0 < len(ours.variant_ids) < ours.n_variants_in  # the filters did something, and not everything


def test_run_builtin_qc__every_filter_removes_some_on_the_cohort(qc_cohort: str) -> None:
    result = run_builtin_qc(qc_cohort, CONFIGS["strict"])
    assert all(result.removed[f] > 0 for f in (QcFilter.MIND, QcFilter.GENO, QcFilter.HWE, QcFilter.MAF_MAC))
    assert result.n_samples_in - len(result.samples) == result.removed[QcFilter.MIND]
    assert result.n_variants_in - len(result.variant_ids) == sum(
        result.removed[f] for f in (QcFilter.GENO, QcFilter.HWE, QcFilter.MAF_MAC))


@pytest.mark.parametrize(("config", "kept"), [
    (QcConfig(maf=0.01), True),  # no founder call: frequencies 1/2, as in plink2
    (QcConfig(mac=1), False),
    (QcConfig(geno=0.5), False),
    (QcConfig(hwe=1e-6), True),
])
def test_run_builtin_qc__all_missing_variant(config: QcConfig, kept: bool, qc_cohort: str, plink2: str) -> None:
    assert ("rs30" in run_builtin_qc(qc_cohort, config).variant_ids) is kept
    assert ("rs30" in run_plink2_qc(qc_cohort, config, program=plink2).variant_ids) is kept


@pytest.mark.parametrize(("config", "kept"), [
    (QcConfig(maf=0.001), False), (QcConfig(mac=1), False), (QcConfig(hwe=0.5), True), (QcConfig(geno=0.5), True),
])
def test_run_builtin_qc__monomorphic_variant(config: QcConfig, kept: bool, qc_cohort: str) -> None:
    ids = run_builtin_qc(qc_cohort, config).variant_ids
    assert ("rs6" in ids) is kept and ("rs18" in ids) is kept


def _write_bed(prefix: Path, calls: np.ndarray, *, father: list[str], chrom: str = "1") -> None:
    n_samples, n_variants = calls.shape
    to_bed(f"{prefix}.bed", calls.astype(np.float64), count_A1=True, properties={
        "fid": ["F"] * n_samples, "iid": [f"I{i}" for i in range(n_samples)],
        "father": father, "mother": ["0"] * n_samples,
        "chromosome": [chrom] * n_variants, "sid": [f"v{k}" for k in range(n_variants)],
        "bp_position": list(range(1, n_variants + 1)),
    })


def test_run_builtin_qc__hwe_and_maf_count_founders_only(tmp_path: Path, plink2: str) -> None:
    """Founders in equilibrium, 150 nonfounders all heterozygous: the variant stays (all samples would fail it)."""
    rng = np.random.default_rng(5)
    founders = rng.binomial(2, 0.3, 300)
    calls = np.concatenate([founders, np.ones(150)])[:, None]
    rare = np.concatenate([np.zeros(300), np.ones(150)])[:, None]  # copies only in nonfounders
    prefix = tmp_path / "fam"
    _write_bed(prefix, np.hstack([calls, rare]), father=["0"] * 300 + ["I0"] * 150)
    config = QcConfig(hwe=1e-6, maf=0.01)
    assert run_builtin_qc(str(prefix), config).variant_ids == ("v0",)
    assert run_plink2_qc(str(prefix), config, program=plink2).variant_ids == ("v0",)


def test_read_founders__a_sample_with_one_parent_is_not_a_founder(qc_cohort: str) -> None:
    founders = read_founders(Path(f"{qc_cohort}.fam"))
    assert not founders[3] and founders[0] and founders[:40].sum() == 39


def test_run_builtin_qc__non_autosomal_variant_is_refused(tmp_path: Path) -> None:
    prefix = tmp_path / "x"
    _write_bed(prefix, np.ones((4, 2)), father=["0"] * 4, chrom="X")
    with pytest.raises(EngineInputError, match=r"variant v0 \(number 1\) is not on an autosome"):
        run_builtin_qc(str(prefix), QcConfig(maf=0.01))


def test_run_builtin_qc__missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(EngineInputError, match="bed file not found"):
        run_builtin_qc(str(tmp_path / "none"), QcConfig(maf=0.01))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"maf": 0.7}, "maf must be between 0 and 0.5"),
    ({"geno": -0.1}, "geno must be between 0 and 1"),
    ({"mac": float("nan")}, "mac must be a non-negative count"),
])
def test_qc_config__rejects_out_of_range_thresholds(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        QcConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("config", "message"), [
    (QcConfig(mind=0.0), "no samples remaining"), (QcConfig(mac=100_000), "no variants remaining"),
])
def test_run_builtin_qc__nothing_left_is_an_error_as_in_plink2(config: QcConfig, message: str, qc_cohort: str,
                                                               plink2: str) -> None:
    with pytest.raises(EngineInputError, match=message):
        run_builtin_qc(qc_cohort, config)
    with pytest.raises(EngineInputError, match=message.replace("no", "No")):
        run_plink2_qc(qc_cohort, config, program=plink2)
