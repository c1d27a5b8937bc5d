"""Time the run report on large merged results.

Writes synthetic merged ``<pheno>.regenie.gz`` files (default 1,000,000
variants over 22 chromosomes, 2 phenotypes, a few planted peaks), then times,
separately and in total: ``summarize_results`` on each file, the Manhattan and
QQ plots, and ``write_report`` (which summarizes and plots again, as the
driver's report job does when it is not handed the summaries). Target: the
summary + plots + HTML path under 20 s for 1,000,000 variants x 2 phenotypes.

    python benchmarks/bench_report.py [--variants 1000000] [--phenotypes 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import special

from gwasflow.core.rundir import RunDir
from gwasflow.core.states import JobState, RunState, Step
from gwasflow.plan.model import Job, JobGraph, JobKind
from gwasflow.report.html import write_report
from gwasflow.report.plots import manhattan_png, qq_png
from gwasflow.report.summary import summarize_results
from gwasflow.store import MemoryStore

HEADER = "CHROM GENPOS ID ALLELE0 ALLELE1 A1FREQ N TEST BETA SE CHISQ LOG10P EXTRA\n"


def write_synthetic(path: Path, n_variants: int, *, seed: int, n_peaks: int = 8) -> None:
    """A regenie-like merged result file: null chi-squares plus ``n_peaks`` peaks with LD-like decay."""
    rng = np.random.default_rng(seed)
    chrom = np.sort(rng.integers(1, 23, size=n_variants))
    pos = np.empty(n_variants, dtype=np.int64)
    for c in range(1, 23):
        mask = chrom == c
        pos[mask] = np.sort(rng.choice(250_000_000 - 10 * c * 1_000_000, size=int(mask.sum()), replace=False)) + 1
    chisq = rng.chisquare(1, size=n_variants)
    for peak in rng.choice(n_variants, size=n_peaks, replace=False):
        lo, hi = max(0, peak - 200), min(n_variants, peak + 200)
        dist = np.abs(pos[lo:hi] - pos[peak]).astype(np.float64)
        same = chrom[lo:hi] == chrom[peak]
        chisq[lo:hi] += np.where(same, rng.uniform(40, 120) * np.exp(-dist / 60_000.0), 0.0)
    log10p = -(np.log(2.0) + special.log_ndtr(-np.sqrt(chisq))) / np.log(10.0)
    freq = rng.uniform(0.01, 0.5, size=n_variants)
    se = 0.05 / np.sqrt(freq)
    beta = np.sqrt(chisq) * se * rng.choice([-1.0, 1.0], size=n_variants)
    with gzip.open(path, "wt", compresslevel=1) as handle:
        handle.write(HEADER)
        step = 100_000
        for start in range(0, n_variants, step):
            s = slice(start, start + step)
            handle.writelines(
                f"{c} {p} rs{c}_{p} A G {f:.6g} 10000 ADD {b:.6g} {e:.6g} {x:.6g} {lp:.6g} NA\n"
                for c, p, f, b, e, x, lp in zip(
                    chrom[s].tolist(), pos[s].tolist(), freq[s].tolist(), beta[s].tolist(),
                    se[s].tolist(), chisq[s].tolist(), log10p[s].tolist(), strict=True,
                )
            )  # fmt: skip


def _store_and_graph(rundir: RunDir, phenotypes: list[str]) -> tuple[MemoryStore, JobGraph, str]:
    jobs = [
        Job(
            id=f"merge-{p}",
            step=Step.MERGE,
            kind=JobKind.INTERNAL,
            action="merge",
            outputs=(str(rundir.results_dir / f"{p}.regenie.gz"),),
            meta={"phenotype": p},
        )
        for p in phenotypes
    ]
    graph = JobGraph(jobs)
    store = MemoryStore()
    run_id = "bench"
    spec = {"name": "bench", "engine": {"kind": "builtin", "version": None}}
    store.create_run(run_id, "bench", json.dumps(spec), json.dumps(graph.to_dict()))
    store.add_jobs(run_id, [(j.id, j.step.value) for j in jobs])
    now = time.time()
    for job in jobs:
        n = store.new_attempt(run_id, job.id, executor="driver", log_path="", resources_json="{}")
        store.mark_attempt_running(run_id, job.id, n, now)
        store.finish_attempt(
            run_id, job.id, n, state="succeeded", exit_code=0, signal=None, error_type=None,
            reason="", log_tail="", ended_at=now + 1.0,
        )  # fmt: skip
        store.set_job_state(run_id, job.id, JobState.SUCCEEDED)
    store.set_run_state(run_id, RunState.SUCCEEDED)
    return store, graph, run_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument("--phenotypes", type=int, default=2)
    parser.add_argument("--keep", type=Path, default=None, help="write the files and report here and keep them")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        rundir = RunDir(root)
        rundir.results_dir.mkdir(parents=True, exist_ok=True)
        phenotypes = [f"Y{i + 1}" for i in range(args.phenotypes)]
        t0 = time.perf_counter()
        for i, pheno in enumerate(phenotypes):
            write_synthetic(rundir.results_dir / f"{pheno}.regenie.gz", args.variants, seed=i)
        print(f"wrote {args.phenotypes} x {args.variants:,} variants in {time.perf_counter() - t0:.1f} s (not timed)")

        t_sum = t_plot = 0.0
        for pheno in phenotypes:
            t = time.perf_counter()
            summary = summarize_results(rundir.results_dir / f"{pheno}.regenie.gz", pheno)
            t_sum += time.perf_counter() - t
            t = time.perf_counter()
            manhattan_png(summary.manhattan, loci=summary.loci, title=pheno)
            qq_png(summary.qq, lambda_gc=summary.lambda_gc, title=pheno)
            t_plot += time.perf_counter() - t
            print(
                f"{pheno}: lambda_gc={summary.lambda_gc:.4f} significant={summary.n_significant} "
                f"loci={len(summary.loci)} manhattan_points={summary.manhattan.n_points:,} "
                f"qq_points={summary.qq.expected.size:,}"
            )
        print(f"summarize_results: {t_sum:.2f} s   manhattan + qq plots: {t_plot:.2f} s")

        store, graph, run_id = _store_and_graph(rundir, phenotypes)
        t, cpu = time.perf_counter(), time.process_time()
        out = write_report(rundir=rundir, store=store, run_id=run_id, graph=graph)
        t_report, cpu_report = time.perf_counter() - t, time.process_time() - cpu
        size_kb = out.stat().st_size / 1024
        print(
            f"write_report (summaries + plots + timeline + HTML): {t_report:.2f} s wall, {cpu_report:.2f} s CPU, "
            f"{size_kb:.0f} KiB"
        )
        verdict = "OK" if t_report < 20 else "OVER TARGET"
        print(
            f"report time for {args.variants:,} variants x {args.phenotypes} phenotypes: {t_report:.2f} s "
            f"(target < 20 s: {verdict})"
        )


if __name__ == "__main__":
    main()
