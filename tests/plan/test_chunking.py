from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gwasflow.errors import PlanError
from gwasflow.plan.chunking import Chunk, chrom_sort_key, chunk_variants, group_phenotypes


@st.composite
def variant_lists(draw: st.DrawFn) -> tuple[list[str], list[int]]:
    """Chromosomes in contiguous runs, positions sorted within each, with repeats."""
    chroms: list[str] = []
    positions: list[int] = []
    for name in draw(st.lists(st.sampled_from(["1", "2", "10", "X", "MT"]), min_size=1, max_size=4, unique=True)):
        steps = draw(st.lists(st.integers(0, 3), min_size=1, max_size=60))
        pos = draw(st.integers(1, 100))
        for step in steps:
            pos += step
            chroms.append(name)
            positions.append(pos)
    return chroms, positions


@given(variant_lists(), st.integers(1, 12))
@settings(max_examples=300, deadline=None)
def test_chunk_variants__covers_every_variant_once_without_overlap(
    variants: tuple[list[str], list[int]], size: int
) -> None:
    chrom, pos = variants
    chunks = chunk_variants(chrom, pos, size)
    assert sum(c.n_variants for c in chunks) == len(pos)
    i = 0
    for c in chunks:
        run = list(zip(chrom[i : i + c.n_variants], pos[i : i + c.n_variants], strict=True))
        assert {ch for ch, _ in run} == {c.chrom}
        assert (run[0][1], run[-1][1]) == (c.start, c.end)
        i += c.n_variants
    by_chrom: dict[str, list[Chunk]] = {}
    for c in chunks:
        by_chrom.setdefault(c.chrom, []).append(c)
    for group in by_chrom.values():
        assert [c.index for c in group] == list(range(len(group)))
        for a, b in itertools.pairwise(group):
            assert a.end < b.start  # inclusive --range intervals are disjoint


@given(variant_lists(), st.integers(1, 12))
@settings(max_examples=300, deadline=None)
def test_chunk_variants__size_bound_except_tied_positions(variants: tuple[list[str], list[int]], size: int) -> None:
    chrom, pos = variants
    for c in chunk_variants(chrom, pos, size):
        if c.n_variants > size:
            # only allowed when one position alone holds more than `size` variants
            assert c.start == c.end or _max_tie(chrom, pos, c) > 1


def _max_tie(chrom: list[str], pos: list[int], c: Chunk) -> int:
    inside = [p for ch, p in zip(chrom, pos, strict=True) if ch == c.chrom and c.start <= p <= c.end]
    return max(inside.count(p) for p in set(inside))


@given(variant_lists(), st.integers(1, 12))
@settings(max_examples=300, deadline=None)
def test_chunk_variants__never_splits_a_position(variants: tuple[list[str], list[int]], size: int) -> None:
    chrom, pos = variants
    owner: dict[tuple[str, int], int] = {}
    i = 0
    for k, c in enumerate(chunk_variants(chrom, pos, size)):
        for ch, p in zip(chrom[i : i + c.n_variants], pos[i : i + c.n_variants], strict=True):
            assert owner.setdefault((ch, p), k) == k
        i += c.n_variants


def test_chunk_variants__exact_split() -> None:
    chunks = chunk_variants(["1"] * 5 + ["2"] * 2, [1, 2, 3, 4, 5, 7, 8], 2)
    assert [(c.chrom, c.start, c.end, c.n_variants, c.index) for c in chunks] == [
        ("1", 1, 2, 2, 0),
        ("1", 3, 4, 2, 1),
        ("1", 5, 5, 1, 2),
        ("2", 7, 8, 2, 0),
    ]
    assert chunks[1].range == "1:3-4"


def test_chunk_variants__tie_moves_boundary_back() -> None:
    chunks = chunk_variants(["1"] * 5, [1, 2, 2, 3, 4], 2)
    assert [(c.start, c.end, c.n_variants) for c in chunks] == [(1, 1, 1), (2, 2, 2), (3, 4, 2)]


def test_chunk_variants__tie_longer_than_size_grows_chunk() -> None:
    chunks = chunk_variants(["1"] * 5, [7, 7, 7, 7, 9], 2)
    assert [(c.start, c.end, c.n_variants) for c in chunks] == [(7, 7, 4), (9, 9, 1)]


def test_chunk_variants__empty() -> None:
    assert chunk_variants(np.array([], dtype=str), np.array([], dtype=np.int64), 5) == []


def test_chunk_variants__unsorted_positions_rejected() -> None:
    with pytest.raises(PlanError, match="not sorted"):
        chunk_variants(["1", "1"], [5, 4], 10)


def test_chunk_variants__split_chromosome_rejected() -> None:
    with pytest.raises(PlanError, match="not contiguous"):
        chunk_variants(["1", "2", "1"], [1, 1, 2], 10)


def test_chunk_variants__bad_size() -> None:
    with pytest.raises(ValueError, match="> 0"):
        chunk_variants(["1"], [1], 0)


def test_chrom_sort_key__numeric_then_sex_then_mt() -> None:
    names = ["MT", "X", "10", "2", "chr1", "Y", "XY", "1", "22", "scaffold_9"]
    expected = ["1", "chr1", "2", "10", "22", "X", "Y", "XY", "MT", "scaffold_9"]
    assert sorted(names, key=chrom_sort_key) == expected


def test_chrom_sort_key__plink_codes_sort_with_names() -> None:
    assert chrom_sort_key("23")[:2] == chrom_sort_key("X")[:2]
    assert chrom_sort_key("26")[:2] == chrom_sort_key("MT")[:2]
    assert sorted(["24", "23", "22"], key=chrom_sort_key) == ["22", "23", "24"]


def test_group_phenotypes__consecutive_groups() -> None:
    assert group_phenotypes(["a", "b", "c", "d", "e"], 2) == [("a", "b"), ("c", "d"), ("e",)]
    assert group_phenotypes(["a"], 20) == [("a",)]


def test_group_phenotypes__bad_size() -> None:
    with pytest.raises(ValueError, match="> 0"):
        group_phenotypes(["a"], 0)
