"""The machine's last jobs, run by AWS Batch in the gwasflow container: check, merge, report.

``python -m gwasflow.export.sfn.finish ACTION --plan PLAN --datasets JSON`` where ``PLAN`` is the
export's ``plan.json`` (``s3://...`` or a path) and ``JSON`` the execution's dataset labels:

* ``predictions --from LIST --to PRED``: (no plan) copy an earlier step 1's prediction list to the
  path step 2 reads, when the execution skips step 1; the copy is written under a temporary name
  and renamed, so step 2 never reads half a list.
* ``check``: every output of every selected step 2 shard exists on the shared file system (the
  final check's second half; the first is the machine's count of failure records). Exit 1 names
  how many are missing and the first one.
* ``merge``: each phenotype's shard results merged into ``<outdir>/results/<pheno>.regenie.gz``
  (with its tabix index), as the local driver's merge does; the planned row count is checked when
  every dataset was run.
* ``report``: ``<outdir>/summary.tsv`` (lambda GC, top loci per phenotype) and ``report.html``
  (plots and loci per phenotype). A Step Functions run has no run store: the report is written from
  an in-memory one in which the jobs this execution ran (told by ``--skip-step1``) succeeded, as they
  must have for the machine to reach the report; it has no attempts, so no timeline.

Exit status: 0 done, 1 the check or a merge failed, 2 bad arguments or plan.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gwasflow.core.states import Step
from gwasflow.plan.model import Job, JobGraph

__all__ = ["check_outputs", "main", "merge_results", "selected_shards", "use_predictions", "write_reports"]


def _read(uri: str) -> bytes:
    if uri.startswith("s3://"):
        import boto3  # the [aws] extra, present in the container image

        bucket, _, key = uri.removeprefix("s3://").partition("/")
        body: bytes = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        return body
    return Path(uri).read_bytes()


@dataclass(frozen=True)
class Plan:
    """A ``plan.json``: the run's name and spec (JSON), the file-label -> dataset-label map, the graph."""

    run: str
    spec: dict[str, Any]
    datasets: dict[str, str]
    graph: JobGraph


def load_plan(uri: str) -> Plan:
    try:
        plan: dict[str, Any] = json.loads(_read(uri))
        return Plan(str(plan["run"]), dict(plan["spec"]), dict(plan["datasets"]), JobGraph.from_dict(plan["graph"]))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{uri}: not a gwasflow plan.json ({exc})") from None


def selected_shards(graph: JobGraph, datasets: dict[str, str], chosen: Sequence[str]) -> list[Job]:
    """The step 2 shards of the ``chosen`` datasets; ValueError naming an unknown label."""
    known = set(datasets.values())
    unknown = [c for c in chosen if c not in known]
    if unknown:
        raise ValueError(f"datasets: unknown {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    wanted = set(chosen)
    return [j for j in graph.by_step(Step.STEP2) if datasets.get(str(j.meta.get("dataset"))) in wanted]


def check_outputs(shards: Sequence[Job]) -> list[str]:
    """Outputs of ``shards`` that do not exist."""
    return [out for job in shards for out in job.outputs if not Path(out).is_file()]


def merge_results(graph: JobGraph, shards: Sequence[Job], *, complete: bool) -> list[str]:
    """Merge each phenotype over ``shards``; one line per merged file. ``complete``: all shards ran."""
    from gwasflow.report.merge import ignored_low_mac, merge_phenotype

    traits = {out: len(job.meta.get("phenotypes", ())) or 1 for job in shards for out in job.outputs}
    lines = []
    for merge in graph.by_step(Step.MERGE):
        pairs = [(Path(s), Path(log)) for s, log in zip(merge.meta["shards"], merge.meta["shard_logs"], strict=True)
                 if s in traits]  # fmt: skip
        ignored = [ignored_low_mac(log) // traits[str(s)] for s, log in pairs]
        planned = merge.meta.get("planned_rows") if complete else None
        rows = None if planned is None else int(planned)
        result = merge_phenotype([s for s, _ in pairs], Path(merge.outputs[0]), planned_rows=rows,
                                 ignored_per_shard=ignored)  # fmt: skip
        lines.append(f"{merge.outputs[0]}: {result.rows} rows ({result.ignored} ignored for low MAC)")
    return lines


def write_reports(plan: Plan, ran: Sequence[Job], *, step1_ran: bool) -> list[Path]:
    """``summary.tsv`` and ``report.html`` where the plan's report job writes them (see the module docstring)."""
    from gwasflow.core.rundir import RunDir
    from gwasflow.core.states import JobState
    from gwasflow.report.html import write_report
    from gwasflow.report.summary import summarize_results, write_summary
    from gwasflow.store.memory import MemoryStore

    graph = plan.graph
    report = graph.by_step(Step.REPORT)[0]
    tsv = next(Path(p) for p in report.outputs if p.endswith(".tsv"))
    html = next(Path(p) for p in report.outputs if p.endswith(".html"))
    merges = graph.by_step(Step.MERGE)
    summaries = {str(m.meta["phenotype"]): summarize_results(Path(m.outputs[0]), str(m.meta["phenotype"]))
                 for m in merges}  # fmt: skip
    write_summary(list(summaries.values()), tsv)
    store = MemoryStore()
    store.create_run(plan.run, plan.run, json.dumps(plan.spec), "{}")
    store.add_jobs(plan.run, [(job.id, job.step.value) for job in graph])
    done = [*ran, *merges, report, *(graph.by_step(Step.QC) + graph.by_step(Step.STEP1) if step1_ran else [])]
    store.set_job_states(plan.run, [(job.id, JobState.SUCCEEDED) for job in done])
    write_report(rundir=RunDir(tsv.parent), store=store, run_id=plan.run, graph=graph, out=html, summaries=summaries)
    return [tsv, html]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gwasflow.export.sfn.finish", description=__doc__.splitlines()[0])
    p.add_argument("action", choices=["check", "merge", "report", "predictions"])
    p.add_argument("--plan", help="the export's plan.json (s3:// or a path)")
    p.add_argument("--datasets", help="JSON list of the dataset labels this execution ran")
    p.add_argument("--skip-step1", choices=["true", "false"], default="false",
                   help="report: whether this execution skipped step 1 (JSON true/false)")
    p.add_argument("--from", dest="source", help="predictions: the prediction list to use")
    p.add_argument("--to", dest="target", help="predictions: where step 2 reads it")
    return p


def use_predictions(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` (temporary name, then rename); ValueError if it is no _pred.list."""
    lines = [line for line in source.read_text().splitlines() if line.strip()]
    if not lines or any(len(line.split()) != 2 for line in lines):
        raise ValueError(f"{source}: not a prediction list (lines of: phenotype path-to-loco)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(target)


def _run(args: argparse.Namespace) -> int:
    if args.action == "predictions":
        if not args.source or not args.target:
            raise ValueError("predictions needs --from and --to")
        use_predictions(Path(args.source), Path(args.target))
        print(f"predictions: {args.source} -> {args.target}")
        return 0
    if not args.plan or args.datasets is None:
        raise ValueError(f"{args.action} needs --plan and --datasets")
    plan = load_plan(args.plan)
    graph = plan.graph
    chosen = json.loads(args.datasets)
    if not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
        raise ValueError(f"--datasets: expected a JSON list of labels, got {args.datasets!r}")
    shards = selected_shards(graph, plan.datasets, chosen)
    if args.action == "check":
        missing = check_outputs(shards)
        if missing:
            print(f"gwasflow finish check: {len(missing)} step 2 output(s) missing, first: {missing[0]}",
                  file=sys.stderr)  # fmt: skip
            return 1
        print(f"check: every output of {len(shards)} shard(s) present")
    elif args.action == "merge":
        print("\n".join(merge_results(graph, shards, complete=len(shards) == len(graph.by_step(Step.STEP2)))))
    else:
        written = write_reports(plan, shards, step1_ran=args.skip_step1 == "false")
        print(f"report: wrote {', '.join(map(str, written))}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from gwasflow.errors import GwasflowError

    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except GwasflowError as exc:  # a merge that found a bad or short shard: the job failed
        print(f"gwasflow finish {args.action}: {exc}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:
        print(f"gwasflow finish {args.action}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
