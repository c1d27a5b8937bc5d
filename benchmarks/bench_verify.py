"""Time the final check (``gwasflow verify``) on large merged results.

Writes synthetic merged ``<pheno>.regenie.gz`` files (default 1,000,000
variants, 2 phenotypes; the generator of ``bench_report.py``), records them
as their merge jobs would, then times ``verify_run``: per file one SHA-256
pass over the bytes and one decompress-and-parse pass (rows, LOG10P values).

    python benchmarks/bench_verify.py [--variants 1000000] [--phenotypes 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench_report import write_synthetic

from gwasflow.core.states import JobState, Step
from gwasflow.engine.outputs import fingerprint
from gwasflow.engine.verify import verify_run
from gwasflow.plan.model import Job, JobGraph, JobKind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument("--phenotypes", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results"
        results.mkdir()
        jobs, records, merges = [], [], {}
        for k in range(args.phenotypes):
            out = results / f"Y{k + 1}.regenie.gz"
            write_synthetic(out, args.variants, seed=k)
            job = Job(id=f"merge-Y{k + 1}", step=Step.MERGE, kind=JobKind.INTERNAL, action="merge",
                      outputs=(str(out),), meta={"phenotype": f"Y{k + 1}", "planned_rows": args.variants})
            jobs.append(job)
            records.append(fingerprint(job.id, out))
            merges[job.id] = (args.variants, 0)
        graph = JobGraph(jobs)
        size_mb = sum(r.size for r in records) / 1e6
        start = time.perf_counter()
        verdict = verify_run(graph, {j.id: JobState.SUCCEEDED for j in jobs}, merges, records)
        elapsed = time.perf_counter() - start
    assert not verdict.problems, verdict.problems
    rows = args.variants * args.phenotypes
    print(f"verify_run: {args.phenotypes} results x {args.variants:,} rows ({size_mb:.1f} MB gzip) in "
          f"{elapsed:.2f} s = {rows / elapsed / 1e6:.2f} M rows/s")


if __name__ == "__main__":
    main()
