"""Shared by the engine benchmarks: run the built-in engine in a child process and measure it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

__all__ = ["run_engine"]


def run_engine(flags: list[str], threads: int) -> tuple[float, int, float]:
    """Run ``python -m gwasflow.regenie FLAGS`` with BLAS pools capped at ``threads``.

    Returns wall seconds, the child's peak RSS in KiB and its CPU seconds (user + system); a failed run
    ends the benchmark with the engine's error.
    """
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "gwasflow.regenie", *flags], stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"engine failed ({status}): {proc.stderr.read().decode() if proc.stderr else ''}")
    return wall, int(usage.ru_maxrss), usage.ru_utime + usage.ru_stime
