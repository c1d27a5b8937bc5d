"""Merging step 2 shards: sorted bgzip output and its tabix index, headers, row counts, atomic publish."""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pysam
import pytest
import yaml

from gwasflow.commands.demo import write_demo
from gwasflow.report.merge import MergeError, ignored_low_mac, merge_phenotype, scan_result, tabix_path

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


def _lines(path: Path) -> list[str]:
    with gzip.open(path, "rt") as handle:
        return handle.read().splitlines()


def _tab(row: str) -> str:
    return row.replace(" ", "\t")


def test_merge_phenotype__writes_one_tab_separated_header_then_rows(tmp_path: Path) -> None:
    a = _shard(tmp_path / "a.regenie.gz", [_row(1, 1), _row(1, 2)])
    b = _shard(tmp_path / "b.regenie", [_row(2, 5)], gz=False)
    out = tmp_path / "res" / "Y1.regenie.gz"
    result = merge_phenotype([a, b], out, planned_rows=3, ignored_per_shard=[0, 0])
    lines = _lines(out)
    assert result.rows == 3
    assert lines[0] == _tab(HEADER.strip())
    assert lines[1:] == [_tab(_row(1, 1)), _tab(_row(1, 2)), _tab(_row(2, 5))]


def test_merge_phenotype__shards_out_of_order_give_rows_sorted_by_chromosome_then_position(tmp_path: Path) -> None:
    x = _shard(tmp_path / "x.gz", [_row(23, 4), _row(23, 9)])
    ten = _shard(tmp_path / "ten.gz", [_row(10, 3)])
    two = _shard(tmp_path / "two.gz", [_row(2, 50), _row(2, 7)])  # unsorted inside the shard too
    one = _shard(tmp_path / "one.gz", [_row(1, 100)])
    out = tmp_path / "Y1.regenie.gz"
    merge_phenotype([x, ten, two, one], out, planned_rows=6)
    keys = [tuple(line.split("\t")[:2]) for line in _lines(out)[1:]]
    assert keys == [("1", "100"), ("2", "7"), ("2", "50"), ("10", "3"), ("23", "4"), ("23", "9")]


def test_merge_phenotype__overlapping_shards_are_interleaved_by_position(tmp_path: Path) -> None:
    first = _shard(tmp_path / "d0.gz", [_row(1, 10), _row(1, 30), _row(2, 5)])
    second = _shard(tmp_path / "d1.gz", [_row(1, 20), _row(1, 30).replace("v1_30", "w1_30")])  # another dataset
    out = tmp_path / "Y1.regenie.gz"
    merge_phenotype([first, second], out, planned_rows=5)
    ids = [line.split("\t")[2] for line in _lines(out)[1:]]
    assert ids == ["v1_10", "v1_20", "v1_30", "w1_30", "v2_5"]


def test_merge_phenotype__tabix_index_fetches_exactly_the_rows_of_a_region(tmp_path: Path) -> None:
    shards = [_shard(tmp_path / f"s{c}.gz", [_row(c, p) for p in range(1, 3000, 3)]) for c in (1, 2, 23)]
    out = tmp_path / "Y1.regenie.gz"
    merge_phenotype(shards, out, planned_rows=3000)
    rows = [line.split("\t") for line in _lines(out)[1:]]
    expected = ["\t".join(r) for r in rows if r[0] == "2" and 100 <= int(r[1]) <= 250]
    with pysam.TabixFile(str(out), index=str(tabix_path(out))) as tabix:
        assert list(tabix.fetch("2", 99, 250)) == expected  # 0-based half-open: positions 100..250
        assert list(tabix.header) == [_tab(HEADER.strip())]
        assert list(tabix.contigs) == ["1", "2", "23"]
    assert len(expected) == 51  # positions 100, 103, ..., 250


def test_merge_phenotype__genpos_that_is_not_an_integer_names_shard_and_line(tmp_path: Path) -> None:
    a = _shard(tmp_path / "a.gz", [_row(1, 1), "1 12.5 v A C 0.1 100 ADD 0.5 0.1 25 6.2 NA"])
    with pytest.raises(MergeError, match=r"a.gz line 3: no CHROM and integer GENPOS"):
        merge_phenotype([a], tmp_path / "Y1.regenie.gz")


def test_merge_phenotype__row_count_mismatch_publishes_nothing(tmp_path: Path) -> None:
    a = _shard(tmp_path / "a.regenie.gz", [_row(1, 1)])
    out = tmp_path / "Y1.regenie.gz"
    with pytest.raises(MergeError, match="1 rows"):
        merge_phenotype([a], out, planned_rows=2, ignored_per_shard=[0])
    assert not out.exists() and not tabix_path(out).exists()
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
    assert tabix_path(first).read_bytes() == tabix_path(second).read_bytes()
    assert gzip.decompress(first.read_bytes()).decode().splitlines()[1:] == [_tab(_row(1, 1)), _tab(_row(1, 2))]


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


def _gwasflow(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gwasflow", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished small demo (600 samples x 3,000 variants on 3 chromosomes, 9 shards), workspace kept."""
    folder = tmp_path_factory.mktemp("demo") / "d"
    spec = write_demo(folder, n_samples=600, n_variants=3000, seed=5)
    data = yaml.safe_load(spec.read_text())
    data["keep_workspace"] = True
    spec.write_text(yaml.safe_dump(data))
    proc = _gwasflow(["run", str(spec), "--quiet"], folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder


def test_merge_phenotype__demo_region_fetched_through_the_index_equals_those_rows_of_the_whole_file(
    demo_run: Path,
) -> None:
    result = demo_run / "results" / "Y1.regenie.gz"
    header, *lines = _lines(result)
    rows = [line.split("\t") for line in lines]
    assert len(rows) == 3000
    assert [(int(r[0]), int(r[1])) for r in rows] == sorted((int(r[0]), int(r[1])) for r in rows)
    chrom2 = [r for r in rows if r[0] == "2"]
    low, high = int(chrom2[100][1]), int(chrom2[400][1])
    expected = ["\t".join(r) for r in chrom2 if low <= int(r[1]) <= high]
    with pysam.TabixFile(str(result), index=str(tabix_path(result))) as tabix:
        assert list(tabix.fetch("2", low - 1, high)) == expected
        assert list(tabix.header) == [header]
        assert list(tabix.contigs) == ["1", "2", "3"]
    assert header.split("\t")[:3] == ["CHROM", "GENPOS", "ID"] and len(expected) >= 301


def test_resume__deleted_tabix_index_is_rebuilt_byte_identically(demo_run: Path) -> None:
    index = tabix_path(demo_run / "results" / "Y2.regenie.gz")
    before = index.read_bytes()
    index.unlink()
    checked = _gwasflow(["verify"], demo_run)
    assert checked.returncode == 1
    assert f"FAIL missing: {index}: the file is not there" in checked.stdout.splitlines()
    resumed = _gwasflow(["resume", "--quiet"], demo_run)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert index.read_bytes() == before
    assert _gwasflow(["verify"], demo_run).returncode == 0
