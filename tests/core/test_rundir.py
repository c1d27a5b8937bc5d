"""Run folder contract: atomic writes that follow the umask, sentinels, logs per run, history."""

from __future__ import annotations

import gzip
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from gwasflow.core.rundir import RunDir, write_atomic
from gwasflow.report.merge import merge_phenotype


@pytest.fixture
def umask_027() -> Iterator[None]:
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_atomic__replaces_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.txt"
    write_atomic(target, "one")
    write_atomic(target, b"two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["b.txt"]


def test_write_atomic__file_mode_follows_the_umask(tmp_path: Path, umask_027: None) -> None:
    write_atomic(tmp_path / "x.txt", "x")
    (tmp_path / "plain.txt").write_text("x")
    assert _mode(tmp_path / "x.txt") == 0o640 == _mode(tmp_path / "plain.txt")


def test_merge_phenotype__merged_results_follow_the_umask_not_0600(tmp_path: Path, umask_027: None) -> None:
    shard = tmp_path / "s.regenie"
    shard.write_text("CHROM GENPOS ID\n1 10 rs1\n1 20 rs2\n")
    out = tmp_path / "results" / "Y1.regenie.gz"
    merge_phenotype([shard], out, planned_rows=2)
    assert _mode(out) == 0o640 and _mode(out.with_name(out.name + ".tbi")) == 0o640  # the tabix index too
    assert gzip.decompress(out.read_bytes()).decode().splitlines()[1:] == ["1\t10\trs1", "1\t20\trs2"]


def test_rundir__sentinel_is_exclusive_and_find_needs_a_store(tmp_path: Path) -> None:
    rd = RunDir(tmp_path)
    assert RunDir.find(tmp_path) is None
    rd.write_sentinel(False, "failed: x")
    rd.write_sentinel(True, "succeeded: all")
    assert rd.sentinel(True).read_text() == "succeeded: all\n"
    assert not rd.sentinel(False).exists()
    rd.store_path.write_text("")
    assert RunDir.find(tmp_path) == rd


def test_rundir_log_path__each_run_has_its_own_logs(tmp_path: Path) -> None:
    first, second = RunDir(tmp_path).for_run("t-1"), RunDir(tmp_path).for_run("t-2")
    assert first.log_path("step1", 1) == tmp_path / ".gwasflow" / "runs" / "t-1" / "logs" / "step1.1.log"
    assert first.log_path("step1", 1) != second.log_path("step1", 1)


def test_rundir_archive__moves_what_the_earlier_run_published_and_keeps_the_store(tmp_path: Path) -> None:
    rd = RunDir(tmp_path).for_run("t-1")
    rd.create()
    (rd.results_dir / "OLD.regenie.gz").write_text("old")
    rd.summary_path.write_text("summary")
    rd.store_path.write_text("db")
    rd.log_path("step1", 1).write_text("log")
    rd.write_sentinel(True, "succeeded")
    (tmp_path / "user-notes.txt").write_text("mine")
    moved = rd.archive("t-1")
    assert moved == tmp_path / ".gwasflow" / "history" / "t-1"
    assert (moved / "results" / "OLD.regenie.gz").read_text() == "old"
    assert (moved / "summary.tsv").exists() and (moved / "SUCCEEDED").exists()
    assert not rd.results_dir.exists() and not rd.summary_path.exists() and not rd.sentinel(True).exists()
    assert rd.store_path.read_text() == "db" and rd.log_path("step1", 1).read_text() == "log"
    assert (tmp_path / "user-notes.txt").read_text() == "mine"
    assert rd.archive("t-1") == tmp_path / ".gwasflow" / "history" / "t-1.2"
