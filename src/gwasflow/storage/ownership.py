"""Who owns a workspace, and when it may be deleted.

A workspace (the spec's ``workdir``) belongs to the run that made it:
``.gwasflow-workspace`` in it is JSON naming that run (``run_id``) and its run
folder (``rundir``, resolved). While a run drives it (``run``, ``resume``,
``retry``: staging, jobs, cleanup) the run holds an exclusive ``flock`` on
``.gwasflow-workspace.lock`` in it. :func:`claim_workspace` lets a run use a
workspace only when no other process holds that lock and

- the folder does not exist or is empty (it is then marked for the run);
- its marker names this run (``resume``, ``retry``);
- its marker names this run folder, for a new run (``run --force`` replacing
  an earlier run of the same ``outdir``): the folder is emptied first;
- its marker names a run folder that no longer holds a run store (an orphan),
  or no run at all (made by an older gwasflow): emptied for a new run.

Anything else is refused with a one-line ``SpecError`` (exit 2) before a byte
is written. :func:`remove_workspace` deletes a workspace only when the
resolved folder (symlinks followed) carries the deleting run's marker and
neither is nor holds any of the run's outputs (run folder, results, store).
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gwasflow.core.atomic import write_atomic
from gwasflow.core.rundir import RunDir
from gwasflow.errors import Problem, SpecError

__all__ = [
    "LOCK",
    "MARK",
    "Claim",
    "Owner",
    "claim_workspace",
    "overlap_problems",
    "read_owner",
    "remove_workspace",
    "workspace_problem",
]

MARK = ".gwasflow-workspace"
LOCK = ".gwasflow-workspace.lock"
_OURS = frozenset({MARK, LOCK})


@dataclass(frozen=True)
class Owner:
    """The run a workspace belongs to; empty fields for a marker that names none (older gwasflow)."""

    run_id: str
    rundir: str

    def to_json(self) -> str:
        return json.dumps({"run_id": self.run_id, "rundir": self.rundir}) + "\n"


@dataclass(frozen=True)
class Claim:
    """A workspace a run holds: its resolved path, and whether this claim created the folder."""

    path: Path
    created: bool


class _Verdict(enum.Enum):
    USE = "use"
    EMPTY = "empty"
    REFUSE = "refuse"


def read_owner(path: Path) -> Owner | None:
    """The owner named by the marker in ``path``; None when there is no marker."""
    mark = path / MARK
    if not mark.is_file():
        return None
    try:
        data = json.loads(mark.read_text() or "{}")
    except (OSError, ValueError):
        return Owner("", "")
    if not isinstance(data, dict):
        return Owner("", "")
    return Owner(str(data.get("run_id", "")), str(data.get("rundir", "")))


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def _is_locked(path: Path) -> bool:
    """Whether another process holds the workspace lock (checked without writing anything)."""
    try:
        handle = (path / LOCK).open("rb")
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:  # a file system without flock: claim_workspace says so
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def _describe(owner: Owner | None) -> str:
    if owner is None or not owner.run_id:
        return "another run"
    return f"run {owner.run_id} (outdir {owner.rundir})"


def _verdict(path: Path, owner: Owner | None, run_id: str, root: Path, *, new_run: bool) -> tuple[_Verdict, str]:
    """What a run may do with the existing folder ``path`` (resolved), and why not when refused."""
    foreign = [p.name for p in path.iterdir() if p.name not in _OURS]
    if owner is None:
        if foreign:
            return _Verdict.REFUSE, "exists, is not empty and is not a gwasflow workspace; choose a new or empty folder"
        return _Verdict.USE, ""
    if owner.run_id == run_id and owner.rundir == str(root):
        return _Verdict.USE, ""
    if not owner.run_id or owner.rundir == str(root):
        if new_run:
            return _Verdict.EMPTY, ""
        if not owner.run_id:
            return _Verdict.USE, ""
        return _Verdict.REFUSE, f"now belongs to {_describe(owner)}, not to run {run_id}"
    if not (Path(owner.rundir) / ".gwasflow" / "gwasflow.sqlite").exists():
        return _Verdict.EMPTY, ""
    return _Verdict.REFUSE, f"belongs to {_describe(owner)}; give this run another workdir"


def workspace_problem(path: Path, rundir: RunDir) -> str | None:
    """Why a new run of ``rundir`` cannot use workspace ``path`` (read-only check), or None."""
    resolved = path.resolve()
    if not resolved.exists():
        return None
    if not resolved.is_dir():
        return "exists and is not a folder"
    owner = read_owner(resolved)
    if _is_locked(resolved):
        return f"is in use by {_describe(owner)}; give this run another workdir"
    verdict, why = _verdict(resolved, owner, "", rundir.root.resolve(), new_run=True)
    return why if verdict is _Verdict.REFUSE else None


def _refuse(path: Path, why: str) -> SpecError:
    return SpecError([Problem("workdir", f"{path} {why}")])


@contextlib.contextmanager
def claim_workspace(path: Path, rundir: RunDir, *, new_run: bool) -> Iterator[Claim]:
    """Hold workspace ``path`` for run ``rundir.run_id`` (see the module docstring) while the block runs."""
    assert rundir.run_id, "claim_workspace needs a RunDir bound to a run"
    resolved, root = path.resolve(), rundir.root.resolve()
    if resolved.exists() and resolved.is_dir() and read_owner(resolved) is None:
        verdict, why = _verdict(resolved, None, rundir.run_id, root, new_run=new_run)
        if verdict is _Verdict.REFUSE:  # a user's folder: not even a lock file goes in
            raise _refuse(path, why)
    created = not resolved.exists()
    try:
        resolved.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _refuse(path, f"cannot be created: {exc.strerror or exc}") from None
    with (resolved / LOCK).open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _refuse(path, f"is in use by {_describe(read_owner(resolved))}; "
                                "give this run another workdir") from None
        except OSError as exc:
            raise _refuse(path, f"cannot be locked ({exc.strerror or exc}); "
                                "use a file system that supports flock") from None
        try:
            verdict, why = _verdict(resolved, read_owner(resolved), rundir.run_id, root, new_run=new_run)
            if verdict is _Verdict.REFUSE:
                raise _refuse(path, why)
            if verdict is _Verdict.EMPTY:
                _empty(resolved, rundir)
            write_atomic(resolved / MARK, Owner(rundir.run_id, str(root)).to_json())
            yield Claim(resolved, created)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _outputs(rundir: RunDir) -> list[Path]:
    """The run's outputs that a workspace deletion must never reach, resolved."""
    paths = [rundir.root, rundir.state_dir, rundir.store_path, rundir.results_dir, rundir.summary_path,
             rundir.root / "report.html", rundir.root / "index.html", rundir.root / "phenotypes"]
    if rundir.results_dir.is_dir():
        paths += sorted(rundir.results_dir.iterdir())
    return [p.resolve() for p in paths]


def _held_output(resolved: Path, rundir: RunDir) -> Path | None:
    return next((p for p in _outputs(rundir) if _within(p, resolved)), None)


def _empty(resolved: Path, rundir: RunDir) -> None:
    """Delete what an earlier run left in a workspace this run takes over (never the run's outputs)."""
    held = _held_output(resolved, rundir)
    if held is not None:
        raise _refuse(resolved, f"holds this run's output {held}; choose a workdir outside outdir's files")
    for entry in resolved.iterdir():
        if entry.name in _OURS:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def remove_workspace(path: Path, rundir: RunDir) -> str | None:
    """Delete workspace ``path`` of run ``rundir.run_id`` if it provably is that run's; returns why not, or None."""
    resolved = path.resolve()
    owner = read_owner(resolved)
    if owner is None:
        return "not a gwasflow workspace"
    if not rundir.run_id or owner != Owner(rundir.run_id, str(rundir.root.resolve())):
        return f"belongs to {_describe(owner)}, not to run {rundir.run_id or '?'}"
    held = _held_output(resolved, rundir)
    if held is not None:
        return f"holds the run's output {held}"
    shutil.rmtree(resolved, ignore_errors=True)
    return "could not delete all of it" if resolved.exists() else None


def overlap_problems(workdir: str, outdir: str) -> list[Problem]:
    """``outdir`` and ``workdir`` overlapping once resolved (symlinks followed): each case names both fields.

    Refused: outdir equal to or inside workdir (directly or through a symlink), any of outdir's
    ``results/``, ``.gwasflow/``, ``summary.tsv``, ``report.html``, ``index.html``, ``phenotypes/``
    resolving into workdir, and workdir
    inside outdir's ``results/`` or ``.gwasflow/``. A workdir elsewhere inside outdir is fine.
    """
    work, out = Path(workdir).resolve(), Path(outdir)
    if _within(out.resolve(), work):
        via = "" if out.resolve() == out else f" (resolves to {out.resolve()})"
        return [Problem("outdir", f"outdir {outdir}{via} is inside workdir {workdir}, which is deleted "
                                  "after the run; choose an outdir outside workdir")]
    problems = []
    for name in ("results", ".gwasflow", "summary.tsv", "report.html", "index.html", "phenotypes"):
        part = (out / name).resolve()
        if _within(part, work):
            problems.append(Problem("outdir", f"outdir's {name} resolves to {part}, inside workdir {workdir}, "
                                              "which is deleted after the run"))
        elif name in {"results", ".gwasflow"} and _within(work, part):
            problems.append(Problem("workdir", f"workdir {workdir} is inside outdir's {name} ({part}); "
                                               "choose a workdir outside it"))
    return problems
