"""Our .pgen reader equals pgenlib, decoding by hand, on a zoo of files holding every record type plink2 writes.

The zoos (tests/regenie/pgen_zoo.py) are plink2's conversions of VCF files:
300 samples (2-byte difflist sample IDs), 250 (1-byte IDs), 4,000 (difflists
of several 64-entry groups) and 70,003 samples (3-byte IDs). The reference is
pgenlib's ``read_dosages_list`` called here directly, -9 read as NaN.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from gwasflow.regenie.io.pgen import PgenFile, open_pgen_file
from tests.regenie.pgen_zoo import (
    FULL_PLAN,
    HARDCALL_PLAN,
    LONG_ZOO_FIRST,
    LONG_ZOO_VARIANTS,
    REQUIRED_TYPES,
    SMALL_PLAN,
    Zoo,
    build_zoo,
    record_types,
    variant_record_types,
)

_LD_TYPES = (2, 3)
_DOSAGE_ZOOS = ("zoo", "small_zoo", "wide_zoo", "huge_zoo", "long_zoo")
_ZOOS = (*_DOSAGE_ZOOS, "hardcall_zoo")


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Zoo:
    return build_zoo(tmp_path_factory.mktemp("zoo300"), 300, FULL_PLAN, seed=11)


@pytest.fixture(scope="module")
def small_zoo(tmp_path_factory: pytest.TempPathFactory) -> Zoo:
    return build_zoo(tmp_path_factory.mktemp("zoo250"), 250, FULL_PLAN, seed=12)


@pytest.fixture(scope="module")
def wide_zoo(tmp_path_factory: pytest.TempPathFactory) -> Zoo:
    return build_zoo(tmp_path_factory.mktemp("zoo4000"), 4000, FULL_PLAN, seed=13)


@pytest.fixture(scope="module")
def huge_zoo(tmp_path_factory: pytest.TempPathFactory) -> Zoo:
    return build_zoo(tmp_path_factory.mktemp("zoo70003"), 70_003, SMALL_PLAN, seed=14)


@pytest.fixture(scope="module")
def hardcall_zoo(tmp_path_factory: pytest.TempPathFactory) -> Zoo:
    """No dosage and no phase: the header stores 4-bit record types."""
    return build_zoo(tmp_path_factory.mktemp("zoo_hardcalls"), 300, HARDCALL_PLAN, seed=15)


@pytest.fixture(scope="module")
def long_zoo(tmp_path_factory: pytest.TempPathFactory) -> Zoo:
    """65,600 variants of 40 samples: two variant blocks, the first variant of the second one planned LD-compressed."""
    return build_zoo(tmp_path_factory.mktemp("zoo_long"), 40, FULL_PLAN, seed=16, n_variants=LONG_ZOO_VARIANTS,
                     first=LONG_ZOO_FIRST)


def _indices(values: NDArray[np.integer] | list[int]) -> NDArray[np.intp]:
    return np.asarray(values, dtype=np.intp)


def _reference(zoo: Zoo, variants: NDArray[np.intp], samples: NDArray[np.intp] | None = None) -> NDArray[np.float64]:
    """ALT dosages by pgenlib, shape (n_samples, n_variants), NaN where missing."""
    import pgenlib  # type: ignore[import-untyped,import-not-found,unused-ignore]

    subset = None if samples is None else samples.astype(np.uint32)
    reader = pgenlib.PgenReader(bytes(zoo.pgen), raw_sample_ct=zoo.n_samples, sample_subset=subset)
    try:
        n_rows = zoo.n_samples if samples is None else samples.shape[0]
        dosages = np.empty((variants.shape[0], n_rows), dtype=np.float64)
        reader.read_dosages_list(variants.astype(np.uint32), dosages, allele_idx=1)
    finally:
        reader.close()
    dosages[dosages == -9.0] = np.nan
    return dosages.T


def _ld_runs(zoo: Zoo) -> list[tuple[int, list[int], int]]:
    """Each run of LD-compressed variants as (its base variant, the run, the variant after it)."""
    types = variant_record_types(zoo.pgen) & 7
    runs: list[tuple[int, list[int], int]] = []
    j = 0
    while j < types.shape[0]:
        if types[j] in _LD_TYPES:
            start = j
            while j < types.shape[0] and types[j] in _LD_TYPES:
                j += 1
            runs.append((start - 1, list(range(start, j)), j))
        j += 1
    return runs


def _open(zoo: Zoo) -> PgenFile:
    return open_pgen_file(str(zoo.prefix))


def test_record_types__the_zoos_hold_every_record_type(zoo: Zoo, small_zoo: Zoo, wide_zoo: Zoo) -> None:
    for each in (zoo, small_zoo, wide_zoo):
        counts = record_types(each.pgen)
        assert sum(counts.values()) == each.n_variants
        missing = sorted(hex(t) for t in REQUIRED_TYPES - set(counts))
        assert not missing, f"{each.n_samples}-sample zoo lacks record types {missing}: {sorted(counts)}"


def test_record_types__the_huge_zoo_holds_every_main_track_and_dosage_storage(huge_zoo: Zoo) -> None:
    types = variant_record_types(huge_zoo.pgen)
    assert types.shape[0] == huge_zoo.n_variants
    assert {0, 1, 2, 3, 4, 6, 7} <= {int(t) & 7 for t in types}
    assert {0x20, 0x40, 0x60} <= {int(t) & 0x60 for t in types}
    assert any(int(t) & 0x10 for t in types)


def test_record_types__the_hardcall_zoo_has_4_bit_types_and_every_main_track(hardcall_zoo: Zoo) -> None:
    assert hardcall_zoo.pgen.read_bytes()[11] & 15 < 4, "4 bits per record type"
    assert set(record_types(hardcall_zoo.pgen)) == {0, 1, 2, 3, 4, 6, 7}


def test_record_types__the_long_zoo_has_ld_compressed_variants_in_both_blocks(long_zoo: Zoo) -> None:
    types = variant_record_types(long_zoo.pgen) & 7
    assert types.shape[0] == LONG_ZOO_VARIANTS
    first, second = np.isin(types[:1 << 16], _LD_TYPES), np.isin(types[1 << 16:], _LD_TYPES)
    assert first.sum() > 1000 and second.sum() > 10
    assert long_zoo.plan[1 << 16][0].startswith("ld") and not first[0] and not second[0], "a block starts unLD"
    assert second[1], "the variant after a block's first is LD-compressed against it"


def test_record_types__reads_4_bit_types_and_rejects_other_files(tmp_path: Path) -> None:
    # A hand-made header: 3 variants, 4 samples, 4-bit types and 1-byte lengths, provisional-REF bits.
    head = b"\x6c\x1b\x10" + (3).to_bytes(4, "little") + (4).to_bytes(4, "little") + b"\xc0"
    pgen = tmp_path / "h.pgen"
    pgen.write_bytes(head + (26).to_bytes(8, "little") + b"\x41\x07" + b"\x01\x02\x03" + b"\x00")
    assert record_types(pgen) == {1: 1, 4: 1, 7: 1}
    pgen.write_bytes(head + (26).to_bytes(8, "little") + b"\x41")
    with pytest.raises(ValueError, match="ends early"):
        record_types(pgen)
    pgen.write_bytes(b"\x00\x00" + head[2:])
    with pytest.raises(ValueError, match="magic"):
        record_types(pgen)


@pytest.mark.parametrize("name", _ZOOS)
def test_build_zoo__pgenlib_reads_back_the_written_dosages(name: str, request: pytest.FixtureRequest) -> None:
    zoo: Zoo = request.getfixturevalue(name)
    got = _reference(zoo, _indices(np.arange(zoo.n_variants))).T
    np.testing.assert_allclose(got, zoo.dosages, rtol=0, atol=1.0 / 16384)
    assert np.array_equal(np.isnan(got), np.isnan(zoo.dosages))
    fractional = ~np.isin(got, [0.0, 1.0, 2.0]) & ~np.isnan(got)
    with_missing_and_dosages = np.isnan(got).any(axis=1) & fractional.any(axis=1)
    if name == "hardcall_zoo":
        assert not fractional.any() and np.isnan(got).any()
    else:
        assert with_missing_and_dosages.sum() >= 3, "several variants hold both missing calls and dosages"


@pytest.mark.parametrize("name", _ZOOS)
def test_read_block__all_variants_and_samples_equal_pgenlib(name: str, request: pytest.FixtureRequest) -> None:
    zoo: Zoo = request.getfixturevalue(name)
    variants = _indices(np.arange(zoo.n_variants))
    got = _open(zoo).read_block(variants)
    assert got.shape == (zoo.n_samples, zoo.n_variants) and got.flags.f_contiguous
    np.testing.assert_array_equal(got, _reference(zoo, variants))


def test_read_block__random_variant_subsets_equal_pgenlib(zoo: Zoo) -> None:
    pgen = _open(zoo)
    rng = np.random.default_rng(5)
    for size in (2, 5, 11, 20, zoo.n_variants - 1):
        for _ in range(4):
            variants = _indices(np.sort(rng.choice(zoo.n_variants, size, replace=False)))
            np.testing.assert_array_equal(pgen.read_block(variants), _reference(zoo, variants), err_msg=f"{variants}")


@pytest.mark.parametrize("name", _ZOOS)
def test_read_block__ld_compressed_variants_without_their_base_equal_pgenlib(name: str,
                                                                             request: pytest.FixtureRequest) -> None:
    zoo: Zoo = request.getfixturevalue(name)
    runs = _ld_runs(zoo)
    assert len(runs) >= (5 if zoo.n_variants >= len(FULL_PLAN) else 2) and any(len(run) >= 2 for _, run, _ in runs)
    pgen = _open(zoo)
    near_a_block_start = [r for r in runs[12:] if abs(r[0] - (1 << 16)) < 100]  # the long zoo's
    for base, run, after in runs[:12] + near_a_block_start:
        wanted = [[run[-1]], run[1:], [run[0], after], [base - 1, *run[::2]], [run[-1], after, after + 1]]
        for variants in (_indices([j for j in v if 0 <= j < zoo.n_variants]) for v in wanted):
            if variants.size:
                assert base not in variants
                np.testing.assert_array_equal(pgen.read_block(variants), _reference(zoo, variants),
                                              err_msg=f"{variants}")


@pytest.mark.parametrize("name", ["zoo", "small_zoo", "wide_zoo", "hardcall_zoo"])
def test_read_block__one_variant_at_a_time_equals_pgenlib(name: str, request: pytest.FixtureRequest) -> None:
    zoo: Zoo = request.getfixturevalue(name)
    pgen = _open(zoo)
    everything = _reference(zoo, _indices(np.arange(zoo.n_variants)))
    for j in range(zoo.n_variants):
        np.testing.assert_array_equal(pgen.read_block(_indices([j])), everything[:, [j]], err_msg=f"variant {j}")


@pytest.mark.parametrize("name", _ZOOS)
def test_read_block__sample_subsets_equal_pgenlib(name: str, request: pytest.FixtureRequest) -> None:
    zoo: Zoo = request.getfixturevalue(name)
    pgen = _open(zoo)
    rng = np.random.default_rng(6)
    n = zoo.n_samples
    variants = _indices(np.arange(zoo.n_variants))
    part = _indices(np.sort(rng.choice(zoo.n_variants, zoo.n_variants // 3, replace=False)))
    subsets = [_indices(np.sort(rng.choice(n, size, replace=False))) for size in (1, 7, n // 10, n // 2, n - 1)]
    for samples in [*subsets, _indices([0]), _indices([n - 1]), _indices(np.arange(n))]:
        for wanted in (variants, part):
            np.testing.assert_array_equal(pgen.read_block(wanted, samples), _reference(zoo, wanted, samples),
                                          err_msg=f"{samples.shape[0]} samples")


def test_read_block__across_the_variant_block_boundary_equals_pgenlib(long_zoo: Zoo) -> None:
    pgen = _open(long_zoo)
    samples = _indices([0, 3, 4, 5, 17, 38, 39])
    for variants in (np.arange(65_500, 65_600), [65_535, 65_537], [65_537], [65_534, 65_538, 65_599],
                     np.arange(100, 65_536, 997)):
        wanted = _indices(variants)
        np.testing.assert_array_equal(pgen.read_block(wanted), _reference(long_zoo, wanted), err_msg=f"{wanted}")
        np.testing.assert_array_equal(pgen.read_block(wanted, samples), _reference(long_zoo, wanted, samples))


def test_read_block__into_a_larger_fortran_buffer_equals_pgenlib(zoo: Zoo) -> None:
    pgen = _open(zoo)
    variants = _indices([0, 2, 3, 7, 8, 12, 20, 21, 30, zoo.n_variants - 1])
    samples = _indices(np.arange(1, zoo.n_samples, 3))
    for rows, want in ((None, _reference(zoo, variants)), (samples, _reference(zoo, variants, samples))):
        n_rows = zoo.n_samples if rows is None else rows.shape[0]
        buffer = np.full((n_rows, variants.shape[0] + 6), 7.0, order="F")
        got = pgen.read_block(variants, rows, out=buffer)
        assert np.shares_memory(got, buffer) and (buffer[:, variants.shape[0]:] == 7.0).all()
        np.testing.assert_array_equal(buffer[:, :variants.shape[0]], want)


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("name", _DOSAGE_ZOOS)
def test_read_block_info__square_sums_equal_numpy_on_pgenlib(name: str, compiled: bool,
                                                             request: pytest.FixtureRequest) -> None:
    """Both ways of setting the missing calls and summing the squares: numpy's, and step 2's compiled loop."""
    zoo: Zoo = request.getfixturevalue(name)
    pgen = _open(zoo)
    pgen.compiled = compiled
    assert pgen.has_info
    rng = np.random.default_rng(8)
    variants = _indices(np.arange(zoo.n_variants))
    samples = _indices(np.sort(rng.choice(zoo.n_samples, zoo.n_samples // 2, replace=False)))
    for rows in (None, samples):
        want = _reference(zoo, variants, rows)
        weights = rng.uniform(0.0, 2.0, (want.shape[0], 2))
        block, squares = pgen.read_block_info(variants, rows, weights)
        np.testing.assert_array_equal(block, want)
        assert squares.shape == (zoo.n_variants, 2)
        np.testing.assert_allclose(squares, np.square(np.nan_to_num(want)).T @ weights, rtol=1e-12, atol=0)


def test_read_block__three_threads_at_once_equal_one_thread(zoo: Zoo) -> None:
    pgen = _open(zoo)
    want = pgen.read_block(_indices(np.arange(zoo.n_variants)))
    np.testing.assert_array_equal(want, _reference(zoo, _indices(np.arange(zoo.n_variants))))
    bounds = [0, 3, 25, zoo.n_variants]  # parts 2 and 3 start with LD-compressed variants, their bases in part 1, 2
    got: dict[int, list[NDArray[np.float64]]] = {k: [] for k in range(3)}

    def read(part: int) -> None:
        for _ in range(30):
            got[part].append(pgen.read_block(_indices(np.arange(bounds[part], bounds[part + 1]))))

    threads = [threading.Thread(target=read, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for part in range(3):
        assert len(got[part]) == 30
        for block in got[part]:
            np.testing.assert_array_equal(block, want[:, bounds[part]:bounds[part + 1]])
