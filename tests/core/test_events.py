"""EventLog: one logger, events.jsonl always JSON, the console in text or JSON from a level up."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gwasflow.core.events import EventLog, Level, LogFormat, configure_console, render


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    yield stream
    configure_console()  # back to the defaults: text, warning, stderr


def test_emit__info_goes_to_the_file_not_to_a_warning_console(tmp_path: Path, console: io.StringIO) -> None:
    configure_console(stream=console)
    log = EventLog(tmp_path / "state" / "events.jsonl")
    log.emit("submitted", job="step1", attempt=1, handle="local-1")
    log.debug("poll_round", handles=3)
    (line,) = (tmp_path / "state" / "events.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert set(record) == {"t", "event", "job", "attempt", "handle"}  # no level key for info
    assert (record["event"], record["job"], record["attempt"], record["handle"]) == ("submitted", "step1", 1, "local-1")
    assert console.getvalue() == ""


def test_emit__json_console_lines_are_the_file_lines(tmp_path: Path, console: io.StringIO) -> None:
    configure_console(fmt=LogFormat.JSON, level=Level.INFO, stream=console)
    log = EventLog(tmp_path / "events.jsonl")
    log.emit("run_started", run_id="r1", jobs=12)
    log.warning("slurm_query_failed", command="sacct", error="timed out after 120 s")
    printed = [json.loads(line) for line in console.getvalue().splitlines()]
    written = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert printed == written
    assert printed[1]["level"] == "warning" and printed[1]["error"] == "timed out after 120 s"


def test_emit__text_console_quotes_values_that_need_it(console: io.StringIO) -> None:
    configure_console(fmt=LogFormat.TEXT, level=Level.WARNING, stream=console)
    EventLog().error("batch_poll_failed", throttled=True, error='Rate "exceeded" now', code="Throttling")
    (line,) = console.getvalue().splitlines()
    stamp, level, event, *fields = line.split(" ", 3)
    assert stamp.endswith("Z") and (level, event) == ("error", "batch_poll_failed")
    assert fields == ['throttled=true error="Rate \\"exceeded\\" now" code=Throttling']


def test_render__json_round_trips_values_json_cannot_hold(tmp_path: Path) -> None:
    record = {"t": 1.0, "event": "x", "path": tmp_path}
    assert json.loads(render(record, LogFormat.JSON)) == {"t": 1.0, "event": "x", "path": str(tmp_path)}


def test_main__log_format_json_prints_the_runs_events_as_json_lines(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from gwasflow.commands.demo import write_demo

    spec = write_demo(tmp_path / "d", n_samples=300, n_variants=600, seed=5)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    argv = [sys.executable, "-m", "gwasflow", "--log-format", "json", "--log-level", "info", "run", str(spec),
            "--quiet"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env, check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    printed = [json.loads(line) for line in proc.stderr.splitlines()]  # every stderr line is one JSON event
    written = [json.loads(line) for line in (tmp_path / "d" / ".gwasflow" / "events.jsonl")
               .read_text().splitlines()]  # fmt: skip
    assert printed == written
    started = next(e for e in printed if e["event"] == "run_started")
    finished = next(e for e in printed if e["event"] == "run_finished")
    assert started["jobs"] > 3 and finished["state"] == "succeeded" and finished["run_id"] == started["run_id"]
    assert any(e["event"] == "submitted" and {"job", "attempt", "handle"} <= set(e) for e in printed)
