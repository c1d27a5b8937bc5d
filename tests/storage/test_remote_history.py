"""Moving an earlier run's published files aside, object by object (here on the local file system)."""

from __future__ import annotations

from pathlib import Path

from gwasflow.storage.remote_history import archive_remote, fetch_store, remote_store


def test_archive_remote__moves_published_files_to_history_and_keeps_logs_and_store(tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = {"results/Y1.regenie.gz": b"y1", "results/Y2.regenie.gz": b"y2", "summary.tsv": b"s",
             ".gwasflow/SUCCEEDED": b"ok", ".gwasflow/gwasflow.sqlite": b"db",
             ".gwasflow/runs/r-1/logs/step1.1.log": b"log", "results-notes.txt": b"mine"}
    for name, data in files.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    assert remote_store(str(out))
    target = archive_remote(str(out), "r-1")
    history = out / ".gwasflow" / "history" / "r-1"
    assert Path(target) == history
    assert (history / "results" / "Y2.regenie.gz").read_bytes() == b"y2"
    assert (history / "summary.tsv").read_bytes() == b"s" and (history / "SUCCEEDED").read_bytes() == b"ok"
    assert not any((out / "results").rglob("*")) and not (out / "summary.tsv").exists()
    for kept in (".gwasflow/gwasflow.sqlite", ".gwasflow/runs/r-1/logs/step1.1.log", "results-notes.txt"):
        assert (out / kept).read_bytes() == files[kept]
    fetch_store(str(out), tmp_path / "local" / "gwasflow.sqlite")
    assert (tmp_path / "local" / "gwasflow.sqlite").read_bytes() == b"db"


def test_remote_store__false_for_an_outdir_without_a_run(tmp_path: Path) -> None:
    assert remote_store(str(tmp_path / "nothing")) is False
