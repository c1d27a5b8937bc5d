"""Merging step 2 shards: order, headers, row counts, atomic publish."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import pytest

from gwasflow.report.merge import MergeError, ignored_low_mac, merge_phenotype, scan_result

HEADER = "CHROM GENPOS ID ALLELE0 ALLELE1 A1FREQ N TEST BETA SE CHISQ LOG10P EXTRA\n"


def _shard(path: Path, rows: list[str], *, gz: bool = True, header: str = HEADER) -> Path:
    text = header + "".join(r + "\n" for r in rows)
    if gz:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def _row(chrom: int, pos: int) -> str:
    return f"{chrom} {pos} v{chrom}_{pos} A C 0.1 100 ADD 0.5 0.1 25 6.2 NA"


def test_merge_phenotype__concatenates_in_given_order_with_one_header(tmp_path: Path) -> None:
    a = _shard(tmp_path / "a.regenie.gz", [_row(1, 1), _row(1, 2)])
    b = _shard(tmp_path / "b.regenie", [_row(2, 5)], gz=False)
    out = tmp_path / "res" / "Y1.regenie.gz"
    result = merge_phenotype([a, b], out, planned_rows=3, ignored_per_shard=[0, 0])
    with gzip.open(out, "rt") as handle:
        lines = handle.read().splitlines()
    assert result.rows == 3
    assert lines[0] == HEADER.strip()
    assert [line.split()[1] for line in lines[1:]] == ["1", "2", "5"]


def test_merge_phenotype__row_count_mismatch_publishes_nothing(tmp_path: Path) -> None:
    a = _shard(tmp_path / "a.regenie.gz", [_row(1, 1)])
    out = tmp_path / "Y1.regenie.gz"
    with pytest.raises(MergeError, match="1 rows"):
        merge_phenotype([a], out, planned_rows=2, ignored_per_shard=[0])
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["a.regenie.gz"]


def test_merge_phenotype__ignored_low_mac_variants_count_toward_the_plan(tmp_path: Path) -> None:
    a = _shard(tmp_path / "a.regenie.gz", [_row(1, 1)])
    result = merge_phenotype([a], tmp_path / "o.gz", planned_rows=3, ignored_per_shard=[2])
    assert (result.rows, result.ignored) == (1, 2)


def test_merge_phenotype__missing_shard_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MergeError, match="missing"):
        merge_phenotype([tmp_path / "nope.gz"], tmp_path / "o.gz")


def test_merge_phenotype__different_headers_are_an_error(tmp_path: Path) -> None:
    a = _shard(tmp_path / "a.gz", [_row(1, 1)])
    b = _shard(tmp_path / "b.gz", [_row(1, 2)], header="CHROM GENPOS ID\n")
    with pytest.raises(MergeError, match="header"):
        merge_phenotype([a, b], tmp_path / "o.gz")


def test_ignored_low_mac__reads_regenie_log_line(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("blah\nNumber of ignored tests due to low MAC : 17\n\nElapsed time : 1s\n")
    assert ignored_low_mac(log) == 17
    assert ignored_low_mac(tmp_path / "absent.log") == 0


def test_merge_phenotype__merging_the_same_shards_again_gives_the_same_bytes(tmp_path: Path) -> None:
    a = _shard(tmp_path / "a.regenie.gz", [_row(1, 1), _row(1, 2)])
    first, second = tmp_path / "one" / "Y1.regenie.gz", tmp_path / "two" / "Y1.regenie.gz"
    merge_phenotype([a], first, planned_rows=2)
    os.utime(a, (1, 1))  # a later rebuild: other times, other temporary names
    merge_phenotype([a], second, planned_rows=2)
    assert first.read_bytes() == second.read_bytes()
    assert gzip.decompress(first.read_bytes()).decode().splitlines()[1:] == [_row(1, 1), _row(1, 2)]


def test_merge_phenotype__folder_in_place_of_the_result_is_a_merge_error(tmp_path: Path) -> None:
    a = _shard(tmp_path / "a.regenie.gz", [_row(1, 1)])
    out = tmp_path / "res" / "Y1.regenie.gz"
    out.mkdir(parents=True)
    with pytest.raises(MergeError, match="exists and is not a file"):
        merge_phenotype([a], out, planned_rows=1)
    assert out.is_dir() and list(out.parent.iterdir()) == [out]


def test_scan_result__counts_rows_and_finds_a_log10p_value_after_na_rows(tmp_path: Path) -> None:
    na = [_row(1, i).replace(" 6.2 ", " NA ") for i in range(1, 60_000)]
    shard = _shard(tmp_path / "a.regenie", [*na, _row(2, 1)], gz=False)  # the value lies past the first chunk
    out = tmp_path / "Y1.regenie.gz"
    merge_phenotype([shard], out, planned_rows=60_000)
    scan = scan_result(out)
    assert (scan.rows, scan.has_value) == (60_000, True)
    assert scan.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    shard.write_text(HEADER + "".join(r + "\n" for r in na))
    merge_phenotype([shard], out, planned_rows=59_999)
    assert (scan_result(out).rows, scan_result(out).has_value) == (59_999, False)


def test_scan_result__row_cut_short_is_a_merge_error(tmp_path: Path) -> None:
    out = tmp_path / "Y1.regenie.gz"
    out.write_bytes(gzip.compress((HEADER + _row(1, 1) + "\n" + _row(1, 2)).encode()))
    with pytest.raises(MergeError, match="line 3 is cut short"):
        scan_result(out)


def test_scan_result__row_with_too_few_fields_is_a_merge_error(tmp_path: Path) -> None:
    out = tmp_path / "Y1.regenie.gz"
    na = _row(1, 1).replace(" 6.2 ", " NA ")
    out.write_bytes(gzip.compress((HEADER + na + "\n1 2 v1_2 A\n" + _row(1, 3) + "\n").encode()))
    with pytest.raises(MergeError, match="line 3 has 4 fields, the header 13"):
        scan_result(out)
