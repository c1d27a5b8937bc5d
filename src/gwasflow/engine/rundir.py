"""Every path of a run, in one place, and atomic writes.

The run folder is ``outdir`` of the spec. Its layout is a contract that
``gwasflow status``, ``failures``, ``report`` and ``resume`` rely on::

    <outdir>/
      results/<pheno>.regenie.gz   merged step 2 results, one file per phenotype (bgzip, sorted)
      results/<pheno>.regenie.gz.tbi  its tabix index
      sumstats/<pheno>.tsv.gz[-meta.yaml]  GWAS-SSF export, written by ``gwasflow export-sumstats``
      summary.tsv                  per phenotype: variants tested, lambda GC, hits, top variant
      .gwasflow/
        gwasflow.sqlite            the run store (SQLite, WAL)
        spec.json                  the validated spec the run was started with
        events.jsonl               structured event log of the driver
        logs/<job>.<attempt>.log   one log file per job attempt
        SUCCEEDED | FAILED         sentinel written when the run ends (its text says why)

The transient workspace (step 1 and step 2 outputs) is the spec's ``workdir``;
gwasflow marks a workspace it created with ``.gwasflow-workspace`` and only
ever deletes a folder that carries that mark.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["WORKSPACE_MARK", "RunDir", "prepare_workspace", "remove_workspace", "write_atomic"]

WORKSPACE_MARK = ".gwasflow-workspace"


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    Readers see either the old file or the whole new one, never a partial write.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@dataclass(frozen=True)
class RunDir:
    """The paths of one run folder (see the module docstring)."""

    root: Path

    @classmethod
    def find(cls, start: Path | None = None) -> RunDir | None:
        """The run folder at ``start`` (default: the current folder), if it holds a store."""
        candidate = cls((start or Path.cwd()).resolve())
        return candidate if candidate.store_path.exists() else None

    @property
    def state_dir(self) -> Path:
        return self.root / ".gwasflow"

    @property
    def store_path(self) -> Path:
        return self.state_dir / "gwasflow.sqlite"

    @property
    def spec_path(self) -> Path:
        return self.state_dir / "spec.json"

    @property
    def events_path(self) -> Path:
        return self.state_dir / "events.jsonl"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def results_dir(self) -> Path:
        return self.root / "results"

    @property
    def summary_path(self) -> Path:
        return self.root / "summary.tsv"

    def log_path(self, job_id: str, attempt: int) -> Path:
        return self.logs_dir / f"{job_id}.{attempt}.log"

    def sentinel(self, succeeded: bool) -> Path:
        return self.state_dir / ("SUCCEEDED" if succeeded else "FAILED")

    def create(self) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.results_dir.mkdir(parents=True, exist_ok=True)

    def write_sentinel(self, succeeded: bool, message: str) -> None:
        for ok in (True, False):
            self.sentinel(ok).unlink(missing_ok=True)
        write_atomic(self.sentinel(succeeded), message.rstrip("\n") + "\n")

    def event(self, name: str, **fields: Any) -> None:
        """Append one structured event (``{"t": ..., "event": name, ...}``) to the event log."""
        record = {"t": round(time.time(), 3), "event": name, **fields}
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.events_path.open("a") as handle:
            handle.write(json.dumps(record, default=str) + "\n")


def prepare_workspace(path: Path) -> None:
    """Create the workspace folder and mark it as ours.

    Refuses a folder that exists, is not empty and was not made by gwasflow, so
    that cleanup can never delete a user's data.
    """
    if path.exists() and any(path.iterdir()) and not (path / WORKSPACE_MARK).exists():
        raise FileExistsError(
            f"workdir {path} exists, is not empty and is not a gwasflow workspace; choose an empty folder"
        )
    path.mkdir(parents=True, exist_ok=True)
    (path / WORKSPACE_MARK).touch()


def remove_workspace(path: Path) -> bool:
    """Delete a workspace folder that gwasflow created. Returns whether it was deleted."""
    if not (path / WORKSPACE_MARK).exists():
        return False
    shutil.rmtree(path, ignore_errors=True)
    return not path.exists()
