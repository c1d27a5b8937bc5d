"""The transient workspace: deleted in every outcome when the run uses object storage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gwasflow.core.rundir import RunDir
from gwasflow.spec.model import RunSpec
from gwasflow.storage.workspace import is_transient, local_run_root, open_workspace


def _spec(tmp_path: Path, **extra: Any) -> RunSpec:
    return RunSpec.model_validate({
        "name": "t", "datasets": [{"bed": str(tmp_path / "c")}], "phenotypes": {"file": "p", "columns": ["Y"]},
        "workdir": str(tmp_path / "work"), "outdir": str(tmp_path / "out"), **extra,
    })


def test_open_workspace__remote_run_deletes_it_even_when_the_run_raises(tmp_path: Path) -> None:
    spec = _spec(tmp_path, outdir="s3://b/out")
    with pytest.raises(RuntimeError), open_workspace(spec, RunDir(tmp_path / "run").for_run("t-1")) as ws:
        (ws.path / "step1").mkdir()
        raise RuntimeError("boom")
    assert not (tmp_path / "work").exists()


def test_open_workspace__keep_workspace_keeps_it(tmp_path: Path) -> None:
    spec = _spec(tmp_path, outdir="s3://b/out", keep_workspace=True)
    with open_workspace(spec, RunDir(tmp_path / "run").for_run("t-1")):
        pass
    assert (tmp_path / "work").is_dir()


def test_open_workspace__all_local_failed_run_keeps_it_for_retry(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    assert not is_transient(spec)
    with pytest.raises(RuntimeError), open_workspace(spec, RunDir(tmp_path / "out").for_run("t-1")):
        raise RuntimeError("a failed job")
    assert (tmp_path / "work").is_dir()


def test_local_run_root__one_folder_per_outdir_under_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    a, b = local_run_root(_spec(tmp_path, outdir="s3://b/x")), local_run_root(_spec(tmp_path, outdir="s3://b/y"))
    assert a.parent == tmp_path / "c" / "gwasflow" / "runs" and a != b
    assert a == local_run_root(_spec(tmp_path, outdir="s3://b/x"))
