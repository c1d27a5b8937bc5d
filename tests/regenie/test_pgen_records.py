"""The compiled decoder of plink2's usual .pgen dosage records equals pgenlib, on every record type it meets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gwasflow.regenie.io.pgen import open_pgen_file, record_index
from tests.regenie.test_pgen_dosages import dosage_pgen

__all__ = ["dosage_pgen"]


def _both(folder: Path, variants: np.ndarray, samples: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    pgen = open_pgen_file(str(folder / "g"))
    assert pgen.records is not None
    ours = pgen.read_block(variants, samples)
    pgen.records = None
    return ours, pgen.read_block(variants, samples)


def test_record_index__ends_at_the_file_size_with_decoded_types(dosage_pgen: Path) -> None:
    records = record_index(dosage_pgen / "g.pgen")
    assert records is not None
    assert records.types.size == 60 and int(records.starts[-1] + records.lengths[-1]) == records.data.size
    assert 0x60 in set(records.types.tolist()), "the file has the dosage records the kernel decodes"


@pytest.mark.parametrize("subset", [False, True])
def test_read_block__compiled_records_equal_pgenlib(dosage_pgen: Path, subset: bool) -> None:
    rng = np.random.default_rng(8)
    samples = np.sort(rng.choice(300, 211, replace=False)).astype(np.intp) if subset else None
    variants = np.sort(rng.choice(60, 45, replace=False)).astype(np.intp)
    ours, reference = _both(dosage_pgen, variants, samples)
    assert np.isnan(reference).any() and not np.isin(reference, [0.0, 1.0, 2.0]).all()
    np.testing.assert_array_equal(ours, reference)


def test_read_block_info__square_sums_equal_pgenlib_path(dosage_pgen: Path) -> None:
    pgen = open_pgen_file(str(dosage_pgen / "g"))
    variants = np.arange(60, dtype=np.intp)
    weights = np.column_stack([np.ones(300), np.arange(300) % 2])
    block, sums = pgen.read_block_info(variants, None, weights)
    pgen.records = None
    block_ref, sums_ref = pgen.read_block_info(variants, None, weights)
    np.testing.assert_array_equal(block, block_ref)
    np.testing.assert_array_equal(sums, sums_ref)


def test_pgen_dosages_kernel__refuses_a_record_of_the_wrong_length(dosage_pgen: Path) -> None:
    from gwasflow.regenie.kernels.pgen import pgen_dosages_kernel

    records = record_index(dosage_pgen / "g.pgen")
    assert records is not None
    variant = int(np.flatnonzero(np.isin(records.types, [0x00, 0x60]))[0])
    lengths = records.lengths.copy()
    lengths[variant] += 1
    out = np.zeros((300, 1), order="F")
    decoded = np.ones(1, dtype=np.bool_)
    pgen_dosages_kernel(records.data, records.starts, lengths, records.types, np.array([variant]),
                        np.arange(300, dtype=np.int64), 300, out, decoded)
    assert not decoded[0]
    pgen_dosages_kernel(records.data, records.starts, records.lengths, records.types, np.array([variant]),
                        np.arange(300, dtype=np.int64), 300, out, decoded)
    assert decoded[0]
