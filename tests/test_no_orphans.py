"""Ctrl-C at random moments around job starts: no process of the run outlives ``gwasflow run``.

Twenty runs of a small demo on the local executor, each interrupted (SIGINT) a seeded random time after its
k-th job was submitted (k random too), which is when the driver hands batches to the executor and the executor
starts queued processes. After the driver has exited, no process whose command line names the test's folder may
be left.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from gwasflow.commands.demo import write_demo

_RUNS = 20


def _processes_naming(folder: Path) -> dict[int, str]:
    """Live processes (not zombies) whose command line contains ``folder``, with that command line."""
    found: dict[int, str] = {}
    needle = str(folder)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            zombie = "\nState:\tZ" in (entry / "status").read_text()
        except OSError:
            continue
        if needle in cmdline and not zombie:
            found[int(entry.name)] = cmdline
    return found


def _submitted(events: Path) -> int:
    try:
        return events.read_text().count('"event": "submitted"')
    except OSError:
        return 0


def _spec(demo: Path, i: int) -> Path:
    data = yaml.safe_load((demo / "spec.yaml").read_text())
    data.update(outdir=f"out-{i}", workdir=f"work-{i}", executor={"kind": "local", "max_parallel": 2,
                                                                   "poll_interval_s": 0.05})
    path = demo / f"spec-{i}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_run__sigint_around_job_starts_leaves_no_process_behind(tmp_path: Path) -> None:
    spec = write_demo(tmp_path / "demo", n_samples=300, n_variants=1200, seed=3)
    assert spec == tmp_path / "demo" / "spec.yaml"
    rng = random.Random(15)
    interrupted = 0
    for i in range(_RUNS):
        path = _spec(spec.parent, i)
        events = spec.parent / f"out-{i}" / ".gwasflow" / "events.jsonl"
        wanted, delay = rng.randint(1, 10), rng.uniform(0.0, 0.25)
        proc = subprocess.Popen([sys.executable, "-m", "gwasflow", "run", str(path), "--quiet"], cwd=spec.parent,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while _submitted(events) < wanted and proc.poll() is None:
            assert time.monotonic() < deadline, f"run {i}: {wanted} submissions never came"
            time.sleep(0.01)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            interrupted += 1
        proc.wait(timeout=120)
        left = _processes_naming(tmp_path)
        settle = time.monotonic() + 3  # a process killed a moment ago may still be on its way out
        while left and time.monotonic() < settle:
            time.sleep(0.05)
            left = _processes_naming(tmp_path)
        assert not left, f"run {i} (after submission {wanted} + {delay:.3f} s): left running: {left}"
    assert interrupted >= _RUNS // 2  # most runs were cut while jobs were starting, not after they ended
