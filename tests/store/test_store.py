"""One conformance suite for every run store, run against MemoryStore and SQLiteStore."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

import pytest

from gwasflow.core.states import AttemptState, JobState, RunState
from gwasflow.errors import StoreError
from gwasflow.store import SCHEMA_VERSION, MemoryStore, OutputRecord, SQLiteStore, Store

RUN = "run-1"


def _finish(store: Store, job_id: str, attempt: int, state: str = "succeeded") -> None:
    store.finish_attempt(
        RUN, job_id, attempt, state=state, exit_code=0, signal=None, error_type=None,
        reason="", log_tail="done", ended_at=time.time(),
    )  # fmt: skip


class StoreConformance(ABC):
    """Behaviour every Store must have. Subclasses provide ``make_store``."""

    @abstractmethod
    def make_store(self, tmp_path: Path) -> Store: ...

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        s = self.make_store(tmp_path)
        yield s
        s.close()

    @pytest.fixture
    def run(self, store: Store) -> Store:
        store.create_run(RUN, "demo", '{"spec": 1}', '{"jobs": []}')
        store.add_jobs(RUN, [("a", "step1"), ("b", "step2"), ("c", "step2")])
        return store

    # runs

    def test_create_run__starts_created(self, store: Store) -> None:
        store.create_run(RUN, "demo", "{}", "[]")
        rec = store.get_run(RUN)
        assert (rec.run_id, rec.name, rec.state, rec.spec_json, rec.graph_json) == (
            RUN, "demo", RunState.CREATED, "{}", "[]",
        )  # fmt: skip
        assert rec.message == ""
        assert rec.created_at <= rec.updated_at

    def test_create_run__duplicate_raises(self, store: Store) -> None:
        store.create_run(RUN, "demo", "{}", "[]")
        with pytest.raises(StoreError):
            store.create_run(RUN, "other", "{}", "[]")
        assert store.get_run(RUN).name == "demo"

    def test_get_run__unknown_raises(self, store: Store) -> None:
        with pytest.raises(StoreError, match="unknown run"):
            store.get_run("nope")

    def test_latest_run__none_then_last_created(self, store: Store) -> None:
        assert store.latest_run() is None
        for i in range(3):
            store.create_run(f"r{i}", f"n{i}", "{}", "[]")
        latest = store.latest_run()
        assert latest is not None and latest.run_id == "r2"
        assert [r.run_id for r in store.list_runs()] == ["r0", "r1", "r2"]

    def test_set_run_state__updates_state_and_message(self, store: Store) -> None:
        store.create_run(RUN, "demo", "{}", "[]")
        store.set_run_state(RUN, RunState.FAILED, "2 jobs failed")
        rec = store.get_run(RUN)
        assert rec.state is RunState.FAILED and rec.message == "2 jobs failed"
        with pytest.raises(StoreError):
            store.set_run_state("nope", RunState.RUNNING)

    # jobs

    def test_add_jobs__pending_with_no_attempts(self, run: Store) -> None:
        jobs = run.list_jobs(RUN)
        assert [(j.job_id, j.step, j.state, j.attempts) for j in jobs] == [
            ("a", "step1", JobState.PENDING, 0),
            ("b", "step2", JobState.PENDING, 0),
            ("c", "step2", JobState.PENDING, 0),
        ]
        assert all(j.memory_mb is None and j.time_s is None for j in jobs)

    def test_add_jobs__unknown_run_or_duplicate_raises_and_adds_nothing(self, run: Store) -> None:
        with pytest.raises(StoreError):
            run.add_jobs("nope", [("x", "step1")])
        with pytest.raises(StoreError):
            run.add_jobs(RUN, [("x", "step1"), ("a", "step1")])
        assert [j.job_id for j in run.list_jobs(RUN)] == ["a", "b", "c"]

    def test_add_jobs__many_in_one_call_is_fast(self, store: Store) -> None:
        store.create_run(RUN, "big", "{}", "[]")
        jobs = [(f"step2-{i:06d}", "step2") for i in range(100_000)]
        start = time.perf_counter()
        store.add_jobs(RUN, jobs)
        assert time.perf_counter() - start < 5.0
        assert len(store.list_jobs(RUN, states=[JobState.PENDING])) == 100_000

    def test_set_job_state__changes_one_job(self, run: Store) -> None:
        run.set_job_state(RUN, "b", JobState.RUNNING)
        assert run.get_job(RUN, "b").state is JobState.RUNNING
        assert run.get_job(RUN, "a").state is JobState.PENDING

    def test_set_job_states__all_or_nothing(self, run: Store) -> None:
        run.set_job_states(RUN, [("a", JobState.SUCCEEDED), ("b", JobState.QUEUED)])
        assert [j.state for j in run.list_jobs(RUN)] == [
            JobState.SUCCEEDED, JobState.QUEUED, JobState.PENDING,
        ]  # fmt: skip
        with pytest.raises(StoreError, match="unknown jobs"):
            run.set_job_states(RUN, [("c", JobState.FAILED), ("zzz", JobState.FAILED)])
        assert run.get_job(RUN, "c").state is JobState.PENDING

    def test_get_job__unknown_raises(self, run: Store) -> None:
        with pytest.raises(StoreError):
            run.get_job(RUN, "zzz")
        with pytest.raises(StoreError):
            run.get_job("nope", "a")

    def test_list_jobs__filters_by_step_and_states(self, run: Store) -> None:
        run.set_job_states(RUN, [("a", JobState.SUCCEEDED), ("c", JobState.FAILED)])
        assert [j.job_id for j in run.list_jobs(RUN, step="step2")] == ["b", "c"]
        failed = run.list_jobs(RUN, states={JobState.FAILED, JobState.SUCCEEDED})
        assert [j.job_id for j in failed] == ["a", "c"]
        assert [j.job_id for j in run.list_jobs(RUN, step="step2", states=[JobState.FAILED])] == ["c"]
        assert run.list_jobs(RUN, states=[]) == []

    def test_set_job_overrides__set_and_clear(self, run: Store) -> None:
        run.set_job_overrides(RUN, "b", memory_mb=8000, time_s=7200)
        job = run.get_job(RUN, "b")
        assert (job.memory_mb, job.time_s) == (8000, 7200)
        run.set_job_overrides(RUN, "b", memory_mb=None, time_s=60)
        job = run.get_job(RUN, "b")
        assert (job.memory_mb, job.time_s) == (None, 60)
        with pytest.raises(StoreError):
            run.set_job_overrides(RUN, "zzz", memory_mb=1, time_s=1)

    # attempts

    def test_new_attempt__numbers_from_one_and_counts_on_job(self, run: Store) -> None:
        first = run.new_attempt(RUN, "a", executor="local", log_path="/l/a.1", resources_json="{}")
        second = run.new_attempt(RUN, "a", executor="local", log_path="/l/a.2", resources_json="{}")
        assert (first, second) == (1, 2)
        assert run.get_job(RUN, "a").attempts == 2
        rec = run.list_attempts(RUN, "a")[0]
        assert (rec.state, rec.executor, rec.handle, rec.log_path) == ("submitting", "local", None, "/l/a.1")
        assert rec.started_at is None and rec.ended_at is None
        with pytest.raises(StoreError):
            run.new_attempt(RUN, "zzz", executor="local", log_path="x", resources_json="{}")

    def test_attempt_lifecycle__handle_running_finished(self, run: Store) -> None:
        n = run.new_attempt(RUN, "b", executor="local", log_path="/l/b", resources_json='{"cpus": 1}')
        run.set_attempt_handle(RUN, "b", n, "h-1")
        assert run.list_attempts(RUN, "b")[0].state == "submitted"
        run.mark_attempt_running(RUN, "b", n, 123.0)
        rec = run.list_attempts(RUN, "b")[0]
        assert (rec.state, rec.handle, rec.started_at) == ("running", "h-1", 123.0)
        run.finish_attempt(
            RUN, "b", n, state="failed", exit_code=None, signal=9, error_type="out_of_memory",
            reason="killed", log_tail="oom", ended_at=130.0,
        )  # fmt: skip
        rec = run.list_attempts(RUN, "b")[0]
        assert (rec.state, rec.exit_code, rec.signal, rec.error_type, rec.reason, rec.log_tail) == (
            "failed", None, 9, "out_of_memory", "killed", "oom",
        )  # fmt: skip
        assert rec.ended_at == 130.0 and rec.resources_json == '{"cpus": 1}'

    def test_finish_attempt__states_read_back_as_enums_with_usage(self, run: Store) -> None:
        n = run.new_attempt(RUN, "b", executor="local", log_path="/l/b", resources_json="{}")
        assert run.list_attempts(RUN, "b")[0].state is AttemptState.SUBMITTING
        run.finish_attempt(
            RUN, "b", n, state=AttemptState.SUCCEEDED, exit_code=0, signal=None, error_type=None, reason="",
            log_tail="", ended_at=1.0, peak_memory_mb=812.5, cpu_time_s=41.25,
        )  # fmt: skip
        n2 = run.new_attempt(RUN, "c", executor="local", log_path="/l/c", resources_json="{}")
        _finish(run, "c", n2, state="lost")  # a plain string is taken as the state's value
        (b,) = run.list_attempts(RUN, "b")
        (c,) = run.list_attempts(RUN, "c")
        assert b.state is AttemptState.SUCCEEDED and (b.peak_memory_mb, b.cpu_time_s) == (812.5, 41.25)
        assert c.state is AttemptState.LOST and (c.peak_memory_mb, c.cpu_time_s) == (None, None)

    def test_finish_attempt__unknown_state_raises(self, run: Store) -> None:
        n = run.new_attempt(RUN, "b", executor="local", log_path="/l/b", resources_json="{}")
        with pytest.raises(ValueError, match="'finished'"):
            _finish(run, "b", n, state="finished")
        assert run.list_attempts(RUN, "b")[0].state is AttemptState.SUBMITTING

    def test_mark_attempt_running__finished_attempt_is_not_reopened(self, run: Store) -> None:
        n = run.new_attempt(RUN, "b", executor="local", log_path="/l/b", resources_json="{}")
        _finish(run, "b", n)
        run.mark_attempt_running(RUN, "b", n, 5.0)
        rec = run.list_attempts(RUN, "b")[0]
        assert rec.state == "succeeded" and rec.started_at is None

    def test_attempt_updates__unknown_attempt_raises(self, run: Store) -> None:
        with pytest.raises(StoreError):
            run.set_attempt_handle(RUN, "a", 1, "h")
        with pytest.raises(StoreError):
            run.mark_attempt_running(RUN, "a", 1, 1.0)
        with pytest.raises(StoreError):
            _finish(run, "a", 1)

    def test_list_attempts__creation_order_and_job_filter(self, run: Store) -> None:
        for job_id in ["b", "a", "b"]:
            run.new_attempt(RUN, job_id, executor="local", log_path="x", resources_json="{}")
        assert [(a.job_id, a.attempt) for a in run.list_attempts(RUN)] == [("b", 1), ("a", 1), ("b", 2)]
        assert [a.attempt for a in run.list_attempts(RUN, "b")] == [1, 2]
        with pytest.raises(StoreError):
            run.list_attempts("nope")

    def test_active_attempts__only_submitting_submitted_running(self, run: Store) -> None:
        for job_id in ["a", "b", "c"]:
            run.new_attempt(RUN, job_id, executor="local", log_path="x", resources_json="{}")
        run.set_attempt_handle(RUN, "b", 1, "hb")
        run.set_attempt_handle(RUN, "c", 1, "hc")
        run.mark_attempt_running(RUN, "c", 1, 1.0)
        assert [a.job_id for a in run.active_attempts(RUN)] == ["a", "b", "c"]
        _finish(run, "a", 1)
        _finish(run, "c", 1, state="cancelled")
        assert [(a.job_id, a.state) for a in run.active_attempts(RUN)] == [("b", "submitted")]

    def test_runs__are_isolated(self, run: Store) -> None:
        run.create_run("run-2", "other", "{}", "[]")
        run.add_jobs("run-2", [("a", "stage_in")])
        run.set_job_state("run-2", "a", JobState.FAILED)
        assert run.get_job(RUN, "a").state is JobState.PENDING
        assert [j.step for j in run.list_jobs("run-2")] == ["stage_in"]

    # retry requests

    def test_take_retry_requests__each_request_is_taken_once_in_order(self, run: Store) -> None:
        first = run.add_retry_request(RUN, "b", memory_mb=8192, time_s=None, source="cli")
        second = run.add_retry_request(RUN, "c", memory_mb=None, time_s=7200, source="dynamodb")
        taken = run.take_retry_requests(RUN)
        assert [(r.request_id, r.job_id, r.memory_mb, r.time_s, r.source) for r in taken] == [
            (first, "b", 8192, None, "cli"), (second, "c", None, 7200, "dynamodb")]
        assert run.take_retry_requests(RUN) == []
        assert second > first

    def test_add_retry_request__unknown_job_is_an_error(self, run: Store) -> None:
        with pytest.raises(StoreError):
            run.add_retry_request(RUN, "nope", memory_mb=None, time_s=None, source="cli")
        assert run.take_retry_requests(RUN) == []

    # outputs

    def test_record_outputs__replaces_a_jobs_records(self, run: Store) -> None:
        first = OutputRecord("a", "/w/a.txt", 3, 10, "00")
        run.record_outputs(RUN, "a", [first, OutputRecord("a", "/w/b.txt", 4, 11, "11")])
        run.record_outputs(RUN, "a", [OutputRecord("a", "/w/a.txt", 5, 12, "22")])
        run.record_outputs(RUN, "b", [OutputRecord("b", "/w/c.txt", 1, 1, "33")])
        assert [(o.job_id, o.path, o.size, o.sha256) for o in run.list_outputs(RUN)] == [
            ("a", "/w/a.txt", 5, "22"), ("b", "/w/c.txt", 1, "33")]


class TestMemoryStore(StoreConformance):
    def make_store(self, tmp_path: Path) -> Store:
        return MemoryStore()


class TestSQLiteStore(StoreConformance):
    def make_store(self, tmp_path: Path) -> Store:
        return SQLiteStore(tmp_path / "runs.sqlite")

    def test_sqlitestore__is_wal_with_foreign_keys(self, tmp_path: Path) -> None:
        store = SQLiteStore(tmp_path / "runs.sqlite")
        store.close()
        db = sqlite3.connect(tmp_path / "runs.sqlite")
        try:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
            assert {"jobs_run_state", "attempts_run_state"} <= indexes
        finally:
            db.close()

    def test_sqlitestore__reopen_keeps_everything(self, tmp_path: Path) -> None:
        path = tmp_path / "sub" / "runs.sqlite"
        store = SQLiteStore(path)
        store.create_run(RUN, "demo", "{}", "[]")
        store.add_jobs(RUN, [("a", "step1")])
        n = store.new_attempt(RUN, "a", executor="local", log_path="x", resources_json="{}")
        store.set_attempt_handle(RUN, "a", n, "h")
        store.set_job_state(RUN, "a", JobState.RUNNING)
        store.close()
        again = SQLiteStore(path)
        try:
            assert again.get_job(RUN, "a").state is JobState.RUNNING
            assert [a.handle for a in again.active_attempts(RUN)] == ["h"]
        finally:
            again.close()

    def test_sqlitestore__second_connection_reads_while_first_writes(self, tmp_path: Path) -> None:
        path = tmp_path / "runs.sqlite"
        writer = SQLiteStore(path)
        reader = SQLiteStore(path)
        try:
            writer.create_run(RUN, "demo", "{}", "[]")
            writer.add_jobs(RUN, [(f"j{i}", "step2") for i in range(200)])
            done = threading.Event()

            def write() -> None:
                for i in range(200):
                    writer.set_job_state(RUN, f"j{i}", JobState.SUCCEEDED)
                done.set()

            thread = threading.Thread(target=write)
            thread.start()
            seen = []
            while not done.is_set():
                seen.append(len(reader.list_jobs(RUN, states=[JobState.SUCCEEDED])))
            thread.join()
            assert seen == sorted(seen)
            assert len(reader.list_jobs(RUN, states=[JobState.SUCCEEDED])) == 200
        finally:
            writer.close()
            reader.close()

    def test_sqlitestore__other_process_reads_while_this_one_writes(self, tmp_path: Path) -> None:
        path = tmp_path / "runs.sqlite"
        writer = SQLiteStore(path)
        writer.create_run(RUN, "demo", "{}", "[]")
        writer.add_jobs(RUN, [(f"j{i}", "step2") for i in range(300)])
        reader_code = (
            "import sys, time\n"
            "from pathlib import Path\n"
            "from gwasflow.store import SQLiteStore\n"
            "from gwasflow.core.states import JobState\n"
            "s = SQLiteStore(Path(sys.argv[1]))\n"
            "end = time.monotonic() + 1.0\n"
            "while time.monotonic() < end:\n"
            "    print(len(s.list_jobs('run-1', states=[JobState.SUCCEEDED])), flush=True)\n"
            "s.close()\n"
        )
        reader = subprocess.Popen(
            [sys.executable, "-c", reader_code, str(path)], stdout=subprocess.PIPE, text=True
        )
        try:
            for i in range(300):
                writer.set_job_state(RUN, f"j{i}", JobState.SUCCEEDED)
                time.sleep(0.002)
            out, _ = reader.communicate(timeout=30)
        finally:
            writer.close()
        assert reader.returncode == 0
        seen = [int(line) for line in out.split()]
        assert seen and seen == sorted(seen) and 0 <= seen[0] <= seen[-1] <= 300

    def test_sqlitestore__other_schema_version_raises(self, tmp_path: Path) -> None:
        path = tmp_path / "runs.sqlite"
        SQLiteStore(path).close()
        db = sqlite3.connect(path)
        with db:
            db.execute("UPDATE schema_version SET version = 999")
        db.close()
        with pytest.raises(StoreError, match="schema version 999"):
            SQLiteStore(path)

    def test_sqlitestore__version_1_store_is_migrated(self, tmp_path: Path) -> None:
        path = tmp_path / "runs.sqlite"
        old = SQLiteStore(path)
        old.create_run(RUN, "demo", "{}", "{}")
        old.add_jobs(RUN, [("a", "step1")])
        n = old.new_attempt(RUN, "a", executor="local", log_path="/l/a", resources_json="{}")
        _finish(old, "a", n, state="failed")
        old.close()
        db = sqlite3.connect(path)  # back to what schema version 1 had: no usage columns
        with db:
            db.execute("ALTER TABLE attempts DROP COLUMN peak_memory_mb")
            db.execute("ALTER TABLE attempts DROP COLUMN cpu_time_s")
            db.execute("UPDATE schema_version SET version = 1")
        db.close()
        store = SQLiteStore(path)
        try:
            (rec,) = store.list_attempts(RUN, "a")
            assert rec.state is AttemptState.FAILED and rec.log_tail == "done" and rec.peak_memory_mb is None
            n2 = store.new_attempt(RUN, "a", executor="local", log_path="/l/a", resources_json="{}")
            store.finish_attempt(RUN, "a", n2, state=AttemptState.SUCCEEDED, exit_code=0, signal=None,
                                 error_type=None, reason="", log_tail="", ended_at=2.0, peak_memory_mb=3.0,
                                 cpu_time_s=4.0)  # fmt: skip
            assert [(a.peak_memory_mb, a.cpu_time_s) for a in store.list_attempts(RUN, "a")] == [
                (None, None), (3.0, 4.0)]
        finally:
            store.close()
        db = sqlite3.connect(path)
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)] == [(2,)]
        db.close()

    def test_sqlitestore__not_a_database_raises(self, tmp_path: Path) -> None:
        path = tmp_path / "runs.sqlite"
        path.write_bytes(b"this is not sqlite" * 100)
        with pytest.raises(StoreError):
            SQLiteStore(path)
