"""The run report: one self-contained HTML file.

``write_report`` gathers, for one run: per phenotype (one per merge job of
the graph) the summary statistics, a Manhattan and a QQ plot and the top loci;
the run's timeline, job counts per step and state, failed attempts by error
type, the spec and the versions. Plots are embedded as PNG data URIs and the
CSS is inline, so the file opens anywhere, offline, and can be mailed as is.
It is rendered by Jinja2 with autoescaping on and written atomically.

Beside it, ``write_report`` writes the browsable pages (``report/pages``):
``index.html`` over all phenotypes and an interactive ``phenotypes/<name>.html``
per phenotype; ``report.html`` links to them.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jinja2

from gwasflow import __version__
from gwasflow.core.rundir import RunDir, write_atomic
from gwasflow.core.states import JobState, Step
from gwasflow.plan.model import Job, JobGraph
from gwasflow.report.metrics import FAILED_ATTEMPT, collect_metrics, format_duration
from gwasflow.report.pages import NearestGene, Trait, case_control_counts, write_site
from gwasflow.report.plots import manhattan_png, qq_png, timeline_png
from gwasflow.report.progress import ItemProgress, NullItemProgress
from gwasflow.report.qccounts import QC_TABLE_NAME, read_dataset_qc_tables, read_qc_table
from gwasflow.report.summary import Locus, PhenotypeSummary, summarize_results
from gwasflow.store import Store

__all__ = ["REPORT_NAME", "write_report"]

REPORT_NAME = "report.html"
MAX_LOCI_SHOWN = 50
MAX_FAILED_SHOWN = 100


@dataclass(frozen=True)
class _Phenotype:
    name: str
    path: Path
    summary: PhenotypeSummary | None = None
    manhattan: str = ""
    qq: str = ""
    missing: str = ""
    cases_controls: tuple[int, int] | None = None
    page: str = ""

    @property
    def loci(self) -> list[Locus]:
        return self.summary.loci[:MAX_LOCI_SHOWN] if self.summary else []

    @property
    def more_loci(self) -> int:
        return max(0, len(self.summary.loci) - MAX_LOCI_SHOWN) if self.summary else 0


def write_report(
    *,
    rundir: RunDir,
    store: Store,
    run_id: str,
    graph: JobGraph,
    out: Path | None = None,
    summaries: Mapping[str, PhenotypeSummary] | None = None,
    genes: NearestGene | None = None,
    loci_html: Mapping[str, str] | None = None,
    progress: ItemProgress | None = None,
) -> Path:
    """Write the run's report (default ``<outdir>/report.html``) and return its path.

    ``summaries`` (by phenotype) are used instead of reading a phenotype's
    merged results again, e.g. when the caller just wrote ``summary.tsv``
    from them. A phenotype whose results file is missing is reported as such.
    The phenotype pages and ``index.html`` are written first, next to ``out``
    (``genes`` and ``loci_html`` go to them, see ``report.pages.write_site``).
    ``progress`` is told of each phenotype done, then of the pages and the report.
    """
    out = out or rundir.root / REPORT_NAME
    progress = progress or NullItemProgress()
    merges = graph.by_step(Step.MERGE)
    progress.start("report", len(merges) + 2)
    try:
        phenotypes = []
        for job in merges:
            phenotypes.append(_phenotype(job, rundir, summaries or {}))
            progress.advance(phenotypes[-1].name)
        run = store.get_run(run_id)
        traits = [Trait(p.name, p.path, p.summary, p.missing, p.cases_controls) for p in phenotypes]
        site = write_site(traits, out.parent, title=run.name, genes=genes, loci_html=loci_html, report_name=out.name)
        phenotypes = [replace(p, page=site.pages.get(p.name, "")) for p in phenotypes]
        progress.advance(site.index.name)
        context = _context(rundir, store, run_id, phenotypes, index=site.index.name)
        write_atomic(out, _environment().get_template("report.html.j2").render(context))
        progress.advance(out.name)
    finally:
        progress.close()
    return out


def _context(
    rundir: RunDir, store: Store, run_id: str, phenotypes: list[_Phenotype], *, index: str
) -> dict[str, Any]:
    """What ``report.html.j2`` shows: the phenotypes, the run's metrics, timeline, failures and spec."""
    now = time.time()
    run = store.get_run(run_id)
    metrics = collect_metrics(store, run_id, now=now)
    attempts = store.list_attempts(run_id)
    job_steps = {j.job_id: j.step for j in store.list_jobs(run_id)}
    failed = [a for a in attempts if a.state == FAILED_ATTEMPT]
    context: dict[str, Any] = {
        "run": run,
        "metrics": metrics,
        "elapsed": format_duration(metrics.elapsed_s),
        "created": _utc(run.created_at),
        "written": _utc(now),
        "version": __version__,
        "engine": _engine(run.spec_json),
        "spec": _pretty_json(run.spec_json),
        "phenotypes": phenotypes,
        "index": index,
        "qc": read_qc_table(rundir.root / QC_TABLE_NAME),
        "dataset_qc": read_dataset_qc_tables(rundir.root),
        "timeline": _data_uri(timeline_png(attempts, job_steps, now=now)),
        "states": sorted({s for step in metrics.steps for s in step.state_counts}, key=_state_order),
        "failed": failed[-MAX_FAILED_SHOWN:],
        "failed_more": max(0, len(failed) - MAX_FAILED_SHOWN),
    }
    return context


def _phenotype(job: Job, rundir: RunDir, summaries: Mapping[str, PhenotypeSummary]) -> _Phenotype:
    name = str(job.meta.get("phenotype", job.id))
    path = Path(job.outputs[0]) if job.outputs else rundir.results_dir / f"{name}.regenie.gz"
    counts = case_control_counts((Path(str(log)) for log in job.meta.get("shard_logs", ())), name)
    summary = summaries.get(name)
    if summary is None:
        if not path.exists():
            missing = f"No merged results at {path} (the merge job did not succeed)."
            return _Phenotype(name, path, missing=missing, cases_controls=counts)
        summary = summarize_results(path, name)
    return _Phenotype(
        name,
        path,
        summary,
        manhattan=_data_uri(manhattan_png(summary.manhattan, loci=summary.loci, title=name)),
        qq=_data_uri(qq_png(summary.qq, lambda_gc=summary.lambda_gc, title=name)),
        cases_controls=counts,
    )


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("gwasflow.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["duration"] = format_duration
    return env


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _utc(t: float) -> str:
    return dt.datetime.fromtimestamp(t, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _pretty_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2)
    except ValueError:
        return text


def _engine(spec_json: str) -> str:
    """``built-in (gwasflow X)`` or ``regenie <version>`` (with its binary or image), from the spec."""
    try:
        engine = json.loads(spec_json).get("engine") or {}
    except (ValueError, AttributeError):
        engine = {}
    if not isinstance(engine, dict) or engine.get("kind", "builtin") == "builtin":
        return f"built-in regenie-compatible engine (gwasflow {__version__})"
    where = engine.get("binary") or engine.get("image") or ""
    version = engine.get("version") or "version not given"
    return f"regenie {version}" + (f" ({where})" if where else "")


def _state_order(state: str) -> tuple[int, str]:
    order: list[str] = [JobState.SUCCEEDED, JobState.RUNNING, JobState.QUEUED, JobState.PENDING, JobState.RETRY_WAIT,
                        JobState.FAILED, JobState.UPSTREAM_FAILED, JobState.CANCELLED]
    return (order.index(state) if state in order else len(order), state)
