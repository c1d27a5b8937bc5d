"""Publishing a run folder: order, skipped files, atomicity on S3 and on a file system."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import s3fs

from gwasflow.errors import StagingError
from gwasflow.storage import publish
from gwasflow.storage.publish import publish_file, publish_run, run_files


def _run_folder(root: Path) -> Path:
    for rel, text in {
        "results/Y1.regenie.gz": "r1", "summary.tsv": "s", "report.html": "<html>",
        ".gwasflow/gwasflow.sqlite": "db", ".gwasflow/logs/step1.1.log": "log", ".gwasflow/SUCCEEDED": "ok",
        ".gwasflow/driver.lock": "", ".gwasflow/driver.pid": "1",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_run_files__outputs_first_sentinel_last_lock_files_skipped(tmp_path: Path) -> None:
    files = [p.as_posix() for p in run_files(_run_folder(tmp_path))]
    assert files[-1] == ".gwasflow/SUCCEEDED"
    assert set(files[:3]) == {"results/Y1.regenie.gz", "summary.tsv", "report.html"}
    assert not {".gwasflow/driver.lock", ".gwasflow/driver.pid"} & set(files)
    assert len(files) == 6


def test_publish_run__to_s3_every_file_with_its_bytes(bucket: tuple[Any, str], tmp_path: Path) -> None:
    client, name = bucket
    sent = publish_run(_run_folder(tmp_path), f"s3://{name}/runs/a")
    listed = client.list_objects_v2(Bucket=name, Prefix="runs/a/")["Contents"]
    keys = {o["Key"]: o["Size"] for o in listed}
    assert keys["runs/a/results/Y1.regenie.gz"] == 2 and keys["runs/a/.gwasflow/SUCCEEDED"] == 2
    assert len(keys) == 6 and sent == sum(keys.values())


def test_publish_file__failed_multipart_upload_leaves_nothing_under_the_key(
    bucket: tuple[Any, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, name = bucket
    local = tmp_path / "big.gz"
    local.write_bytes(b"x" * (11 * 2**20))  # three 5 MiB parts
    monkeypatch.setattr(publish, "PART_BYTES", 5 * 2**20)
    original = s3fs.S3FileSystem._call_s3
    calls: list[str] = []

    async def failing(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(method)
        if method == "complete_multipart_upload":
            raise OSError("connection reset")
        return await original(self, method, *args, **kwargs)

    monkeypatch.setattr(s3fs.S3FileSystem, "_call_s3", failing)
    with pytest.raises(StagingError, match="cannot publish"):
        publish_file(local, f"s3://{name}/out/results/big.gz")
    assert calls.count("upload_part") >= 2, "the upload must have been multipart"
    assert "Contents" not in client.list_objects_v2(Bucket=name, Prefix="out/")
    assert not client.list_multipart_uploads(Bucket=name).get("Uploads"), "the upload must be aborted"


def test_publish_file__local_failure_keeps_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dest = tmp_path / "new.txt", tmp_path / "out" / "res.txt"
    src.write_text("new content")
    dest.parent.mkdir()
    dest.write_text("old")

    def broken_replace(a: str, b: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(StagingError, match="disk full"):
        publish_file(src, str(dest))
    assert dest.read_text() == "old"
    assert [p.name for p in dest.parent.iterdir()] == ["res.txt"]


def test_publish_file__local_target_is_written_whole(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("abc")
    assert publish_file(src, f"file://{tmp_path}/o/a.txt") == 3
    assert (tmp_path / "o" / "a.txt").read_text() == "abc"
