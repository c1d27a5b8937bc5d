"""Run folder contract: atomic writes, sentinels, workspace safety."""

from __future__ import annotations

from pathlib import Path

import pytest

from gwasflow.engine.rundir import RunDir, prepare_workspace, remove_workspace, write_atomic


def test_write_atomic__replaces_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.txt"
    write_atomic(target, "one")
    write_atomic(target, b"two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["b.txt"]


def test_remove_workspace__refuses_a_folder_gwasflow_did_not_make(tmp_path: Path) -> None:
    user = tmp_path / "precious"
    user.mkdir()
    (user / "data.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        prepare_workspace(user)
    assert remove_workspace(user) is False
    assert (user / "data.txt").exists()


def test_prepare_workspace__marked_folder_is_reused_and_removed(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    prepare_workspace(ws)
    (ws / "step1").mkdir()
    prepare_workspace(ws)  # a marked, non-empty workspace is ours: fine
    assert remove_workspace(ws) is True
    assert not ws.exists()


def test_rundir__sentinel_is_exclusive_and_find_needs_a_store(tmp_path: Path) -> None:
    rd = RunDir(tmp_path)
    assert RunDir.find(tmp_path) is None
    rd.write_sentinel(False, "failed: x")
    rd.write_sentinel(True, "succeeded: all")
    assert rd.sentinel(True).read_text() == "succeeded: all\n"
    assert not rd.sentinel(False).exists()
    rd.store_path.write_text("")
    assert RunDir.find(tmp_path) == rd
