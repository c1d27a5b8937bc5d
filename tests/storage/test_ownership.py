"""Workspace ownership: a marker naming the run, an OS lock while it drives, deletion only of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gwasflow.core.rundir import RunDir
from gwasflow.errors import SpecError
from gwasflow.storage.ownership import (
    LOCK,
    MARK,
    claim_workspace,
    overlap_problems,
    read_owner,
    remove_workspace,
    workspace_problem,
)


def _run(tmp_path: Path, name: str, run_id: str) -> RunDir:
    rundir = RunDir(tmp_path / name).for_run(run_id)
    rundir.create()
    rundir.store_path.write_text("")  # a run folder that still holds its store
    return rundir


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_claim_workspace__marks_it_with_the_run_id_and_run_folder(tmp_path: Path) -> None:
    a = _run(tmp_path, "a", "a-1")
    with claim_workspace(tmp_path / "ws", a, new_run=True) as claim:
        assert claim.created and claim.path == (tmp_path / "ws").resolve()
    data = json.loads((tmp_path / "ws" / MARK).read_text())
    assert data == {"run_id": "a-1", "rundir": str((tmp_path / "a").resolve())}


def test_claim_workspace__second_run_is_refused_while_the_first_holds_it(tmp_path: Path) -> None:
    a, b = _run(tmp_path, "a", "a-1"), _run(tmp_path, "b", "b-1")
    ws = tmp_path / "ws"
    with claim_workspace(ws, a, new_run=True):
        (ws / "step1").mkdir()
        (ws / "step1" / "a.loco").write_text("a's")
        before = _tree(ws)
        assert "in use by run a-1" in (workspace_problem(ws, b) or "")
        with pytest.raises(SpecError, match="in use by run a-1") as caught, claim_workspace(ws, b, new_run=True):
            pass
        assert caught.value.problems[0].field == "workdir"
        assert _tree(ws) == before


def test_claim_workspace__workspace_of_another_resumable_run_is_refused_after_it_ends(tmp_path: Path) -> None:
    a, b = _run(tmp_path, "a", "a-1"), _run(tmp_path, "b", "b-1")
    ws = tmp_path / "ws"
    with claim_workspace(ws, a, new_run=True):
        (ws / "kept-for-retry").write_text("a's")
    before = _tree(ws)
    with pytest.raises(SpecError, match="belongs to run a-1"), claim_workspace(ws, b, new_run=True):
        pass
    assert _tree(ws) == before and read_owner(ws) is not None


def test_claim_workspace__users_folder_is_refused_without_writing_a_lock(tmp_path: Path) -> None:
    user = tmp_path / "precious"
    user.mkdir()
    (user / "data.txt").write_text("keep me")
    with pytest.raises(SpecError, match="not a gwasflow workspace"), \
            claim_workspace(user, _run(tmp_path, "a", "a-1"), new_run=True):
        pass
    assert sorted(p.name for p in user.iterdir()) == ["data.txt"]


def test_claim_workspace__new_run_of_the_same_folder_empties_it_resume_keeps_it(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    with claim_workspace(ws, _run(tmp_path, "a", "a-1"), new_run=True):
        (ws / "step1").mkdir()
    with claim_workspace(ws, RunDir(tmp_path / "a").for_run("a-1"), new_run=False):
        assert (ws / "step1").is_dir()  # resume of the same run keeps its files
    with claim_workspace(ws, RunDir(tmp_path / "a").for_run("a-2"), new_run=True):
        assert sorted(p.name for p in ws.iterdir()) == [MARK, LOCK]
    with pytest.raises(SpecError, match="not to run a-1"), \
            claim_workspace(ws, RunDir(tmp_path / "a").for_run("a-1"), new_run=False):
        pass


def test_claim_workspace__orphan_whose_run_folder_is_gone_is_emptied_and_taken(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    with claim_workspace(ws, RunDir(tmp_path / "gone").for_run("g-1"), new_run=True):
        (ws / "stale.txt").write_text("old")
    b = _run(tmp_path, "b", "b-1")
    assert workspace_problem(ws, b) is None
    with claim_workspace(ws, b, new_run=True):
        assert not (ws / "stale.txt").exists()
    assert read_owner(ws) is not None and read_owner(ws).run_id == "b-1"  # type: ignore[union-attr]


def test_remove_workspace__deletes_only_the_runs_own_workspace(tmp_path: Path) -> None:
    a, b = _run(tmp_path, "a", "a-1"), _run(tmp_path, "b", "b-1")
    ws = tmp_path / "ws"
    with claim_workspace(ws, a, new_run=True):
        pass
    assert "belongs to run a-1" in (remove_workspace(ws, b) or "")
    assert "not a gwasflow workspace" in (remove_workspace(tmp_path / "b", b) or "")
    assert ws.is_dir()
    assert remove_workspace(ws, a) is None
    assert not ws.exists()


def test_remove_workspace__never_deletes_a_workspace_holding_the_runs_results_through_a_symlink(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    out = tmp_path / "out"
    out.mkdir()
    a = RunDir(out).for_run("a-1")
    with claim_workspace(ws, a, new_run=True):
        (ws / "res").mkdir()
        (ws / "res" / "Y1.regenie.gz").write_text("result")
        (out / "results").symlink_to(ws / "res")
    assert "holds the run's output" in (remove_workspace(ws, a) or "")
    assert (out / "results" / "Y1.regenie.gz").read_text() == "result"


def test_remove_workspace__workspace_reached_through_a_symlink_deletes_its_target(tmp_path: Path) -> None:
    target = tmp_path / "scratch" / "ws"
    target.mkdir(parents=True)
    link = tmp_path / "ws"
    link.symlink_to(target)
    a = _run(tmp_path, "a", "a-1")
    with claim_workspace(link, a, new_run=True):
        (link / "step1").mkdir()
    assert remove_workspace(link, a) is None
    assert not target.exists()
    with claim_workspace(link, a, new_run=True) as claim:  # the dangling link is followed and recreated
        assert claim.path == target and claim.created


def test_overlap_problems__outdir_through_a_symlink_into_workdir(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "inner").mkdir(parents=True)
    (tmp_path / "out").symlink_to(work / "inner")
    [problem] = overlap_problems(str(work), str(tmp_path / "out"))
    assert problem.field == "outdir"
    assert "outdir" in problem.message and "workdir" in problem.message and str(work / "inner") in problem.message


def test_overlap_problems__equal_nested_and_results_link_are_refused(tmp_path: Path) -> None:
    work, out = tmp_path / "work", tmp_path / "out"
    (work / "res").mkdir(parents=True)
    out.mkdir()
    assert [p.field for p in overlap_problems(str(work), str(work))] == ["outdir"]
    assert [p.field for p in overlap_problems(str(work), str(work / "out"))] == ["outdir"]
    assert [p.field for p in overlap_problems(str(out / "results" / "w"), str(out))] == ["workdir"]
    (out / "results").symlink_to(work / "res")
    [problem] = overlap_problems(str(work), str(out))
    assert problem.field == "outdir" and "results" in problem.message


def test_overlap_problems__workdir_beside_the_results_inside_outdir_is_fine(tmp_path: Path) -> None:
    assert overlap_problems(str(tmp_path / "work"), str(tmp_path)) == []
    assert overlap_problems(str(tmp_path / "w"), str(tmp_path / "o")) == []
