"""``gwasflow validate``, ``plan``, ``run`` and ``demo``: a spec checked, planned, or run to the end.

Exit codes: 0 success; 1 the run failed; 2 bad spec, input or arguments (nothing started, nothing written);
130 cancelled.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gwasflow.errors import Problem, SpecError

if TYPE_CHECKING:
    from gwasflow.engine.driver import RunOutcome
    from gwasflow.spec.model import RunSpec

__all__ = ["EXIT_CANCELLED", "cmd_demo", "cmd_plan", "cmd_run", "cmd_validate", "report_outcome", "run_spec_file"]

EXIT_CANCELLED = 130


def cmd_validate(args: argparse.Namespace) -> int:
    from gwasflow.spec import load
    from gwasflow.validate import validate

    spec = load(args.spec)
    metas = validate(spec)
    _preflight(spec)
    n_variants = sum(m.n_variants for m in metas)
    print(f"ok: {args.spec}: {len(metas)} dataset(s), {n_variants} variants, "
          f"{len(spec.phenotypes.columns)} phenotype(s)")
    return 0


def _preflight(spec: RunSpec, *, force: bool | None = None) -> None:
    """Checks that need more than the input files: the folders and the executor settings.

    ``force`` None: ``validate`` (is the workspace free?); True or False: a run about to start with or
    without ``--force`` (``check_new_run``: also a live or earlier run in ``outdir``).
    """
    from gwasflow.commands.launch import check_new_run
    from gwasflow.executors.registry import check_settings
    from gwasflow.storage.workspace import workspace_problems

    problems = workspace_problems(spec) if force is None else check_new_run(spec, force=force)
    settings = {"max_parallel": spec.executor.max_parallel, **spec.executor.settings}
    problems += [Problem("executor.settings", msg) for msg in check_settings(spec.executor.kind, settings)]
    if problems:
        raise SpecError(problems)


def cmd_plan(args: argparse.Namespace) -> int:
    from gwasflow.plan.build import build_graph, summarize
    from gwasflow.plan.counts import job_counts_line
    from gwasflow.spec import load
    from gwasflow.validate import validate

    spec = load(args.spec)
    graph = build_graph(spec, validate(spec))
    if args.json:
        print(json.dumps(graph.to_dict(), indent=1))
    else:
        print(job_counts_line(spec, graph))
        print(summarize(graph))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    return run_spec_file(args.spec, quiet=args.quiet, force=args.force)


def run_spec_file(path: Path, *, quiet: bool = False, force: bool = False) -> int:
    """``gwasflow run``: validate (exit 2 on any problem, nothing written), then run to the end.

    An ``outdir`` that holds an earlier run needs ``force`` (see ``commands/launch.py``).
    """
    from gwasflow.commands.launch import start_run
    from gwasflow.commands.progress import make_progress
    from gwasflow.core.states import RunState
    from gwasflow.spec import load
    from gwasflow.validate import validate

    spec = load(path)
    metas = validate(spec)
    _preflight(spec, force=force)
    outcome = start_run(spec, metas, progress=make_progress(quiet=quiet), force=force)
    code = report_outcome(outcome)
    if outcome.state is RunState.SUCCEEDED:
        print(f"results: {spec.outdir.rstrip('/')}/results")
        if "://" not in spec.outdir:  # a remote outdir's summary is in the published folder
            _print_summary(Path(spec.outdir) / "summary.tsv")
    else:
        print(f"see: gwasflow status {spec.outdir}; gwasflow failures {spec.outdir}", file=sys.stderr)
    return code


def _print_summary(path: Path) -> None:
    """The run's summary.tsv as an aligned table."""
    if not path.exists():
        return
    from rich.console import Console
    from rich.table import Table

    rows = [line.split("\t") for line in path.read_text().splitlines() if line]
    table = Table(*rows[0], title=str(path))
    for row in rows[1:]:
        table.add_row(*row)
    Console(file=sys.stdout, width=160).print(table)


def cmd_demo(args: argparse.Namespace) -> int:
    from gwasflow.commands.demo import write_biobank_demo, write_demo

    write = write_demo if args.simple else write_biobank_demo
    try:
        spec_path = write(args.out, n_samples=args.samples, n_variants=args.variants, seed=args.seed,
                          trait=args.trait)
    except ValueError as exc:  # sizes the simulation cannot honour
        raise SpecError([Problem("demo", f"--samples {args.samples} --variants {args.variants}: {exc}")]) from None
    shape = "one .bed" if args.simple else "array .bed for step 1, imputed BGEN per chromosome for step 2"
    print(f"demo: cohort and spec written to {args.out} ({args.samples} samples x {args.variants} variants; "
          f"{shape})")
    return run_spec_file(spec_path, quiet=args.quiet, force=args.force)


def report_outcome(outcome: RunOutcome) -> int:
    """Print how a run ended; its exit code (0 succeeded, 1 failed, 130 cancelled)."""
    from gwasflow.core.states import RunState

    print(f"run {outcome.run_id}: {outcome.state.value} in {outcome.elapsed_s:.1f} s ({outcome.message})")
    if outcome.state is RunState.SUCCEEDED:
        return 0
    return EXIT_CANCELLED if outcome.state is RunState.CANCELLED else 1
