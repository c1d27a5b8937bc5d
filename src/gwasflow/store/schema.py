"""The SQLite store's schema, and the migration of older stores to it.

A store file carries its schema version in ``schema_version``. A new file gets
the whole schema; a file of an older version is migrated in the same
transaction that opens it (each step only adds, with defaults, so the rows
written before read back unchanged); a file of a newer version is refused.

Versions: 1, the first; 2, ``attempts.peak_memory_mb`` and
``attempts.cpu_time_s`` (NULL for attempts recorded before).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gwasflow.errors import StoreError
from gwasflow.store.records import SCHEMA_VERSION

__all__ = ["ATTEMPT_COLS", "init_schema"]

_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, name TEXT NOT NULL, state TEXT NOT NULL,
    spec_json TEXT NOT NULL, graph_json TEXT NOT NULL,
    created_at REAL NOT NULL, updated_at REAL NOT NULL, message TEXT NOT NULL
);
CREATE TABLE jobs (
    run_id TEXT NOT NULL REFERENCES runs(run_id), job_id TEXT NOT NULL,
    step TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
    updated_at REAL NOT NULL, memory_mb INTEGER, time_s INTEGER,
    UNIQUE (run_id, job_id)
);
CREATE INDEX jobs_run_state ON jobs (run_id, state);
CREATE INDEX jobs_run_step ON jobs (run_id, step);
CREATE TABLE attempts (
    run_id TEXT NOT NULL, job_id TEXT NOT NULL, attempt INTEGER NOT NULL,
    state TEXT NOT NULL, executor TEXT NOT NULL, handle TEXT, log_path TEXT NOT NULL,
    resources_json TEXT NOT NULL, submitted_at REAL NOT NULL, started_at REAL, ended_at REAL,
    exit_code INTEGER, signal INTEGER, error_type TEXT, reason TEXT NOT NULL, log_tail TEXT NOT NULL,
    peak_memory_mb REAL, cpu_time_s REAL,
    UNIQUE (run_id, job_id, attempt),
    FOREIGN KEY (run_id, job_id) REFERENCES jobs (run_id, job_id)
);
CREATE INDEX attempts_run_state ON attempts (run_id, state);
"""

_OUTPUTS = """
CREATE TABLE IF NOT EXISTS outputs (
    run_id TEXT NOT NULL, job_id TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL, UNIQUE (run_id, job_id, path)
)
"""

_RETRY_REQUESTS = """
CREATE TABLE IF NOT EXISTS retry_requests (
    request_id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, job_id TEXT NOT NULL,
    memory_mb INTEGER, time_s INTEGER, source TEXT NOT NULL, requested_at REAL NOT NULL, taken INTEGER NOT NULL
)
"""

# version -> statements that bring a store of that version to the next
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: ("ALTER TABLE attempts ADD COLUMN peak_memory_mb REAL", "ALTER TABLE attempts ADD COLUMN cpu_time_s REAL"),
}

#: the attempts columns, in the order of :class:`~gwasflow.store.records.AttemptRecord`'s fields
ATTEMPT_COLS = (
    "run_id, job_id, attempt, state, executor, handle, log_path, resources_json, submitted_at, "
    "started_at, ended_at, exit_code, signal, error_type, reason, log_tail, peak_memory_mb, cpu_time_s"
)


def init_schema(db: sqlite3.Connection, path: Path) -> None:
    """Create, migrate or check the schema, inside the caller's write transaction."""
    # additive tables, created in stores written before they existed (same schema version)
    db.execute(_RETRY_REQUESTS)
    db.execute(_OUTPUTS)
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'").fetchone()
    if exists is None:
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        return
    row = db.execute("SELECT version FROM schema_version").fetchone()
    found = None if row is None else row[0]
    if not isinstance(found, int) or found > SCHEMA_VERSION or (found not in _MIGRATIONS and found != SCHEMA_VERSION):
        raise StoreError(f"run store {path} has schema version {found}, this gwasflow needs {SCHEMA_VERSION}")
    for version in range(found, SCHEMA_VERSION):
        for statement in _MIGRATIONS[version]:
            db.execute(statement)
    db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
