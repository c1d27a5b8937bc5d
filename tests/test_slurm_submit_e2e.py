"""``gwasflow run`` on the real one-node Slurm while sbatch fails: survived, or a clean FAILED end.

A fake ``sbatch`` (a small script first on ``PATH``) fails a given number of times with an error sbatch really
prints, then hands its arguments to the real one. The last test stops the real slurmctld for 20 s mid-run (and
always starts it again). Slurm is brought up as in ``tests/executors/test_slurm.py``.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from gwasflow.commands.demo import write_demo
from gwasflow.core.states import JobState, RunState
from gwasflow.store import SQLiteStore

from .executors.test_slurm import slurm_conf_or_skip

_TRANSIENT = "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation"
_REFUSED = "sbatch: error: invalid partition specified: gpu\nsbatch: error: Batch job submission failed: " \
           "Invalid partition name specified"


def _fake_sbatch(folder: Path, failures: int, message: str) -> Path:
    """A ``bin`` folder whose ``sbatch`` fails ``failures`` times (counted in ``calls``), then runs the real one."""
    real = shutil.which("sbatch")
    assert real is not None, "sbatch is not installed"
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True)
    script = bin_dir / "sbatch"
    script.write_text(
        "#!/bin/sh\n"
        f"echo call >> '{folder / 'calls'}'\n"
        f"n=$(wc -l < '{folder / 'calls'}')\n"
        f"if [ \"$n\" -le {failures} ]; then\n"
        f"  printf '%s\\n' '{message}' >&2\n"
        "  exit 1\n"
        "fi\n"
        f"exec '{real}' \"$@\"\n"
    )
    script.chmod(0o755)
    return bin_dir


def _spec(tmp_path: Path, name: str, slurm_conf: str) -> Path:
    spec = write_demo(tmp_path / name, n_samples=400, n_variants=2000)
    data = yaml.safe_load(spec.read_text())
    data["executor"] = {
        "kind": "slurm", "max_parallel": 4, "poll_interval_s": 0.1,
        "settings": {"slurm_conf": slurm_conf, "spool_dir": str(tmp_path / name / "spool"), "poll_min_s": 0.2,
                     "poll_max_s": 2.0},
    }  # fmt: skip
    data["retry"] = {"max_attempts": 1, "submit_attempts": 5, "submit_backoff_s": 0.5}
    spec.write_text(yaml.safe_dump(data))
    return spec


def _run(spec: Path, bin_dir: Path | None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if bin_dir is not None:
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run([sys.executable, "-m", "gwasflow", "run", str(spec), "--quiet"], cwd=spec.parent, env=env,
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip


def _outdir(spec: Path) -> Path:
    return spec.parent / str(yaml.safe_load(spec.read_text())["outdir"])


def _attempt_errors(spec: Path) -> tuple[RunState, list[tuple[str, str, str | None]]]:
    store = SQLiteStore(_outdir(spec) / ".gwasflow" / "gwasflow.sqlite")
    try:
        (run,) = store.list_runs()
        return run.state, [(a.job_id, a.state, a.error_type) for a in store.list_attempts(run.run_id)]
    finally:
        store.close()


def _calls(folder: Path) -> int:
    path = folder / "calls"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_run__sbatch_failing_three_times_then_working_gives_the_clean_runs_results(tmp_path: Path) -> None:
    slurm_conf = slurm_conf_or_skip()
    clean, flaky = _spec(tmp_path, "clean", slurm_conf), _spec(tmp_path, "flaky", slurm_conf)
    bin_dir = _fake_sbatch(tmp_path / "flaky", 3, _TRANSIENT)
    for spec, path in ((clean, None), (flaky, bin_dir)):
        proc = _run(spec, path)
        assert proc.returncode == 0, f"{spec.parent.name}: {proc.stdout}{proc.stderr}"
    assert _calls(tmp_path / "flaky") > 3  # the three failures, then the real submissions
    state, attempts = _attempt_errors(flaky)
    assert state is RunState.SUCCEEDED
    assert [e for _, _, e in attempts].count("submit_failed") == 3
    ran = [(job, s) for job, s, e in attempts if e is None]
    assert len(ran) == len({job for job, _ in ran})  # no job ran twice
    results = sorted((_outdir(clean) / "results").glob("*.regenie.gz"))
    assert [p.name for p in results] == ["Y1.regenie.gz", "Y2.regenie.gz"]
    for path in results:
        twin = _outdir(flaky) / "results" / path.name
        assert gzip.decompress(twin.read_bytes()) == gzip.decompress(path.read_bytes()), path.name
    events = (_outdir(flaky) / ".gwasflow" / "events.jsonl").read_text().splitlines()
    assert sum(json.loads(line)["event"] == "submit_failed" for line in events) == 3


def test_run__sbatch_always_failing_ends_failed_with_sentinel_and_one_line_reason(tmp_path: Path) -> None:
    slurm_conf = slurm_conf_or_skip()
    spec = _spec(tmp_path, "down", slurm_conf)
    proc = _run(spec, _fake_sbatch(tmp_path / "down", 10**6, _TRANSIENT))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert _calls(tmp_path / "down") == 5  # submit_attempts, then the run stops
    state, attempts = _attempt_errors(spec)
    assert state is RunState.FAILED
    assert [e for _, _, e in attempts] == ["submit_failed"] * 5
    sentinel = _outdir(spec) / ".gwasflow" / "FAILED"
    text = sentinel.read_text().strip()
    assert "Socket timed out" in text and "submit_failed" in text and len(text.splitlines()) == 1


def test_run__sbatch_refusing_for_good_ends_failed_at_once(tmp_path: Path) -> None:
    slurm_conf = slurm_conf_or_skip()
    spec = _spec(tmp_path, "refused", slurm_conf)
    t0 = time.monotonic()
    proc = _run(spec, _fake_sbatch(tmp_path / "refused", 10**6, _REFUSED))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert time.monotonic() - t0 < 60
    assert "Traceback" not in proc.stderr + proc.stdout
    assert _calls(tmp_path / "refused") == 1  # never tried again
    state, attempts = _attempt_errors(spec)
    assert state is RunState.FAILED and [e for _, _, e in attempts] == ["submit_refused"]
    assert "Invalid partition name specified" in (_outdir(spec) / ".gwasflow" / "FAILED").read_text()
    store = SQLiteStore(_outdir(spec) / ".gwasflow" / "gwasflow.sqlite")
    try:
        (run,) = store.list_runs()
        states = {j.state for j in store.list_jobs(run.run_id)}
    finally:
        store.close()
    assert JobState.RUNNING not in states and JobState.QUEUED not in states


def _controller_pid(slurm_conf: str) -> int:
    """slurmctld's pid, from the pid file ``scripts/slurm-up.sh`` gives it (``<state>/run/slurmctld.pid``)."""
    pid = int((Path(slurm_conf).parent.parent / "run" / "slurmctld.pid").read_text().split()[0])
    assert Path(f"/proc/{pid}/comm").read_text().strip() == "slurmctld"
    return pid


def _start_controller(slurm_conf: str) -> None:
    """Start slurmctld again as ``scripts/slurm-up.sh`` does (its saved state keeps the jobs), wait for its ping."""
    env = os.environ | {"SLURM_CONF": slurm_conf}
    subprocess.run(["slurmctld"], env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=True)
    deadline = time.monotonic() + 60
    while subprocess.run(["scontrol", "ping"], env=env, capture_output=True, check=False).returncode != 0:
        assert time.monotonic() < deadline, "slurmctld did not answer after its restart"
        time.sleep(0.5)


def test_run__slurm_controller_down_at_submission_and_for_20_s_mid_run_gives_the_local_runs_results(
        tmp_path: Path) -> None:  # fmt: skip
    """Two real slurmctld outages, each placed by an event of the run (not by the clock); it ends as a clean one.

    1. The controller is stopped before the run starts: step 1's sbatch fails (after sbatch's own retries), the
       driver records ``submit_failed`` and tries again after its back-off; the controller is started again.
    2. Once step 1 is in Slurm's hands (the driver's ``submitted`` event), the controller is stopped for 20 s
       while the job runs: the status queries cannot see it finish, the last known states stand, and the run
       goes on when the controller is back. The run must still be going at that moment (the outage was mid-run).
    """
    slurm_conf = slurm_conf_or_skip()
    spec = _spec(tmp_path, "outage", slurm_conf)
    data = yaml.safe_load(spec.read_text())
    data["retry"] = {"max_attempts": 1, "submit_attempts": 8, "submit_backoff_s": 2.0}
    spec.write_text(yaml.safe_dump(data))
    local = spec.with_name("spec-local.yaml")
    local.write_text(yaml.safe_dump(data | {"executor": {"kind": "local"}, "outdir": "out-local",
                                            "workdir": "work-local"}))
    events = _outdir(spec) / ".gwasflow" / "events.jsonl"
    _stop_controller(slurm_conf)
    proc = subprocess.Popen([sys.executable, "-m", "gwasflow", "run", str(spec), "--quiet"], cwd=spec.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for(proc, lambda: _event(events, "submit_failed", "step1"), "step 1's sbatch never failed")
        _start_controller(slurm_conf)
        _wait_for(proc, lambda: _event(events, "submitted", "step1"), "step 1 was never submitted")
        _stop_controller(slurm_conf)
        time.sleep(20)
        assert proc.poll() is None, "the run ended while the controller was down"
    except BaseException:
        proc.kill()
        proc.communicate()  # closes the pipe, so a failure here reports itself and leaves no open file
        raise
    finally:
        if subprocess.run(["scontrol", "ping"], env=os.environ | {"SLURM_CONF": slurm_conf}, capture_output=True,
                          check=False).returncode != 0:  # fmt: skip
            _start_controller(slurm_conf)
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output
    clean = _run(local, None)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    results = sorted((spec.parent / "out-local" / "results").glob("*.regenie.gz"))
    assert [p.name for p in results] == ["Y1.regenie.gz", "Y2.regenie.gz"]
    for path in results:
        twin = _outdir(spec) / "results" / path.name
        assert gzip.decompress(twin.read_bytes()) == gzip.decompress(path.read_bytes()), path.name
    state, attempts = _attempt_errors(spec)
    ran = [job for job, _, error in attempts if error is None]
    assert state is RunState.SUCCEEDED and len(ran) == len(set(ran))  # nothing ran twice
    assert ("step1", "failed", "submit_failed") in attempts  # the first outage was met by a submission


def _stop_controller(slurm_conf: str) -> None:
    """SIGTERM slurmctld and wait until its process is gone (it saves its state for the restart)."""
    pid = _controller_pid(slurm_conf)
    os.kill(pid, 15)
    deadline = time.monotonic() + 60
    while Path(f"/proc/{pid}").exists():
        assert time.monotonic() < deadline, "slurmctld did not stop"
        time.sleep(0.1)


def _wait_for(proc: subprocess.Popen[str], done: Callable[[], bool], why: str) -> None:
    deadline = time.monotonic() + 120
    while not done():
        assert proc.poll() is None and time.monotonic() < deadline, why
        time.sleep(0.01)


def _event(events: Path, name: str, job: str) -> bool:
    """Whether the run's event log has an event of this name for this job."""
    if not events.exists():
        return False
    lines = events.read_text().splitlines()
    return any(f'"{name}"' in line and json.loads(line).get("event") == name and json.loads(line).get("job") == job
               for line in lines if line.endswith("}"))  # fmt: skip
