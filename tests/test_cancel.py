"""Ctrl-C on a running `gwasflow run`: running jobs are killed and recorded as cancelled."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import yaml

from gwasflow.commands.demo import write_demo
from gwasflow.executors.local import kill_strays
from tests.conftest import read_events


def _events(path: Path) -> list[dict[str, object]]:
    return read_events(path)


def _regenie_processes(workspace: Path) -> list[int]:
    """Pids of processes whose command line runs the built-in engine on this workspace."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "regenie" in cmdline and str(workspace) in cmdline:
            pids.append(int(entry.name))
    return pids


def test_run__sigint_cancels_running_jobs_and_records_them(tmp_path: Path) -> None:
    spec = write_demo(tmp_path / "d", n_samples=2000, n_variants=20_000, seed=3)
    proc = subprocess.Popen([sys.executable, "-m", "gwasflow", "run", str(spec), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    events_path = tmp_path / "d" / ".gwasflow" / "events.jsonl"
    deadline = time.monotonic() + 60
    while not any(e["event"] == "submitted" for e in _events(events_path)):
        assert proc.poll() is None and time.monotonic() < deadline, "step 1 was never submitted"
        time.sleep(0.05)
    time.sleep(0.5)
    workspace = tmp_path / "d" / "work"
    assert _regenie_processes(workspace), "step 1 should be running"
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert not _regenie_processes(workspace), "cancelled jobs must not keep running"
    db = sqlite3.connect(tmp_path / "d" / ".gwasflow" / "gwasflow.sqlite")
    try:
        run_state = db.execute("SELECT state FROM runs").fetchone()[0]
        states = dict(db.execute("SELECT job_id, state FROM jobs").fetchall())
        attempts = db.execute("SELECT job_id, state FROM attempts").fetchall()
    finally:
        db.close()
    assert run_state == "cancelled"
    assert states["step1"] == "cancelled"
    assert set(states.values()) == {"cancelled"}
    assert attempts == [("step1", "cancelled")]
    assert not workspace.exists(), "a cancelled run deletes its workspace"


def test_cancel__command_stops_a_live_run_from_its_folder(tmp_path: Path) -> None:
    spec = write_demo(tmp_path / "d", n_samples=2000, n_variants=20_000, seed=4)
    proc = subprocess.Popen([sys.executable, "-m", "gwasflow", "run", str(spec), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    folder = tmp_path / "d"
    deadline = time.monotonic() + 60
    while not any(e["event"] == "submitted" for e in _events(folder / ".gwasflow" / "events.jsonl")):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    cancel = subprocess.run([sys.executable, "-m", "gwasflow", "cancel"], cwd=folder, capture_output=True,
                            text=True, timeout=60, check=False)
    assert cancel.returncode == 0 and "asked driver process" in cancel.stdout, cancel.stderr
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    status = subprocess.run([sys.executable, "-m", "gwasflow", "status", "--json"], cwd=folder,
                            capture_output=True, text=True, timeout=60, check=False)
    data = json.loads(status.stdout)
    assert data["state"] == "cancelled"
    assert {s for states in data["steps"].values() for s in states} == {"cancelled"}


def test_status__after_kill_9_of_the_driver_says_interrupted_and_resume(tmp_path: Path) -> None:
    spec = write_demo(tmp_path / "d", n_samples=2000, n_variants=20_000, seed=5)
    proc = subprocess.Popen([sys.executable, "-m", "gwasflow", "run", str(spec), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    folder = tmp_path / "d"
    deadline = time.monotonic() + 60
    while not any(e["event"] == "submitted" for e in _events(folder / ".gwasflow" / "events.jsonl")):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    status = subprocess.run([sys.executable, "-m", "gwasflow", "status", "--json"], cwd=folder, capture_output=True,
                            text=True, timeout=60, check=False)  # fmt: skip
    live = json.loads(status.stdout)
    assert (live["state"], live["driver_pid"], live["hint"]) == ("running", proc.pid, None)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    try:
        text = subprocess.run([sys.executable, "-m", "gwasflow", "status"], cwd=folder, capture_output=True,
                              text=True, timeout=60, check=False)  # fmt: skip
        assert text.returncode == 0, text.stderr
        assert "interrupted (driver not running): run gwasflow resume" in text.stdout
        data = json.loads(subprocess.run([sys.executable, "-m", "gwasflow", "status", "--json"], cwd=folder,
                                         capture_output=True, text=True, timeout=60, check=False).stdout)
        assert (data["state"], data["driver_pid"]) == ("interrupted", None)
    finally:
        run_id = live["run_id"]
        kill_strays(f"{run_id}:")  # the killed driver's job keeps running in its own session


def test_failures_and_retry__a_job_killed_by_someone_else_is_listed_and_rerun(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    spec = write_demo(folder, n_samples=2000, n_variants=20_000, seed=6)
    data = yaml.safe_load(spec.read_text())
    data["retry"] = {"max_attempts": 1, "backoff_s": 0}
    spec.write_text(yaml.safe_dump(data))
    proc = subprocess.Popen([sys.executable, "-m", "gwasflow", "run", str(spec), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    workspace, deadline = folder / "work", time.monotonic() + 60
    while not _regenie_processes(workspace):
        assert proc.poll() is None and time.monotonic() < deadline, "step 1 never started"
        time.sleep(0.05)
    for pid in _regenie_processes(workspace):
        os.kill(pid, signal.SIGKILL)  # not gwasflow's cancel: someone else's kill
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    failures = json.loads(subprocess.run([sys.executable, "-m", "gwasflow", "failures", "--json"], cwd=folder,
                                         capture_output=True, text=True, timeout=60, check=True).stdout)
    assert [(f["job_id"], f["error_type"], f["signal"]) for f in failures] == [("step1", "killed", 9)]
    retry = subprocess.run([sys.executable, "-m", "gwasflow", "retry", "--quiet"], cwd=folder, capture_output=True,
                           text=True, timeout=600, check=False)  # fmt: skip
    assert retry.returncode == 0, retry.stdout + retry.stderr
    status = json.loads(subprocess.run([sys.executable, "-m", "gwasflow", "status", "--json"], cwd=folder,
                                       capture_output=True, text=True, timeout=60, check=True).stdout)
    assert status["state"] == "succeeded"
