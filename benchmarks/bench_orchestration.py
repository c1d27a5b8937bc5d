"""Orchestration overhead per job: submit + poll + record, through the real driver and a SQLite store.

Runs N trivial jobs (``true``) as one run on the local executor and on Slurm, and prints per job:

* ``driver CPU``: CPU time of the orchestrating process itself (scheduler, store writes, executor calls);
  the jobs' own CPU is not in it. This is the overhead figure (target: <= 20 ms/job for local).
* ``wall``: elapsed time of the whole run divided by N (bounded below by how fast the backend runs jobs).
* the time spent inside ``submit_batch`` and ``poll`` and the number of calls of each.

    python benchmarks/bench_orchestration.py [--jobs 1000] [--executors local,slurm] [--max-parallel 2]

Slurm is started with ``scripts/slurm-up.sh`` (needs root the first time).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gwasflow.core.rundir import RunDir
from gwasflow.core.states import Step
from gwasflow.engine.driver import Driver
from gwasflow.executors.base import Executor
from gwasflow.executors.registry import make_executor
from gwasflow.plan.model import Job, JobGraph, JobKind, Resources
from gwasflow.store import SQLiteStore

REPO = Path(__file__).resolve().parents[1]


def trivial_graph(n_jobs: int) -> JobGraph:
    """``n_jobs`` independent ``true`` commands with equal resources (one Slurm array)."""
    res = Resources(cpus=1, memory_mb=100, time_s=300)
    return JobGraph([Job(f"step2-{i:06d}", Step.STEP2, JobKind.COMMAND, argv=("true",), resources=res)
                     for i in range(n_jobs)])  # fmt: skip


class Timed:
    """Wraps an executor's ``submit_batch`` and ``poll`` to count calls and time spent in them."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.seconds: dict[str, float] = {"submit_batch": 0.0, "poll": 0.0}
        self.calls: dict[str, int] = {"submit_batch": 0, "poll": 0}
        for name in self.seconds:
            setattr(executor, name, self._wrap(name, getattr(executor, name)))

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - t0
                self.calls[name] += 1

        return timed


def bench(kind: str, n_jobs: int, max_parallel: int, settings: dict[str, Any], root: Path) -> dict[str, Any]:
    rundir = RunDir(root / kind)
    rundir.create()
    workspace = root / f"work-{kind}"
    workspace.mkdir()
    graph = trivial_graph(n_jobs)
    store = SQLiteStore(rundir.store_path)
    run_id = f"bench-{kind}"
    store.create_run(run_id, "bench", "{}", json.dumps(graph.to_dict()))
    store.add_jobs(run_id, [(job.id, job.step.value) for job in graph])
    executor = make_executor(kind, max_parallel=max_parallel, **settings)
    timed = Timed(executor)
    driver = Driver(run_id=run_id, graph=graph, store=store, executor=executor, rundir=rundir, workspace=workspace,
                    poll_interval_s=0.05)  # fmt: skip
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        outcome = driver.run()
    finally:
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        executor.close()
        store.close()
    return {"kind": kind, "state": outcome.state.value, "message": outcome.message, "cpu": cpu, "wall": wall,
            "seconds": timed.seconds, "calls": timed.calls}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--executors", default="local,slurm")
    parser.add_argument("--max-parallel", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gwasflow-bench-") as tmp:
        root = Path(tmp)
        for kind in args.executors.split(","):
            settings: dict[str, Any] = {}
            if kind == "slurm":
                up = subprocess.run(["bash", str(REPO / "scripts" / "slurm-up.sh")], capture_output=True, text=True,
                                    check=True)  # fmt: skip
                settings = {"slurm_conf": up.stdout.strip().splitlines()[-1], "spool_dir": str(root / "spool"),
                            "poll_min_s": 0.2, "poll_max_s": 2.0}  # fmt: skip
            r = bench(kind, args.jobs, args.max_parallel, settings, root)
            n = args.jobs
            print(f"{kind:6s} {n} jobs, max_parallel {args.max_parallel}: {r['state']} ({r['message']})")
            print(f"  driver CPU {1000 * r['cpu'] / n:7.2f} ms/job   wall {1000 * r['wall'] / n:7.2f} ms/job "
                  f"({r['wall']:.1f} s)")  # fmt: skip
            for name in ("submit_batch", "poll"):
                print(f"  in {name:12s} {1000 * r['seconds'][name] / n:7.2f} ms/job over {r['calls'][name]} calls")


if __name__ == "__main__":
    main()
