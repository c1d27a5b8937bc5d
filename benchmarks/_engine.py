"""Shared by the engine benchmarks: run the built-in engine and the real regenie on the same flags, and measure.

Each measured run is a child process: wall seconds, peak RSS (the child's own ``ru_maxrss``) and CPU
seconds (user + system). :func:`paired_round` runs the built-in engine, then the real regenie (when its
binary is found) with the same flags right after it, so both see the same load on a shared machine;
:func:`report_rounds` prints both programs' times, peak memories and the ratios, per round and as the
median over the rounds.

The regenie binary is ``$GWASFLOW_REGENIE_BIN``, else ``shared/regenie-bin/regenie`` in the first folder
above this one that has it (the checkout may be a git worktree one level down).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Measured", "PairedRound", "block_phase", "find_regenie", "paired_round", "report_rounds",
           "run_engine", "run_regenie"]


@dataclass(frozen=True)
class Measured:
    """One child process: wall seconds, peak RSS in KiB and CPU seconds."""

    wall: float
    rss_kib: int
    cpu: float


@dataclass(frozen=True)
class PairedRound:
    ours: Measured
    theirs: Measured | None


def find_regenie() -> Path | None:
    """The real regenie binary, or None when it is not on this machine."""
    named = os.environ.get("GWASFLOW_REGENIE_BIN")
    if named:
        return Path(named) if Path(named).is_file() else None
    for folder in Path(__file__).resolve().parents:
        candidate = folder / "shared" / "regenie-bin" / "regenie"
        if candidate.is_file():
            return candidate
    return None


def _measure(argv: list[str], threads: int, label: str) -> Measured:
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    error = proc.stderr.read().decode() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if status != 0:
        raise SystemExit(f"{label} failed ({status}): {error}")
    return Measured(wall, int(usage.ru_maxrss), usage.ru_utime + usage.ru_stime)


def run_engine(flags: list[str], threads: int) -> tuple[float, int, float]:
    """Run ``python -m gwasflow.regenie FLAGS`` with BLAS pools capped at ``threads``.

    Returns wall seconds, the child's peak RSS in KiB and its CPU seconds (user + system); a failed run
    ends the benchmark with the engine's error.
    """
    run = _measure([sys.executable, "-m", "gwasflow.regenie", *flags], threads, "engine")
    return run.wall, run.rss_kib, run.cpu


def run_regenie(binary: Path, flags: list[str], threads: int) -> Measured:
    """Run the real regenie with ``flags`` (the same BLAS caps as :func:`run_engine`)."""
    return _measure([str(binary), *flags], threads, "regenie")


def paired_round(flags: list[str], out: Path, threads: int, regenie: Path | None) -> PairedRound:
    """The built-in engine with ``flags --out OUT_ours``, then regenie with ``flags --out OUT_regenie``."""
    ours = Measured(*run_engine([*flags, "--out", f"{out}_ours"], threads))
    theirs = run_regenie(regenie, [*flags, "--out", f"{out}_regenie"], threads) if regenie else None
    return PairedRound(ours, theirs)


def block_phase(label: str, flags: list[str], out: Path, threads: int, rounds: list[PairedRound], first_id: str,
                n_variants: int) -> float:
    """The built-in engine's block phase: the median wall time of ``rounds`` less the median of 3 runs testing one
    variant (``--extract`` of ``first_id``: start-up, inputs, numba's first call, the result files); prints it
    with the variants per second it gives, and returns it. Thread counts are compared on this: the start-up
    runs on one core whatever ``--threads`` says."""
    listed = out.with_name(f"{out.name}_first.txt")
    listed.write_text(first_id + "\n")
    fixed = statistics.median(run_engine([*flags, "--extract", str(listed), "--out", f"{out}_first"], threads)[0]
                              for _ in range(3))
    phase = statistics.median(r.ours.wall for r in rounds) - fixed
    print(f"{label} block phase: {phase:.2f} s ({n_variants / phase:,.0f} variants/s; start-up and one variant "
          f"{fixed:.2f} s)", flush=True)
    return phase


def _line(label: str, run: PairedRound) -> str:
    text = f"{label}: built-in {run.ours.wall:.2f} s (cpu {run.ours.cpu:.2f} s), {run.ours.rss_kib / 1024:.0f} MiB"
    if run.theirs is not None:
        text += (f"; regenie {run.theirs.wall:.2f} s (cpu {run.theirs.cpu:.2f} s), "
                 f"{run.theirs.rss_kib / 1024:.0f} MiB; built-in speed {run.theirs.wall / run.ours.wall:.2f}x "
                 f"regenie's, memory {run.ours.rss_kib / run.theirs.rss_kib:.2f}x")
    return text


def report_rounds(label: str, rounds: list[PairedRound]) -> None:
    """Print each round, then the medians (wall, peak RSS and the ratios) over the rounds."""
    for number, run in enumerate(rounds, start=1):
        print(_line(f"{label} round {number}", run), flush=True)
    if len(rounds) < 2:
        return
    med = statistics.median
    text = (f"{label} median of {len(rounds)}: built-in {med(r.ours.wall for r in rounds):.2f} s, "
            f"{med(r.ours.rss_kib for r in rounds) / 1024:.0f} MiB")
    paired = [r for r in rounds if r.theirs is not None]
    if paired:
        text += (f"; regenie {med(r.theirs.wall for r in paired if r.theirs):.2f} s, "
                 f"{med(r.theirs.rss_kib for r in paired if r.theirs) / 1024:.0f} MiB; built-in speed "
                 f"{med(r.theirs.wall / r.ours.wall for r in paired if r.theirs):.2f}x regenie's, memory "
                 f"{med(r.ours.rss_kib / r.theirs.rss_kib for r in paired if r.theirs):.2f}x; CPU time "
                 f"{med(r.theirs.cpu / r.ours.cpu for r in paired if r.theirs):.2f}x less (the measure a loaded "
                 "machine disturbs least)")
    print(text, flush=True)
