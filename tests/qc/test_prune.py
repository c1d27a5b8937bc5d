"""LD pruning: the pairwise r^2 rule, and what --indep-pairwise refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gwasflow.errors import EngineInputError
from gwasflow.qc.filters import read_founders, run_builtin_qc
from gwasflow.qc.model import PruneConfig, QcConfig, QcFilter
from gwasflow.qc.prune import indep_pairwise, prune_window_exceed
from gwasflow.regenie.io.bed import open_bed_file

MISSING = 9


def _r2_over_jointly_called(a: np.ndarray, b: np.ndarray) -> float:
    both = (a != MISSING) & (b != MISSING)
    x, y = a[both].astype(float), b[both].astype(float)
    if x.std() == 0 or y.std() == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1] ** 2)


def test_prune_window_exceed__is_r2_over_samples_called_at_both() -> None:
    rng = np.random.default_rng(11)
    lead = rng.integers(-1, 2, 300)
    calls = np.stack([np.where(rng.random(300) < rng.uniform(0, 0.6), rng.integers(-1, 2, 300), lead)
                      for _ in range(25)], axis=1)
    calls[rng.random(calls.shape) < 0.1] = MISSING
    calls[:, 3] = 1  # constant: never in LD with anything
    r2 = np.array([[_r2_over_jointly_called(calls[:, i], calls[:, j]) for j in range(25)] for i in range(25)])
    for threshold in (0.1, 0.3, 0.6):
        clear = np.abs(r2 - threshold) > 1e-9
        got = prune_window_exceed(calls, threshold)
        np.testing.assert_array_equal(got[clear], (r2 > threshold)[clear])
        assert got.any() and not got.all()
    assert not prune_window_exceed(calls, 0.1)[3].any()


def test_indep_pairwise__no_pair_left_in_ld_within_a_window(qc_cohort: str) -> None:
    """Every window of 20 (step 5) over the variants that passed --geno holds no kept pair with r^2 above 0.3
    among the founders; and pruning removed many."""
    before = run_builtin_qc(qc_cohort, QcConfig(geno=0.05))
    after = run_builtin_qc(qc_cohort, QcConfig(geno=0.05, prune=PruneConfig(20, 5, 0.3)))
    assert after.removed[QcFilter.PRUNE] > 50
    source = open_bed_file(qc_cohort)
    founders = np.flatnonzero(read_founders(Path(f"{qc_cohort}.fam")))
    kept = set(after.variant_ids)
    for code in (1, 2):
        index = np.flatnonzero(np.isin(source.variants.ids, before.variant_ids) & (source.variants.chrom == code))
        for start in range(0, index.size, 5):
            window = [i for i in index[start:start + 20] if source.variants.ids[i] in kept]
            raw = source.read_raw(np.asarray(window, dtype=np.intp), founders)
            exceed = prune_window_exceed(np.where(raw < 0, MISSING, raw.astype(np.int64) - 1), 0.3)
            np.fill_diagonal(exceed, False)
            assert not exceed.any()


def test_indep_pairwise__needs_fifty_founders(qc_cohort: str) -> None:
    source = open_bed_file(qc_cohort)
    with pytest.raises(EngineInputError, match="at least 50 founders, found 49"):
        indep_pairwise(source, np.arange(source.n_variants), np.arange(49), PruneConfig(10, 1, 0.5))


@pytest.mark.parametrize(("window", "step", "r2", "message"), [
    (1, 1, 0.5, "window must be at least 2"), (10, 11, 0.5, "step must be between 1 and the window"),
    (10, 1, 1.0, r"r2 must be in \[0, 1\)"),
])
def test_prune_config__rejects_bad_parameters(window: int, step: int, r2: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PruneConfig(window, step, r2)
