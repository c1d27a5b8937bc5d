"""sbatch failing: typed at the executor boundary (for good or may pass), and arrays already submitted kept.

The Slurm client commands are faked at the process boundary; the refusal texts are sbatch's own, captured from a
real Slurm 22.05 in ``captured/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gwasflow.core.states import ExecState
from gwasflow.errors import SubmitError
from gwasflow.executors import slurm as slurm_module
from gwasflow.executors.base import Submission
from gwasflow.executors.slurm import SlurmExecutor
from gwasflow.executors.slurm_parse import sbatch_refused_for_good
from gwasflow.plan.model import Resources

from .test_slurm import slurm_conf_or_skip

CAPTURED = Path(__file__).parent / "captured"


@pytest.mark.parametrize(
    ("stderr", "for_good"),
    [
        ((CAPTURED / "sbatch_mem_unsatisfiable.txt").read_text(), True),
        ((CAPTURED / "sbatch_array_too_big.txt").read_text(), True),
        ("sbatch: error: invalid partition specified: nope\n"
         "sbatch: error: Batch job submission failed: Invalid partition name specified\n", True),
        ("sbatch: error: Invalid --time specification\n", True),
        ("sbatch: error: Batch job submission failed: Socket timed out on send/recv operation\n", False),
        ("sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)\n", False),
        ("sbatch: error: Batch job submission failed: Job violates accounting/QOS policy (job submit limit, user's "
         "size and/or time limits)\n", False),
        # the words alone, not in sbatch's own error line (e.g. in a job name echoed back), are no refusal
        ("note: invalid partition specified\n", False),
        ("", False),
    ],
)
def test_sbatch_refused_for_good__reads_sbatch_error_lines(stderr: str, for_good: bool) -> None:
    assert sbatch_refused_for_good(stderr) is for_good


class _Sbatch:
    """Fake client commands: sbatch answers job ids, except call number ``fail_on`` which fails with ``stderr``."""

    def __init__(self, fail_on: int, stderr: str) -> None:
        self.fail_on, self.stderr = fail_on, stderr
        self.sbatch_calls = 0

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        if argv[0] != "sbatch":
            return subprocess.CompletedProcess(argv, 0, "", "")
        self.sbatch_calls += 1
        if self.sbatch_calls == self.fail_on:
            return subprocess.CompletedProcess(argv, 1, "", self.stderr)
        return subprocess.CompletedProcess(argv, 0, f"{200 + self.sbatch_calls}\n", "")


def _subs(tmp_path: Path) -> list[Submission]:
    small, big = Resources(1, 1000, 60), Resources(1, 8000, 60)
    return [Submission(f"j{i}", 1, ("true",), tmp_path / f"j{i}.log", res)
            for i, res in enumerate([small, small, big, big])]


def test_submit_batch__second_array_refused_carries_the_first_arrays_handles(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = _Sbatch(2, (CAPTURED / "sbatch_mem_unsatisfiable.txt").read_text())
    monkeypatch.setattr(slurm_module.subprocess, "run", fake)
    ex = SlurmExecutor(spool_dir=str(tmp_path / "spool"), max_array_size=10)
    with pytest.raises(SubmitError) as info:
        ex.submit_batch(_subs(tmp_path))
    assert info.value.permanent
    assert info.value.submitted == {0: "201_0", 1: "201_1"}  # the first array went in: its tasks are tracked
    assert "Memory specification can not be satisfied" in str(info.value) and "\n" not in str(info.value)
    assert set(ex.poll(["201_0", "201_1"])) == {"201_0", "201_1"}
    arrays = [p for p in (tmp_path / "spool").iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(arrays) == 1  # the refused array's folder was removed


def test_submit_batch__controller_timeout_may_pass(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = _Sbatch(1, "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation\n")
    monkeypatch.setattr(slurm_module.subprocess, "run", fake)
    ex = SlurmExecutor(spool_dir=str(tmp_path / "spool"), max_array_size=10)
    with pytest.raises(SubmitError) as info:
        ex.submit_batch(_subs(tmp_path))
    assert not info.value.permanent and info.value.submitted == {}
    assert ex.submit_batch(_subs(tmp_path)) == ["202_0", "202_1", "203_0", "203_1"]  # the next try goes through


def test_poll__status_query_that_times_out_keeps_the_last_known_statuses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(slurm_module.subprocess, "run", _Sbatch(0, ""))
    ex = SlurmExecutor(spool_dir=str(tmp_path / "spool"), max_array_size=10, poll_min_s=0.01, poll_max_s=0.01)
    handles = ex.submit_batch(_subs(tmp_path)[:2])

    def timeout(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        raise subprocess.TimeoutExpired(argv, 1.0)

    monkeypatch.setattr(slurm_module.subprocess, "run", timeout)
    time.sleep(0.05)  # past poll_min_s: this poll queries Slurm
    statuses = ex.poll(handles)  # no SubmitError out of poll: the query is simply tried again later
    assert [s.reason for s in statuses.values()] == ["submitted", "submitted"]


def test_submit_batch__sbatch_answer_lost_to_a_timeout_finds_the_job_instead_of_submitting_twice(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A real sbatch whose answer never comes back (the fake sleeps past command_timeout_s): squeue finds the job."""
    slurm_conf = slurm_conf_or_skip()
    real = shutil.which("sbatch")
    assert real is not None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(f"#!/bin/sh\n'{real}' \"$@\" > /dev/null\nexec sleep 30\n")
    (bin_dir / "sbatch").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    ex = SlurmExecutor(slurm_conf=slurm_conf, spool_dir=str(tmp_path / "spool"), command_timeout_s=3,
                       poll_min_s=0.2, poll_max_s=0.5)  # fmt: skip
    subs = [Submission(f"j{i}", 1, (sys.executable, "-c", "pass"), tmp_path / f"j{i}.log", Resources(1, 100, 60),
                       cwd=tmp_path) for i in range(2)]  # fmt: skip
    handles = ex.submit_batch(subs)
    job_id = handles[0].split("_")[0]
    assert handles == [f"{job_id}_0", f"{job_id}_1"]
    deadline = time.monotonic() + 120
    while not all(s.state is ExecState.SUCCEEDED for s in ex.poll(handles).values()):
        assert time.monotonic() < deadline, ex.poll(handles)
        time.sleep(0.2)
    folders = [p for p in (tmp_path / "spool").iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(folders) == 1  # one array submitted, not two
    ex.close()
