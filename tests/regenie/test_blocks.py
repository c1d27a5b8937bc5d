"""Property tests: variant blocks and CV folds partition their inputs."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gwasflow.regenie.blocks import iter_blocks
from gwasflow.regenie.step1 import ridge


@given(st.lists(st.integers(1, 4), min_size=0, max_size=200), st.integers(1, 17))
def test_iter_blocks__partition_in_order_within_one_chromosome(chroms: list[int], bsize: int) -> None:
    chrom = np.asarray(chroms, dtype=np.int64)
    index = np.arange(chrom.size, dtype=np.intp)
    blocks = list(iter_blocks(index, chrom, bsize))
    joined = np.concatenate([b for _, b in blocks]) if blocks else np.empty(0, dtype=np.intp)
    np.testing.assert_array_equal(joined, index)
    for code, block in blocks:
        assert 1 <= block.size <= bsize
        assert set(chrom[block].tolist()) == {code}


@given(st.integers(2, 500), st.integers(2, 10))
def test_fold_slices__partition_samples(n_samples: int, n_folds: int) -> None:
    if n_samples < n_folds:
        return
    folds = ridge.fold_slices(n_samples, n_folds)
    assert len(folds) == n_folds
    assert folds[0].start == 0 and folds[-1].stop == n_samples
    assert all(a.stop == b.start for a, b in itertools.pairwise(folds))
    assert min(f.stop - f.start for f in folds) == n_samples // n_folds
