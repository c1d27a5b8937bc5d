"""The HTML report: self-contained, escaped, complete; and on a real run folder."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from gwasflow.commands.demo import write_demo
from gwasflow.core.rundir import RunDir
from gwasflow.core.states import JobState, RunState, Step
from gwasflow.plan.model import Job, JobGraph, JobKind
from gwasflow.report.html import write_report
from gwasflow.report.summary import summarize_results
from gwasflow.store import MemoryStore, SQLiteStore

HEADER = "CHROM GENPOS ID ALLELE0 ALLELE1 A1FREQ N TEST BETA SE CHISQ LOG10P EXTRA\n"
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def _results(path: Path, seed: int, *, peak: bool) -> None:
    rng = np.random.default_rng(seed)
    chisq = rng.chisquare(1, size=3000)
    if peak:
        chisq[1500] = 70.0
    logp = -stats.chi2.logsf(chisq, 1) / np.log(10)
    with gzip.open(path, "wt") as handle:
        handle.write(HEADER)
        for i, (x, lp) in enumerate(zip(chisq, logp, strict=True)):
            chrom = 1 + i // 1000
            handle.write(f"{chrom} {1000 * (i + 1)} rs{i} A G 0.3 1000 ADD 0.05 0.01 {x:.6g} {lp:.6g} NA\n")


def _run(tmp_path: Path, *, name: str = "study") -> tuple[RunDir, MemoryStore, JobGraph]:
    rundir = RunDir(tmp_path / "out")
    rundir.results_dir.mkdir(parents=True)
    merges = [
        Job(id=f"merge-{p}", step=Step.MERGE, kind=JobKind.INTERNAL, action="merge",
            outputs=(str(rundir.results_dir / f"{p}.regenie.gz"),),
            meta={"phenotype": p, "shard_logs": [str(tmp_path / "step2_1.log")]})
        for p in ("Y1", "Y2")
    ]  # fmt: skip
    (tmp_path / "step2_1.log").write_text(" * case-control counts for each trait:\n"
                                          "   - 'Y1': 121 cases and 379 controls\n")  # fmt: skip
    graph = JobGraph([Job(id="step1", step=Step.STEP1, kind=JobKind.COMMAND, argv=("regenie",)), *merges])
    _results(rundir.results_dir / "Y1.regenie.gz", 1, peak=True)
    _results(rundir.results_dir / "Y2.regenie.gz", 2, peak=False)
    store = MemoryStore()
    spec = {"name": name, "engine": {"kind": "regenie", "version": "4.1.2", "binary": "/opt/regenie"}}
    store.create_run("run-1", name, json.dumps(spec), json.dumps(graph.to_dict()))
    store.add_jobs("run-1", [(j.id, j.step.value) for j in graph])
    for job, state, error in [("step1", "failed", "out_of_memory"), ("step1", "succeeded", None),
                              ("merge-Y1", "succeeded", None), ("merge-Y2", "succeeded", None)]:  # fmt: skip
        n = store.new_attempt("run-1", job, executor="local", log_path=f"/logs/{job}.log", resources_json="{}")
        t = store.list_attempts("run-1", job)[-1].submitted_at
        store.mark_attempt_running("run-1", job, n, t + 0.5)
        store.finish_attempt("run-1", job, n, state=state, exit_code=137 if error else 0, signal=None,
                             error_type=error, reason="Killed: out of memory" if error else "", log_tail="",
                             ended_at=t + 2.0)  # fmt: skip
    store.set_job_states("run-1", [(j.id, JobState.SUCCEEDED) for j in graph])
    store.set_run_state("run-1", RunState.SUCCEEDED)
    return rundir, store, graph


def test_write_report__one_self_contained_file(tmp_path: Path) -> None:
    rundir, store, graph = _run(tmp_path)
    out = write_report(rundir=rundir, store=store, run_id="run-1", graph=graph)
    assert out == rundir.root / "report.html"
    html = out.read_text()
    assert html.count('src="data:image/png;base64,') == 2 * 2 + 1  # Manhattan + QQ per phenotype, timeline
    assert not EXTERNAL.search(html)
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<(script|link|iframe)\b", html, re.IGNORECASE)
    # the browsable pages beside it, linked from it; no temp file left
    assert sorted(p.name for p in rundir.root.iterdir()) == ["index.html", "phenotypes", "report.html", "results"]
    assert sorted(p.name for p in (rundir.root / "phenotypes").iterdir()) == ["Y1.html", "Y2.html"]
    assert 'href="index.html"' in html and 'href="phenotypes/Y1.html"' in html and 'href="phenotypes/Y2.html"' in html


def test_write_report__results_loci_runs_failures_spec_and_versions(tmp_path: Path) -> None:
    rundir, store, graph = _run(tmp_path)
    html = write_report(rundir=rundir, store=store, run_id="run-1", graph=graph).read_text()
    y1 = summarize_results(rundir.results_dir / "Y1.regenie.gz", "Y1")
    assert f"{y1.lambda_gc:.4f}" in html and "&lambda;<sub>GC</sub>" in html
    assert y1.top is not None and y1.top.id == "rs1500" and "<td>rs1500</td>" in html  # the top locus row
    assert "No genome-wide significant variant" in html  # Y2 is null
    assert "out_of_memory" in html and "Killed: out of memory" in html
    assert "regenie 4.1.2 (/opt/regenie)" in html and "gwasflow 0.1.0" in html
    assert "&#34;version&#34;: &#34;4.1.2&#34;" in html  # the spec, pretty-printed and escaped
    for step in ("step1", "merge"):
        assert f"<td>{step}</td>" in html
    assert "121 cases, 379 controls" in html  # Y1's, from its step 2 log; Y2 has none there
    index = (rundir.root / "index.html").read_text()
    y1_row = re.search(r'<tr data-name="Y1">(.*?)</tr>', index, re.DOTALL)
    y2_row = re.search(r'<tr data-name="Y2">(.*?)</tr>', index, re.DOTALL)
    assert y1_row and y2_row
    assert 'data-v="121"' in y1_row.group(1) and 'data-v="379"' in y1_row.group(1)
    assert 'data-v="1000"' in y1_row.group(1) and 'data-v="1000"' in y2_row.group(1)  # N from the N column
    assert "rs1500" in y1_row.group(1) and 'data-v="121"' not in y2_row.group(1)


def test_write_report__escapes_what_comes_from_the_run(tmp_path: Path) -> None:
    rundir, store, graph = _run(tmp_path, name="<script>alert(1)</script>")
    html = write_report(rundir=rundir, store=store, run_id="run-1", graph=graph).read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for page in (rundir.root / "index.html", rundir.root / "phenotypes" / "Y1.html"):
        text = page.read_text()
        assert "alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_write_report__missing_results_and_given_summaries(tmp_path: Path) -> None:
    rundir, store, graph = _run(tmp_path)
    y2 = summarize_results(rundir.results_dir / "Y2.regenie.gz", "Y2")
    (rundir.results_dir / "Y1.regenie.gz").unlink()
    (rundir.results_dir / "Y2.regenie.gz").unlink()
    out = write_report(rundir=rundir, store=store, run_id="run-1", graph=graph, out=tmp_path / "r" / "x.html",
                       summaries={"Y2": y2})  # fmt: skip
    html = out.read_text()
    assert "No merged results at" in html and "Y1.regenie.gz" in html
    assert html.count('src="data:image/png;base64,') == 2 + 1
    assert f"{y2.lambda_gc:.4f}" in html


def test_write_report__on_a_real_demo_run(tmp_path: Path) -> None:
    spec = write_demo(tmp_path / "demo", n_samples=500, n_variants=2000)
    done = subprocess.run([sys.executable, "-m", "gwasflow", "run", str(spec), "--quiet"],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    rundir = RunDir(tmp_path / "demo")
    store = SQLiteStore(rundir.store_path)
    try:
        run = store.latest_run()
        assert run is not None
        graph = JobGraph.from_dict(json.loads(run.graph_json))
        out = write_report(rundir=rundir, store=store, run_id=run.run_id, graph=graph, out=tmp_path / "report.html")
    finally:
        store.close()
    html = out.read_text()
    assert html.count('src="data:image/png;base64,') == 2 * 2 + 1
    assert not EXTERNAL.search(html)
    assert "built-in regenie-compatible engine" in html
    y1 = summarize_results(rundir.results_dir / "Y1.regenie.gz", "Y1")
    assert y1.n_variants > 1900 and f"{y1.lambda_gc:.4f}" in html
    assert ">Y1</a>" in html and ">Y2</a>" in html
    published = tmp_path / "demo"  # the run's own report job wrote the pages beside its report.html
    assert (published / "index.html").is_file()
    assert sorted(p.name for p in (published / "phenotypes").iterdir()) == ["Y1.html", "Y2.html"]
    again = subprocess.run([sys.executable, "-m", "gwasflow", "report", str(published)],
                           capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert f"report: {published / 'report.html'}" in again.stdout
    assert again.stderr.splitlines()[-1] == "report: 4/4 report.html"  # plain progress: stderr is not a terminal
