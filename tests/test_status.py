"""``gwasflow status`` tells a run whose driver holds the run folder's lock from one whose driver is gone."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest

from gwasflow.commands.status import INTERRUPTED, live_driver, print_status, shown_state
from gwasflow.core.rundir import RunDir
from gwasflow.core.states import AttemptState, RunState
from gwasflow.store import SQLiteStore


def _run_folder(tmp_path: Path, state: RunState) -> RunDir:
    rundir = RunDir(tmp_path / "run")
    rundir.create()
    store = SQLiteStore(rundir.store_path)
    try:
        store.create_run("r1", "t", "{}", "{}")
        store.add_jobs("r1", [("step1", "step1")])
        store.set_run_state("r1", state)
    finally:
        store.close()
    return rundir


def _status_json(rundir: RunDir, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert print_status(rundir.root, as_json=True) == 0
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


def test_print_status__running_without_a_driver_is_interrupted_with_the_resume_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rundir = _run_folder(tmp_path, RunState.RUNNING)
    (rundir.state_dir / "driver.pid").write_text("999999\n")  # left behind by a driver killed with SIGKILL
    (rundir.state_dir / "driver.lock").touch()
    data = _status_json(rundir, capsys)
    assert (data["state"], data["driver_pid"], data["hint"]) == (INTERRUPTED, None, "run gwasflow resume")
    assert print_status(rundir.root) == 0
    assert "interrupted (driver not running): run gwasflow resume" in capsys.readouterr().out


def test_print_status__running_with_the_lock_held_is_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rundir = _run_folder(tmp_path, RunState.RUNNING)
    (rundir.state_dir / "driver.pid").write_text(f"{os.getpid()}\n")
    with (rundir.state_dir / "driver.lock").open("a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as the driver holds it (commands/launch.py)
        data = _status_json(rundir, capsys)
        assert (data["state"], data["driver_pid"], data["hint"]) == ("running", os.getpid(), None)
        assert print_status(rundir.root) == 0
        out = capsys.readouterr().out
        assert f"running (driver pid {os.getpid()})" in out and "resume" not in out
    assert live_driver(rundir) is None  # released: the driver is gone


def test_live_driver__no_lock_file_is_no_driver(tmp_path: Path) -> None:
    rundir = _run_folder(tmp_path, RunState.RUNNING)
    assert live_driver(rundir) is None
    assert not (rundir.state_dir / "driver.lock").exists()  # asking does not create it


@pytest.mark.parametrize(
    ("state", "driver", "shown"),
    [(RunState.RUNNING, None, INTERRUPTED), (RunState.CREATED, None, INTERRUPTED), (RunState.RUNNING, 42, "running"),
     (RunState.SUCCEEDED, None, "succeeded"), (RunState.FAILED, None, "failed"),
     (RunState.CANCELLED, None, "cancelled")],
)  # fmt: skip
def test_shown_state__only_a_live_state_needs_a_live_driver(state: RunState, driver: int | None, shown: str) -> None:
    assert shown_state(state, driver) == shown


def test_print_status__json_lists_each_attempt_with_its_peak_memory_and_cpu_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rundir = _run_folder(tmp_path, RunState.FAILED)
    store = SQLiteStore(rundir.store_path)
    try:
        for usage in ((2048.0, 61.5), (None, None)):
            n = store.new_attempt("r1", "step1", executor="local", log_path="/l", resources_json="{}")
            store.finish_attempt("r1", "step1", n, state=AttemptState.FAILED, exit_code=None, signal=9,
                                 error_type="out_of_memory", reason="", log_tail="", ended_at=1.0,
                                 peak_memory_mb=usage[0], cpu_time_s=usage[1])  # fmt: skip
    finally:
        store.close()
    data = _status_json(rundir, capsys)
    assert data["attempts"] == [
        {"job": "step1", "attempt": 1, "state": "failed", "error_type": "out_of_memory", "peak_memory_mb": 2048.0,
         "cpu_time_s": 61.5},
        {"job": "step1", "attempt": 2, "state": "failed", "error_type": "out_of_memory", "peak_memory_mb": None,
         "cpu_time_s": None},
    ]  # fmt: skip
