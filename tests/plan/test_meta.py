from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from gwasflow.plan.meta import DatasetFileError, expected_bed_size, read_dataset_meta
from tests.conftest import REGENIE_EXAMPLE

EXAMPLE = REGENIE_EXAMPLE / "inputs" / "example_3chr"


def test_expected_bed_size__rounds_samples_up() -> None:
    assert expected_bed_size(500, 500) == 3 + 125 * 500
    assert expected_bed_size(5, 2) == 3 + 2 * 2


def test_read_dataset_meta__example() -> None:
    meta = read_dataset_meta("ex", str(EXAMPLE))
    assert (meta.n_samples, meta.n_variants) == (500, 500)
    assert meta.pos.dtype == np.int64
    assert sorted(set(meta.chrom.tolist())) == ["1", "2", "3"]


def test_read_dataset_meta__missing_files_raise(tmp_path: Path) -> None:
    with pytest.raises(DatasetFileError) as info:
        read_dataset_meta("x", str(tmp_path / "none"))
    assert len(info.value.issues) == 3


def _write_plink(prefix: Path, n_samples: int, chrom: list[str], pos: list[int]) -> None:
    prefix.with_suffix(".fam").write_text("".join(f"{i} {i} 0 0 0 -9\n" for i in range(n_samples)))
    prefix.with_suffix(".bim").write_text(
        "".join(f"{c}\tv{i}\t0\t{p}\tA\tC\n" for i, (c, p) in enumerate(zip(chrom, pos, strict=True)))
    )
    prefix.with_suffix(".bed").write_bytes(b"\x6c\x1b\x01" + bytes(expected_bed_size(n_samples, len(pos)) - 3))


def test_read_dataset_meta__non_integer_position(tmp_path: Path) -> None:
    _write_plink(tmp_path / "d", 4, ["1", "1"], [1, 2])
    bim = tmp_path / "d.bim"
    bim.write_text(bim.read_text().replace("\t2\t", "\tx2\t"))
    with pytest.raises(DatasetFileError) as info:
        read_dataset_meta("d", str(tmp_path / "d"))
    [issue] = info.value.issues
    assert (issue.line, "not an integer" in issue.message) == (2, True)


def test_read_dataset_meta__chromosome_not_contiguous(tmp_path: Path) -> None:
    _write_plink(tmp_path / "d", 4, ["1", "2", "1"], [1, 1, 2])
    with pytest.raises(DatasetFileError) as info:
        read_dataset_meta("d", str(tmp_path / "d"))
    assert info.value.issues[0].line == 3


def test_read_dataset_meta__blank_trailing_lines_tolerated(tmp_path: Path) -> None:
    _write_plink(tmp_path / "d", 3, ["1", "1"], [1, 2])
    bim = tmp_path / "d.bim"
    bim.write_text(bim.read_text() + "\n\n")
    assert read_dataset_meta("d", str(tmp_path / "d")).n_variants == 2


def test_read_dataset_meta__million_line_bim_is_fast(tmp_path: Path) -> None:
    n = 1_000_000
    prefix = tmp_path / "big"
    chrom = np.repeat(np.arange(1, 23), n // 22 + 1)[:n]
    with open(prefix.with_suffix(".bim"), "w") as fh:
        fh.writelines(f"{c}\trs{i}\t0\t{i + 1}\tA\tG\n" for i, c in enumerate(chrom.tolist()))
    prefix.with_suffix(".fam").write_text("0 0 0 0 0 -9\n")
    prefix.with_suffix(".bed").write_bytes(b"\x6c\x1b\x01" + bytes(n))
    started = time.perf_counter()
    meta = read_dataset_meta("big", str(prefix))
    elapsed = time.perf_counter() - started
    assert meta.n_variants == n
    assert meta.chrom[-1] == "22"
    assert elapsed < 5.0  # about 0.8 s here; generous for loaded CI machines
