"""``gwasflow status``: job states per step of a run, read from its store.

A run the store calls ``running`` is only running while a driver holds the run
folder's lock (``.gwasflow/driver.lock``, taken by ``commands/launch.py``; its
pid in ``driver.pid``). When no process holds it, the driver died (``kill -9``,
a lost login session, a reboot) and the run is shown as ``interrupted (driver
not running)``, with the command that carries it on: ``gwasflow resume``.

``--json`` also lists every attempt: its job, number, state, error type, and
the peak memory (MB) and CPU time (s) its executor measured (null if none).
"""

from __future__ import annotations

import fcntl
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gwasflow.core.rundir import RunDir, find_rundir
from gwasflow.core.states import JobState, RunState, Step
from gwasflow.errors import StoreError
from gwasflow.store import AttemptRecord, SQLiteStore

__all__ = ["INTERRUPTED", "live_driver", "print_status", "shown_state"]

#: what ``status`` shows for a run whose store says running but whose driver is gone
INTERRUPTED = "interrupted"
_LIVE_STATES = frozenset({RunState.CREATED, RunState.RUNNING})


def live_driver(rundir: RunDir) -> int | None:
    """The pid of the driver holding this run folder's lock (0 if it wrote none yet), or None when none holds it.

    Tries a shared lock without waiting and lets it go at once: a driver's exclusive lock makes the try fail.
    """
    try:
        handle = (rundir.state_dir / "driver.lock").open("rb")
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _driver_pid(rundir)
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def _driver_pid(rundir: RunDir) -> int:
    try:
        text = (rundir.state_dir / "driver.pid").read_text().strip()
    except OSError:
        return 0
    return int(text) if text.isdigit() else 0


def shown_state(state: RunState, driver: int | None) -> str:
    """The run's state as ``status`` shows it: a live state without a live driver is :data:`INTERRUPTED`."""
    return INTERRUPTED if state in _LIVE_STATES and driver is None else state.value


def _headline(run_id: str, state: str, message: str, driver: int | None) -> str:
    if state == INTERRUPTED:
        return f"run {run_id}: [bold]{INTERRUPTED}[/bold] (driver not running): run gwasflow resume"
    pid = f" (driver pid {driver})" if driver else ""
    return f"run {run_id}: [bold]{state}[/bold]{pid}" + (f" ({message})" if message else "")


def _attempt_json(a: AttemptRecord) -> dict[str, object]:
    return {"job": a.job_id, "attempt": a.attempt, "state": a.state.value, "error_type": a.error_type,
            "peak_memory_mb": a.peak_memory_mb, "cpu_time_s": a.cpu_time_s}


def print_status(path: Path | None, *, as_json: bool = False) -> int:
    rundir = find_rundir(path)
    store = SQLiteStore(rundir.store_path)
    try:
        run = store.latest_run()
        if run is None:
            raise StoreError(f"{rundir.store_path} holds no run")
        counts: dict[str, dict[str, int]] = {}
        for job in store.list_jobs(run.run_id):
            per_step = counts.setdefault(job.step, {})
            per_step[job.state.value] = per_step.get(job.state.value, 0) + 1
        attempts = [_attempt_json(a) for a in store.list_attempts(run.run_id)] if as_json else []
    finally:
        store.close()
    driver = live_driver(rundir)
    state = shown_state(run.state, driver)
    order = [s.value for s in Step]
    steps = sorted(counts, key=lambda s: order.index(s) if s in order else len(order))
    if as_json:
        hint = "run gwasflow resume" if state == INTERRUPTED else None
        print(json.dumps({"run_id": run.run_id, "state": state, "message": run.message, "driver_pid": driver,
                          "hint": hint, "steps": {s: counts[s] for s in steps}, "attempts": attempts}, indent=2))
        return 0
    states = [s.value for s in JobState]
    console = Console(file=sys.stdout)
    console.print(_headline(run.run_id, state, run.message, driver))
    table = Table()
    table.add_column("step")
    shown = [s for s in states if any(s in counts[step] for step in steps)]
    for state in shown:
        table.add_column(state, justify="right")
    table.add_column("total", justify="right")
    for step in steps:
        row = counts[step]
        table.add_row(step, *[str(row.get(s, 0)) for s in shown], str(sum(row.values())))
    console.print(table)
    return 0
