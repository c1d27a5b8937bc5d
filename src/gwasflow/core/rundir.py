"""Every path of a run, in one place.

The run folder is ``outdir`` of the spec. Its layout is a contract that
``gwasflow status``, ``failures``, ``report`` and ``resume`` rely on::

    <outdir>/
      results/<pheno>.regenie.gz   merged step 2 results of the current run, one file per phenotype (bgzip,
                                   sorted by chromosome and position)
      results/<pheno>.regenie.gz.tbi  its tabix index
      sumstats/<pheno>.tsv.gz[-meta.yaml]  GWAS-SSF export, written by ``gwasflow export-sumstats``
      summary.tsv, report.html     per phenotype: variants tested, lambda GC, hits, top variant; the report
      .gwasflow/
        gwasflow.sqlite            the run store (SQLite, WAL): every run of this folder, the latest is current
        spec.json                  the validated spec the current run was started with
        events.jsonl               structured event log of the current run's driver
        runs/<run-id>/logs/<job>.<attempt>.log   one log file per job attempt, per run
        history/<run-id>/          what an earlier run published (results/, summary.tsv, report.html,
                                   spec.json, events.jsonl, its sentinel), moved aside by ``run --force``
        SUCCEEDED | FAILED         sentinel written when the run ends (its text says why)

Every write is atomic (``gwasflow.core.atomic``). The transient workspace
(step 1 and step 2 outputs) is the spec's ``workdir``; who owns it and when it
may be deleted is ``gwasflow.storage.ownership``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gwasflow.core.atomic import write_atomic
from gwasflow.core.events import EventLog, Level
from gwasflow.errors import StoreError

__all__ = ["RunDir", "find_rundir", "write_atomic"]

#: What a finished run leaves at the top of its run folder and in ``.gwasflow/`` (moved aside together).
_PUBLISHED = ("results", "summary.tsv", "qc.tsv", "qc", "loci", "report.html", "index.html", "phenotypes")
_STATE = ("spec.json", "events.jsonl", "SUCCEEDED", "FAILED")


@dataclass(frozen=True)
class RunDir:
    """The paths of one run folder (see the module docstring)."""

    root: Path
    run_id: str | None = None

    def for_run(self, run_id: str) -> RunDir:
        """The same folder, with the paths of run ``run_id`` (its logs)."""
        return replace(self, run_id=run_id)

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
        """``runs/<run-id>/logs`` (``logs`` for a folder object that names no run)."""
        return self.state_dir / "runs" / self.run_id / "logs" if self.run_id else self.state_dir / "logs"

    @property
    def history_dir(self) -> Path:
        return self.state_dir / "history"

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

    def archive(self, run_id: str) -> Path:
        """Move what run ``run_id`` published, its spec, events and sentinel to ``history/<run_id>/``.

        The store keeps its records and its logs stay under ``runs/<run_id>/``, so ``--run-id`` still
        finds them; nothing is left where it would be taken for the next run's. Returns the folder.
        """
        target = self.history_dir / run_id
        n = 1
        while target.exists():
            n += 1
            target = self.history_dir / f"{run_id}.{n}"
        target.mkdir(parents=True)
        moves = [(self.root / name, target / name) for name in _PUBLISHED]
        moves += [(self.state_dir / name, target / name) for name in _STATE]
        for source, dest in moves:
            if source.exists() or source.is_symlink():
                source.rename(dest)
        return target

    @property
    def events(self) -> EventLog:
        """The run's event logger (``events.jsonl`` and the console; see ``core/events.py``)."""
        return EventLog(self.events_path)

    def event(self, name: str, *, level: Level = Level.INFO, **fields: Any) -> None:
        """Emit one structured event (``{"t": ..., "event": name, ...}``) through the run's event logger."""
        self.events.emit(name, level=level, **fields)


def find_rundir(path: Path | None) -> RunDir:
    """The run folder given, or the current folder; a clear error when there is no run there."""
    rundir = RunDir.find(path)
    if rundir is None:
        where = path or Path.cwd()
        raise StoreError(f"no gwasflow run in {where} (expected {RunDir(where).store_path})")
    return rundir
