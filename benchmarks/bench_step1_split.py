"""Step 1 split across jobs (``step1.level0_jobs: N``) against one step 1 job, through the planner and the driver.

Simulates a cohort with ``bench_step2.simulate`` (default 10,000 samples x 50,000 variants x 4 quantitative
traits, ``--bsize 1000``: 50 blocks), plans step 1 with ``build_graph`` twice (``level0_jobs: 1`` and
``level0_jobs: N``), keeps the step 1 jobs only, and runs each graph through the real driver, SQLite store and
local executor with ``--workers`` slots (default 2). Each job runs the built-in engine with ``--threads 1``
(engine.threads), so the single job uses one core and the split graph up to ``--workers``. Rounds are paired
(single, then split, alternating which goes first); the LOCO files of the two runs are checked to be equal
byte for byte in every round. Prints each round's wall times, the CPU time of the jobs and the load average
(other work on the machine leaves the split jobs fewer free cores), then the medians and the ratio split / single.

    python benchmarks/bench_step1_split.py                                  # 10,000 x 50,000 x 4, N=4, 3 rounds
    python benchmarks/bench_step1_split.py --keep /tmp/s1split --rounds 1   # simulate once, reuse it
    python benchmarks/bench_step1_split.py --samples 2000 --variants 10000  # quick check

The machine's other load moves these figures (about 20% noise): compare the paired ratio, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gwasflow.core.rundir import RunDir
from gwasflow.core.states import Step
from gwasflow.engine.driver import Driver
from gwasflow.executors.registry import make_executor
from gwasflow.plan.build import build_graph
from gwasflow.plan.meta import read_dataset_meta
from gwasflow.plan.model import JobGraph
from gwasflow.spec.model import RunSpec
from gwasflow.store import SQLiteStore


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--variants", type=int, default=50_000)
    parser.add_argument("--phenotypes", type=int, default=4)
    parser.add_argument("--bsize", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=4, help="step1.level0_jobs of the split run")
    parser.add_argument("--workers", type=int, default=2, help="local executor slots (max_parallel)")
    parser.add_argument("--rounds", type=int, default=3, help="paired rounds (median printed)")
    parser.add_argument("--seed", type=int, default=2021)
    parser.add_argument("--keep", type=Path, default=None, help="simulate into this folder (reused if present)")
    return parser.parse_args(argv)


def _spec(data: Path, work: Path, args: argparse.Namespace, level0_jobs: int) -> RunSpec:
    return RunSpec.model_validate({
        "name": "bench",
        "datasets": [{"bed": str(data / "cohort"), "label": "cohort"}],
        "phenotypes": {"file": str(data / "pheno.txt"), "columns": [f"Y{j + 1}" for j in range(args.phenotypes)]},
        "covariates": {"file": str(data / "covar.txt"), "columns": ["C1", "C2", "C3"]},
        "step1": {"bsize": args.bsize, "level0_jobs": level0_jobs,
                  "resources": {"cpus": 1, "memory_mb": 8000, "time_s": 7200}},
        "engine": {"kind": "builtin", "threads": 1},
        "executor": {"kind": "local", "max_parallel": args.workers},
        "workdir": str(work),
        "outdir": str(work / "out"),
    })


def _step1_graph(spec: RunSpec, data: Path) -> JobGraph:
    meta = read_dataset_meta("cohort", str(data / "cohort"))
    return JobGraph([job for job in build_graph(spec, [meta]) if job.step is Step.STEP1])


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_graph(graph: JobGraph, root: Path, workers: int) -> tuple[float, float]:
    """Drive ``graph`` on the local executor with ``workers`` slots; wall seconds of the run, CPU seconds of its
    jobs (the local executor's child processes)."""
    rundir = RunDir(root / "run")
    rundir.create()
    store = SQLiteStore(rundir.store_path)
    store.create_run("bench", "bench", "{}", json.dumps(graph.to_dict()))
    store.add_jobs("bench", [(job.id, job.step.value) for job in graph])
    executor = make_executor("local", max_parallel=workers)
    driver = Driver(run_id="bench", graph=graph, store=store, executor=executor, rundir=rundir, workspace=root,
                    keep_workspace=True, poll_interval_s=0.1)
    start, cpu0 = time.perf_counter(), _children_cpu()
    try:
        outcome = driver.run()
    finally:
        wall, cpu = time.perf_counter() - start, _children_cpu() - cpu0
        executor.close()
        store.close()
    if outcome.state.value != "succeeded":
        raise SystemExit(f"run failed: {outcome.message} (logs under {rundir})")
    return wall, cpu


def _one(data: Path, root: Path, args: argparse.Namespace, level0_jobs: int,
         label: str) -> tuple[float, float, list[bytes]]:
    work = root / label
    work.mkdir(parents=True)
    spec = _spec(data, work, args, level0_jobs)
    graph = _step1_graph(spec, data)
    wall, cpu = run_graph(graph, work, args.workers)
    locos = [(work / "step1" / f"bench_{k}.loco").read_bytes() for k in range(1, args.phenotypes + 1)]
    return wall, cpu, locos


def _simulate(folder: Path, args: argparse.Namespace) -> None:
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from bench_step2 import simulate; from pathlib import Path; "
            "simulate(Path(sys.argv[2]), *map(int, sys.argv[3:]))")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), str(folder), str(args.samples),
                    str(args.variants), str(args.phenotypes), str(args.seed)], check=True)
    print(f"simulated {args.samples} samples x {args.variants} variants x {args.phenotypes} phenotypes in "
          f"{time.perf_counter() - start:.1f} s ({folder})")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    context = tempfile.TemporaryDirectory(prefix="bench_step1_split_") if args.keep is None else None
    data = Path(context.name) if context is not None else args.keep
    data.mkdir(parents=True, exist_ok=True)
    try:
        if not (data / "cohort.bed").is_file():
            _simulate(data, args)
        singles, splits = [], []
        for r in range(args.rounds):
            with tempfile.TemporaryDirectory(prefix="round_", dir=data) as scratch:
                order = [(1, "single"), (args.jobs, "split")]
                results = {label: _one(data, Path(scratch), args, jobs, label)
                           for jobs, label in (order if r % 2 == 0 else order[::-1])}
            if results["single"][2] != results["split"][2]:
                raise SystemExit("the split run's LOCO files differ from the single job's")
            singles.append(results["single"][0])
            splits.append(results["split"][0])
            print(f"round {r + 1}: single job {singles[-1]:.1f} s (jobs' CPU {results['single'][1]:.1f} s)   "
                  f"level0_jobs={args.jobs} on {args.workers} workers {splits[-1]:.1f} s (jobs' CPU "
                  f"{results['split'][1]:.1f} s)   ratio {splits[-1] / singles[-1]:.2f}   LOCO files identical   "
                  f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
        single, split = statistics.median(singles), statistics.median(splits)
        print(f"step 1, {args.samples} x {args.variants} x {args.phenotypes}, --bsize {args.bsize}: "
              f"single job median {single:.1f} s, level0_jobs={args.jobs} on {args.workers} local workers median "
              f"{split:.1f} s, ratio {split / single:.2f} (median of per-round ratios "
              f"{statistics.median(s / t for s, t in zip(splits, singles, strict=True)):.2f}, n={args.rounds})")
    finally:
        if context is not None:
            context.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
