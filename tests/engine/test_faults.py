"""Fault injection: parsing, deterministic draws, and what each fault really does to a process."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gwasflow.core.states import Step
from gwasflow.engine.faults import Fault, FaultConfig, parse
from gwasflow.plan.model import Job, JobKind


def test_parse__reads_rate_seed_kinds_and_rejects_nonsense() -> None:
    assert parse("rate=0.3,seed=11,kinds=crash+kill+hang+truncate") == FaultConfig(
        0.3, 11, ("crash", "kill", "hang", "truncate"))
    for bad in ("rate=2", "kinds=explode", "speed=3", "rate"):
        with pytest.raises(ValueError, match="GWASFLOW_FAULTS"):
            parse(bad)


def test_fault_config_draw__deterministic_and_near_the_rate() -> None:
    cfg = parse("rate=0.3,seed=11")
    draws = [cfg.draw(f"job{i}", a) for i in range(2000) for a in (1, 2)]
    assert draws == [cfg.draw(f"job{i}", a) for i in range(2000) for a in (1, 2)]
    hit = sum(d is not None for d in draws) / len(draws)
    assert 0.27 < hit < 0.33
    assert {d for d in draws if d} == {"crash", "kill", "hang", "truncate"}
    assert draws != [parse("rate=0.3,seed=12").draw(f"job{i}", a) for i in range(2000) for a in (1, 2)]


def _wrapped(kind: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[bytes], Path]:
    out = tmp_path / "out.txt"
    job = Job(id="j", step=Step.STEP2, kind=JobKind.COMMAND, outputs=(str(out),))
    code = f"open({str(out)!r}, 'w').write('line one\\nline two\\nline three\\n')"
    cfg = FaultConfig(1.0, 0, (Fault(kind),))
    argv = cfg.wrap(job, 1, (sys.executable, "-c", code))
    return subprocess.run(argv, capture_output=True, timeout=30, check=False), out


def test_fault_wrapper__crash_exits_3_without_running(tmp_path: Path) -> None:
    proc, out = _wrapped("crash", tmp_path)
    assert proc.returncode == 3 and not out.exists()


def test_fault_wrapper__kill_is_sigkill(tmp_path: Path) -> None:
    proc, _ = _wrapped("kill", tmp_path)
    assert proc.returncode == -signal.SIGKILL


def test_fault_wrapper__truncate_runs_then_cuts_mid_line_and_exits_0(tmp_path: Path) -> None:
    proc, out = _wrapped("truncate", tmp_path)
    assert proc.returncode == 0
    text = out.read_text()
    assert 0 < len(text) < len("line one\nline two\nline three\n") and not text.endswith("\n")


def test_fault_config_wrap__rate_zero_leaves_argv_alone() -> None:
    job = Job(id="j", step=Step.STEP2, kind=JobKind.COMMAND)
    assert FaultConfig(0.0, 1, (Fault.CRASH,)).wrap(job, 1, ("a", "b")) == ("a", "b")
