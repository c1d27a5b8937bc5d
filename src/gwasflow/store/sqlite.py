"""``SQLiteStore``: the production run store, one SQLite file per run folder (WAL)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from gwasflow.core.states import ACTIVE_ATTEMPT_STATES, AttemptState, JobState, RunState
from gwasflow.errors import StoreError
from gwasflow.store.records import (
    AttemptRecord,
    JobRecord,
    OutputRecord,
    RetryRequest,
    RunRecord,
)
from gwasflow.store.schema import ATTEMPT_COLS, init_schema

__all__ = ["SQLiteStore"]


_RUN_COLS = "run_id, name, state, spec_json, graph_json, created_at, updated_at, message"
_JOB_COLS = "run_id, job_id, step, state, attempts, updated_at, memory_mb, time_s"
_ACTIVE_SQL = ", ".join(f"'{s.value}'" for s in sorted(ACTIVE_ATTEMPT_STATES))


def _run(row: tuple[Any, ...]) -> RunRecord:
    return RunRecord(row[0], row[1], RunState(row[2]), row[3], row[4], row[5], row[6], row[7])


def _job(row: tuple[Any, ...]) -> JobRecord:
    return JobRecord(row[0], row[1], row[2], JobState(row[3]), row[4], row[5], row[6], row[7])


def _attempt(row: tuple[Any, ...]) -> AttemptRecord:
    record = AttemptRecord(*row)
    return replace(record, state=AttemptState(record.state))  # the stored value -> the enum


class SQLiteStore:
    """The run store in one SQLite file, safe to read from other processes while a run writes.

    * WAL journal: readers (``gwasflow status``, the dashboard) never block the
      writer and always see the last committed state.
    * ``synchronous=NORMAL``: in WAL mode every commit survives a crash or kill
      of the orchestrator (the case resume is built for); only an OS crash or
      power loss can drop the last few commits, never corrupt the file. What
      such a loss can cost is a re-submitted attempt, which is safe because
      jobs are idempotent -- so we do not pay an fsync per state change (FULL).
    * Writes take the write lock up front (``BEGIN IMMEDIATE``) and wait up to
      ``busy_timeout_s`` for another process's lock, so two processes never
      deadlock and a short contention is not an error.
    * The file carries a schema version: an older store is migrated when opened
      (``store/schema.py``), a newer one raises :class:`~gwasflow.errors.StoreError`.

    One connection guarded by a lock: safe to share between threads of one process.
    """

    def __init__(self, path: Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open run store {self.path}: {exc}") from exc
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._init_schema()
        except (sqlite3.Error, StoreError) as exc:
            self._db.close()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"cannot open run store {self.path}: {exc}") from exc

    def _init_schema(self) -> None:
        with self._write() as db:
            init_schema(db, self.path)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction holding the write lock; rolled back if the body raises.

        SQLite errors (a lock held too long by another process, a constraint)
        come out as :class:`StoreError`.
        """
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"run store {self.path}: {exc}") from exc
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"run store {self.path}: {exc}") from exc
                raise

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"run store {self.path}: {exc}") from exc

    def _change(self, sql: str, params: Sequence[Any], missing: str) -> None:
        """Run one UPDATE; raise ``StoreError(missing)`` (and change nothing) if no row matched."""
        with self._write() as db:
            if db.execute(sql, params).rowcount == 0:
                raise StoreError(missing)

    # runs ---------------------------------------------------------------

    def create_run(self, run_id: str, name: str, spec_json: str, graph_json: str) -> None:
        now = time.time()
        with self._write() as db:
            if db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is not None:
                raise StoreError(f"run {run_id!r} already exists")
            db.execute(
                f"INSERT INTO runs ({_RUN_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, '')",
                (run_id, name, RunState.CREATED.value, spec_json, graph_json, now, now),
            )

    def get_run(self, run_id: str) -> RunRecord:
        rows = self._query(f"SELECT {_RUN_COLS} FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise StoreError(f"unknown run {run_id!r}")
        return _run(rows[0])

    def latest_run(self) -> RunRecord | None:
        rows = self._query(f"SELECT {_RUN_COLS} FROM runs ORDER BY rowid DESC LIMIT 1")
        return _run(rows[0]) if rows else None

    def list_runs(self) -> list[RunRecord]:
        return [_run(r) for r in self._query(f"SELECT {_RUN_COLS} FROM runs ORDER BY rowid")]

    def set_run_state(self, run_id: str, state: RunState, message: str = "") -> None:
        self._change(
            "UPDATE runs SET state = ?, message = ?, updated_at = ? WHERE run_id = ?",
            (RunState(state).value, message, time.time(), run_id),
            f"unknown run {run_id!r}",
        )

    # jobs ---------------------------------------------------------------

    def add_jobs(self, run_id: str, jobs: Sequence[tuple[str, str]]) -> None:
        self.get_run(run_id)
        now = time.time()
        rows = ((run_id, job_id, step, JobState.PENDING.value, now) for job_id, step in jobs)
        with self._write() as db:
            db.executemany(f"INSERT INTO jobs ({_JOB_COLS}) VALUES (?, ?, ?, ?, 0, ?, NULL, NULL)", rows)

    def set_job_state(self, run_id: str, job_id: str, state: JobState) -> None:
        self.set_job_states(run_id, [(job_id, state)])

    def set_job_states(self, run_id: str, changes: Sequence[tuple[str, JobState]]) -> None:
        now = time.time()
        rows = [(JobState(state).value, now, run_id, job_id) for job_id, state in changes]
        with self._write() as db:
            cur = db.executemany(
                "UPDATE jobs SET state = ?, updated_at = ? WHERE run_id = ? AND job_id = ?", rows
            )
            if cur.rowcount != len(rows):
                known = {r[0] for r in db.execute("SELECT job_id FROM jobs WHERE run_id = ?", (run_id,))}
                missing = [job_id for job_id, _ in changes if job_id not in known]
                raise StoreError(f"run {run_id!r}: unknown jobs {missing[:5]!r}")

    def get_job(self, run_id: str, job_id: str) -> JobRecord:
        rows = self._query(f"SELECT {_JOB_COLS} FROM jobs WHERE run_id = ? AND job_id = ?", (run_id, job_id))
        if not rows:
            raise StoreError(f"run {run_id!r}: unknown job {job_id!r}")
        return _job(rows[0])

    def list_jobs(
        self, run_id: str, *, step: str | None = None, states: Collection[JobState] | None = None
    ) -> list[JobRecord]:
        self.get_run(run_id)
        sql = f"SELECT {_JOB_COLS} FROM jobs WHERE run_id = ?"
        params: list[Any] = [run_id]
        if step is not None:
            sql += " AND step = ?"
            params.append(step)
        if states is not None:
            values = sorted({JobState(s).value for s in states})
            sql += f" AND state IN ({', '.join('?' * len(values))})"
            params.extend(values)
        return [_job(r) for r in self._query(sql + " ORDER BY rowid", params)]

    def set_job_overrides(
        self, run_id: str, job_id: str, *, memory_mb: int | None, time_s: int | None
    ) -> None:
        self._change(
            "UPDATE jobs SET memory_mb = ?, time_s = ?, updated_at = ? WHERE run_id = ? AND job_id = ?",
            (memory_mb, time_s, time.time(), run_id, job_id),
            f"run {run_id!r}: unknown job {job_id!r}",
        )

    # attempts -----------------------------------------------------------

    def new_attempt(
        self, run_id: str, job_id: str, *, executor: str, log_path: str, resources_json: str
    ) -> int:
        now = time.time()
        with self._write() as db:
            cur = db.execute(
                "UPDATE jobs SET attempts = attempts + 1, updated_at = ? WHERE run_id = ? AND job_id = ? "
                "RETURNING attempts",
                (now, run_id, job_id),
            )
            row = cur.fetchone()
            if row is None:
                raise StoreError(f"run {run_id!r}: unknown job {job_id!r}")
            number = int(row[0])
            db.execute(
                f"INSERT INTO attempts ({ATTEMPT_COLS}) "
                "VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, NULL, NULL, NULL, NULL, NULL, '', '', NULL, NULL)",
                (run_id, job_id, number, AttemptState.SUBMITTING.value, executor, log_path, resources_json, now),
            )
        return number

    def set_attempt_handle(self, run_id: str, job_id: str, attempt: int, handle: str) -> None:
        self._change(
            "UPDATE attempts SET handle = ?, state = ? WHERE run_id = ? AND job_id = ? AND attempt = ?",
            (handle, AttemptState.SUBMITTED.value, run_id, job_id, attempt),
            f"run {run_id!r}: job {job_id!r} has no attempt {attempt}",
        )

    def mark_attempt_running(self, run_id: str, job_id: str, attempt: int, started_at: float) -> None:
        self._change(
            "UPDATE attempts SET state = CASE WHEN state IN "
            f"({_ACTIVE_SQL}) THEN ? ELSE state END, started_at = CASE WHEN state IN "
            f"({_ACTIVE_SQL}) THEN ? ELSE started_at END "
            "WHERE run_id = ? AND job_id = ? AND attempt = ?",
            (AttemptState.RUNNING.value, started_at, run_id, job_id, attempt),
            f"run {run_id!r}: job {job_id!r} has no attempt {attempt}",
        )

    def finish_attempt(
        self,
        run_id: str,
        job_id: str,
        attempt: int,
        *,
        state: AttemptState,
        exit_code: int | None,
        signal: int | None,
        error_type: str | None,
        reason: str,
        log_tail: str,
        ended_at: float,
        peak_memory_mb: float | None = None,
        cpu_time_s: float | None = None,
    ) -> None:
        self._change(
            "UPDATE attempts SET state = ?, exit_code = ?, signal = ?, error_type = ?, reason = ?, "
            "log_tail = ?, ended_at = ?, peak_memory_mb = ?, cpu_time_s = ? "
            "WHERE run_id = ? AND job_id = ? AND attempt = ?",
            (AttemptState(state).value, exit_code, signal, error_type, reason, log_tail, ended_at, peak_memory_mb,
             cpu_time_s, run_id, job_id, attempt),
            f"run {run_id!r}: job {job_id!r} has no attempt {attempt}",
        )

    def list_attempts(self, run_id: str, job_id: str | None = None) -> list[AttemptRecord]:
        self.get_run(run_id)
        sql = f"SELECT {ATTEMPT_COLS} FROM attempts WHERE run_id = ?"
        params: list[Any] = [run_id]
        if job_id is not None:
            sql += " AND job_id = ?"
            params.append(job_id)
        return [_attempt(r) for r in self._query(sql + " ORDER BY rowid", params)]

    def active_attempts(self, run_id: str) -> list[AttemptRecord]:
        self.get_run(run_id)
        sql = f"SELECT {ATTEMPT_COLS} FROM attempts WHERE run_id = ? AND state IN ({_ACTIVE_SQL})"
        return [_attempt(r) for r in self._query(sql + " ORDER BY rowid", (run_id,))]

    def add_retry_request(
        self, run_id: str, job_id: str, *, memory_mb: int | None, time_s: int | None, source: str
    ) -> int:
        self.get_job(run_id, job_id)
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO retry_requests (run_id, job_id, memory_mb, time_s, source, requested_at, taken)"
                " VALUES (?, ?, ?, ?, ?, ?, 0)",
                (run_id, job_id, memory_mb, time_s, source, time.time()),
            )
            return int(cursor.lastrowid or 0)

    def take_retry_requests(self, run_id: str) -> list[RetryRequest]:
        """Every request not yet taken, marked taken in the same transaction (each is seen once)."""
        with self._write() as db:
            rows = db.execute(
                "SELECT run_id, request_id, job_id, memory_mb, time_s, source, requested_at FROM retry_requests"
                " WHERE run_id = ? AND taken = 0 ORDER BY request_id",
                (run_id,),
            ).fetchall()
            db.execute("UPDATE retry_requests SET taken = 1 WHERE run_id = ? AND taken = 0", (run_id,))
        return [RetryRequest(*row) for row in rows]

    def record_outputs(self, run_id: str, job_id: str, outputs: Sequence[OutputRecord]) -> None:
        """Replace the job's recorded outputs (one transaction)."""
        self.get_job(run_id, job_id)
        with self._write() as db:
            db.execute("DELETE FROM outputs WHERE run_id = ? AND job_id = ?", (run_id, job_id))
            db.executemany(
                "INSERT INTO outputs (run_id, job_id, path, size, mtime_ns, sha256) VALUES (?, ?, ?, ?, ?, ?)",
                [(run_id, o.job_id, o.path, o.size, o.mtime_ns, o.sha256) for o in outputs],
            )

    def list_outputs(self, run_id: str) -> list[OutputRecord]:
        self.get_run(run_id)
        rows = self._query(
            "SELECT job_id, path, size, mtime_ns, sha256 FROM outputs WHERE run_id = ? ORDER BY rowid", (run_id,)
        )
        return [OutputRecord(*row) for row in rows]

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._db.close()
