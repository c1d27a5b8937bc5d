"""The ``gwasflow`` command: parse arguments, dispatch to one small handler per subcommand.

Exit codes: 0 success; 1 the run failed; 2 bad spec, input or arguments
(nothing started, nothing written); 130 cancelled.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gwasflow import __version__
from gwasflow.core.uri import redact
from gwasflow.errors import GwasflowError, Problem, SpecError

if TYPE_CHECKING:
    from gwasflow.core.rundir import RunDir
    from gwasflow.engine.driver import RunOutcome
    from gwasflow.spec.model import RunSpec

__all__ = ["main"]

EXIT_CANCELLED = 130
DESCRIPTION = (
    "Run a regenie GWAS from one spec file: on this machine, on Slurm or on AWS Batch, with retries, resume "
    "and a report of every phenotype."
)
EPILOG = (
    "Start with `gwasflow demo` (a whole GWAS on simulated data), then `gwasflow validate SPEC` and "
    "`gwasflow run SPEC`. `gwasflow COMMAND --help` describes a command."
)


def _add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress display")


def _add_force_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true",
                   help="start a new run in an outdir that holds one (the earlier run moves to .gwasflow/history/)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gwasflow", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"gwasflow {__version__}")
    parser.add_argument("--log-format", choices=["text", "json"], default="text",
                        help="events on stderr as key=value text or as JSON lines (events.jsonl is always JSON)")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="warning",
                        help="the least important events shown on stderr (default: warning)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="validate, plan and run a spec to the end")
    p.add_argument("spec", type=Path)
    _add_force_arg(p)
    _add_run_args(p)

    p = sub.add_parser("validate", help="check a spec and every input file; start nothing")
    p.add_argument("spec", type=Path)

    p = sub.add_parser("plan", help="print the job graph of a spec")
    p.add_argument("spec", type=Path)
    p.add_argument("--json", action="store_true", help="the whole graph as JSON")

    p = sub.add_parser("demo", help="simulate a cohort and run a whole GWAS on it")
    p.add_argument("--out", type=Path, default=Path("demo"), help="folder for data, spec and results")
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--variants", type=int, default=20_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--trait", choices=["quantitative", "binary"], default="quantitative")
    p.add_argument("--simple", action="store_true",
                   help="one .bed for both steps, no QC (default: QC and step 1 on an array .bed, step 2 on "
                        "imputed BGEN files per chromosome)")
    _add_force_arg(p)
    _add_run_args(p)

    p = sub.add_parser("simulate", help="write a simulated cohort (PLINK .bed, phenotypes, covariates)")
    p.add_argument("--out", type=Path, required=True, help="output prefix")
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--variants", type=int, default=20_000)
    p.add_argument("--chromosomes", type=int, default=3)
    p.add_argument("--causal", type=int, default=20)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--trait", choices=["quantitative", "binary"], default="quantitative")

    p = sub.add_parser("status", help="job states of a run (default: the run in this folder)")
    p.add_argument("run", nargs="?", type=Path, default=None, help="run folder (the spec's outdir)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("failures", help="the failure log: every failed attempt with its error type")
    p.add_argument("run", nargs="?", type=Path, default=None, help="run folder (default: this folder)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("logs", help="the log of a job's latest attempt")
    p.add_argument("args", nargs="+", metavar="[RUN] JOB", help="optional run folder, then the job id")
    p.add_argument("--attempt", type=int, default=None)

    p = sub.add_parser("retry", help="re-run failed jobs (optionally with more memory/time), then what follows")
    p.add_argument("run", nargs="?", type=Path, default=None, help="run folder (default: this folder)")
    p.add_argument("--job", action="append", default=[], help="a failed job id (repeatable; default: all)")
    p.add_argument("--error-type", action="append", default=[], help="only failures of this type (repeatable)")
    p.add_argument("--mem", type=_memory_mb, default=None, help="memory for the re-run, e.g. 16G or 8000M")
    p.add_argument("--time", type=_seconds, default=None, help="time limit for the re-run, e.g. 2h, 90m, 600s")
    _add_run_args(p)

    p = sub.add_parser("resume", help="carry on with a run whose driver died; nothing finished runs again")
    p.add_argument("run", nargs="?", type=Path, default=None, help="run folder (default: this folder)")
    _add_run_args(p)

    p = sub.add_parser("cancel", help="cancel a run: its running jobs are stopped and recorded as cancelled")
    p.add_argument("run", nargs="?", type=Path, default=None, help="run folder (default: this folder)")

    p = sub.add_parser("verify", help="final check: every job succeeded, every output there with planned rows")
    p.add_argument("run", nargs="?", type=Path, default=None, help="run folder (default: this folder)")

    p = sub.add_parser("export", help="write the plan for another workflow engine (AWS Step Functions)")
    p.add_argument("spec", type=Path)
    p.add_argument("--format", choices=["stepfunctions"], default="stepfunctions")
    p.add_argument("-o", "--out", type=Path, default=None, help="output file (default: stdout)")
    p.add_argument("--job-queue", default=None, help="refused: each execution makes its own job queue, named "
                   "<job-definition-prefix>-<execution name>")
    p.add_argument("--job-definition-prefix", default="gwasflow")
    p.add_argument("--failure-table", default=None, help="DynamoDB table (default: from failure_log)")
    p.add_argument("--image", default=None, help="gwasflow container image (default: executor.settings.image)")
    p.add_argument("--manifest", default=None, metavar="S3_URI",
                   help="s3://bucket/prefix for the shard manifest the machine reads (written by the export)")
    p.add_argument("--data-repository", default=None, metavar="S3_URI",
                   help="S3 prefix linked to the FSx file system (default: workspace.fsx.data_repository)")
    p.add_argument("--regenie-version", action="append", default=[], metavar="VERSION",
                   help="another regenie version the execution input may choose (repeatable)")
    p.add_argument("--job-definitions-out", type=Path, default=None, metavar="FILE",
                   help="also write the Batch job definitions the machine names (name, image, vCPUs, memory) as "
                        "JSON, for python -m gwasflow.export.cloudformation --job-definitions")
    p.add_argument("--instance-profile-arn", default=None, metavar="ARN",
                   help="the run's Batch hosts' instance profile (default: a placeholder the CloudFormation "
                        "template fills)")
    p.add_argument("--batch-service-role-arn", default=None, metavar="ARN",
                   help="Batch's service role for the run's compute environment (default: a placeholder the "
                        "CloudFormation template fills)")
    p.add_argument("--cleanup-out", type=Path, default=None, metavar="FILE",
                   help="also write the cleanup state machine, which deletes what a stopped, timed-out or failed "
                        "execution left (the CloudFormation template includes it)")

    p = sub.add_parser("export-sumstats", help="a finished run's results as GWAS-SSF (GWAS Catalog) files")
    p.add_argument("run", nargs="?", type=Path, default=None, help="run folder (default: this folder)")
    p.add_argument("--trait", action="append", default=[], help="only this trait (repeatable; default: all)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: <run>/sumstats)")
    p.add_argument("--genome-build", choices=["GRCh37", "GRCh38"], default=None,
                   help="genome assembly of the positions (default: the spec's genome_build)")
    p.add_argument("--neg-log10-p", action="store_true",
                   help="write neg_log_10_p_value (regenie's LOG10P as printed) instead of p_value")

    p = sub.add_parser("loci", help="LD-clumped loci of a finished run, their genes and regional plots")
    p.add_argument("run", nargs="?", type=Path, default=None, help="run folder or its spec file (default: this folder)")
    p.add_argument("--pheno", action="append", default=[], help="only this phenotype (repeatable; default: all)")
    p.add_argument("--html", type=Path, default=None, help="also write one page with every locus table and plot")

    p = sub.add_parser("report", help="(re)write the run's report.html, index.html and phenotypes/ pages")
    p.add_argument("run", nargs="?", type=Path, default=None, help="run folder (default: this folder)")
    p.add_argument("--out", type=Path, default=None,
                   help="where to write report.html (default: <run>/report.html); the pages go beside it")
    _add_run_args(p)

    p = sub.add_parser("serve", help="live dashboard of a run on 127.0.0.1; prints a URL with a random token")
    p.add_argument("run", nargs="?", type=Path, default=None, help="run folder (default: this folder)")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")

    p = sub.add_parser("executor-settings", help="the settings of each executor kind: type, default, description")
    p.add_argument("kind", nargs="?", default=None, help="local, slurm or aws_batch (default: all)")

    p = sub.add_parser("metrics", help="elapsed time, queue wait, attempts and failures per step and job")
    p.add_argument("run", nargs="?", type=Path, default=None, help="run folder (default: this folder)")
    p.add_argument("--format", choices=["table", "json", "prometheus"], default="table")

    p = sub.add_parser("qc", help="variant and sample QC before step 1 (plink2's filters): --extract/--keep lists")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--bed", metavar="PREFIX", help="PLINK 1 genotypes PREFIX.bed/.bim/.fam")
    source.add_argument("--pgen", metavar="PREFIX", help="PLINK 2 hard calls PREFIX.pgen/.pvar/.psam")
    p.add_argument("--out", required=True, type=Path, metavar="PREFIX",
                   help="writes PREFIX.snplist, PREFIX.keep (FID IID) and PREFIX.qc.json")
    p.add_argument("--maf", type=float, default=None, help="minimum minor allele frequency (founders)")
    p.add_argument("--mac", type=float, default=None, help="minimum minor allele count (founders)")
    p.add_argument("--geno", type=float, default=None, help="maximum missing call rate of a variant")
    p.add_argument("--mind", type=float, default=None, help="maximum missing call rate of a sample")
    p.add_argument("--hwe", type=float, default=None, help="minimum HWE exact test p-value (founders)")
    p.add_argument("--indep-pairwise", nargs=3, default=None, metavar=("WINDOW", "STEP", "R2"),
                   help="LD pruning: window and step in variants, r^2 threshold")
    p.add_argument("--engine", choices=["auto", "builtin", "plink2"], default="auto",
                   help="plink2, the built-in engine, or auto: plink2 when it is on PATH (default)")
    p.add_argument("--threads", type=int, default=None, help="threads for plink2 (default: all cores)")
    lists = p.add_mutually_exclusive_group()
    lists.add_argument("--keep", type=Path, default=None, metavar="FILE",
                       help="write to PREFIX.keep only the kept samples listed here (FID IID lines)")
    lists.add_argument("--remove", type=Path, default=None, metavar="FILE",
                       help="leave out of PREFIX.keep the samples listed here (FID IID lines)")

    sub.add_parser("regenie", help="the built-in regenie engine (regenie's flags)", add_help=False)
    sub.add_parser("selftest", help="check this installation's engine against regenie's own outputs", add_help=False)
    return parser


def _memory_mb(text: str) -> int:
    from gwasflow.units import parse_memory_mb

    try:
        return parse_memory_mb(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(text: str) -> int:
    from gwasflow.units import parse_seconds

    try:
        return parse_seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["regenie"]:
        from gwasflow.regenie.cli import main as regenie_main

        return regenie_main(args_list[1:])
    if args_list[:1] == ["selftest"]:
        from gwasflow.commands.selftest import main as selftest_main

        return selftest_main(args_list[1:])
    args = _parser().parse_args(args_list)
    from gwasflow.core.events import Level, LogFormat, configure_console

    configure_console(fmt=LogFormat(args.log_format), level=Level[args.log_level.upper()])
    handler = _HANDLERS[args.command]
    try:
        return handler(args)
    except SpecError as exc:
        for problem in exc.problems:
            print(f"error: {redact(str(problem))}", file=sys.stderr)
        return exc.exit_code
    except GwasflowError as exc:
        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:  # `gwasflow plan ... | head`: the reader left; say nothing more
        sys.stderr.close()
        return 0


def _cmd_validate(args: argparse.Namespace) -> int:
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


def _cmd_plan(args: argparse.Namespace) -> int:
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


def _cmd_run(args: argparse.Namespace) -> int:
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
    code = _report_outcome(outcome)
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


def _cmd_demo(args: argparse.Namespace) -> int:
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


def _cmd_simulate(args: argparse.Namespace) -> int:
    from gwasflow.simulate import simulate_cohort, write_cohort

    cohort = simulate_cohort(n_samples=args.samples, n_variants=args.variants, n_chrom=args.chromosomes,
                             n_causal=args.causal, seed=args.seed, trait=args.trait)
    files = write_cohort(cohort, args.out)
    print(f"wrote {files.bed}, {files.pheno}, {files.covar}, {files.truth}")
    return 0


def _cmd_failures(args: argparse.Namespace) -> int:
    from gwasflow.commands.runfolder import print_failures

    return print_failures(args.run, as_json=args.json)


def _cmd_logs(args: argparse.Namespace) -> int:
    from gwasflow.commands.runfolder import print_logs

    if len(args.args) > 2:
        raise SpecError([Problem("logs", "give at most a run folder and a job id")])
    run = Path(args.args[0]) if len(args.args) == 2 else None
    return print_logs(run, args.args[-1], attempt=args.attempt)


def _cmd_export(args: argparse.Namespace) -> int:
    from gwasflow.export.stepfunctions import ExportOptions, main_export

    options = ExportOptions(job_queue=args.job_queue, job_definition_prefix=args.job_definition_prefix,
                            failure_table=args.failure_table, image=args.image, manifest=args.manifest,
                            data_repository=args.data_repository, regenie_versions=tuple(args.regenie_version),
                            job_definitions_out=args.job_definitions_out,
                            instance_profile_arn=args.instance_profile_arn,
                            batch_service_role_arn=args.batch_service_role_arn, cleanup_out=args.cleanup_out)
    return main_export(args.spec, args.format, args.out, options)


def _cmd_export_sumstats(args: argparse.Namespace) -> int:
    from gwasflow.export.sumstats import main_export_sumstats

    return main_export_sumstats(args.run, traits=args.trait, out=args.out, genome_build=args.genome_build,
                                neg_log10_p=args.neg_log10_p)


def _cmd_loci(args: argparse.Namespace) -> int:
    from gwasflow.report.loci.command import main_loci

    return main_loci(args.run, phenotypes=args.pheno, html=args.html)


def _cmd_report(args: argparse.Namespace) -> int:
    from gwasflow.commands.runfolder import write_run_report

    return write_run_report(args.run, out=args.out, quiet=args.quiet)


def _cmd_serve(args: argparse.Namespace) -> int:
    from gwasflow.commands.server import serve

    serve(args.run, host=args.host, port=args.port)
    return 0


def _cmd_metrics(args: argparse.Namespace) -> int:
    from gwasflow.commands.runfolder import print_metrics

    return print_metrics(args.run, fmt=args.format)


def _cmd_verify(args: argparse.Namespace) -> int:
    from gwasflow.commands.runfolder import print_verify

    return print_verify(args.run)


def _report_outcome(outcome: RunOutcome) -> int:
    from gwasflow.core.states import RunState

    print(f"run {outcome.run_id}: {outcome.state.value} in {outcome.elapsed_s:.1f} s ({outcome.message})")
    if outcome.state is RunState.SUCCEEDED:
        return 0
    return EXIT_CANCELLED if outcome.state is RunState.CANCELLED else 1


def _cmd_resume(args: argparse.Namespace) -> int:
    from gwasflow.commands.launch import resume_run
    from gwasflow.commands.progress import make_progress
    from gwasflow.core.rundir import find_rundir

    return _report_outcome(resume_run(find_rundir(args.run), progress=make_progress(quiet=args.quiet)))


def _cmd_retry(args: argparse.Namespace) -> int:
    from gwasflow.commands.launch import driver_pid, retry_run
    from gwasflow.commands.progress import make_progress
    from gwasflow.core.rundir import find_rundir

    rundir = find_rundir(args.run)
    if driver_pid(rundir) is not None:
        return _retry_live(rundir, args)
    chosen, outcome = retry_run(
        rundir, job_ids=args.job, error_types=args.error_type, memory_mb=args.mem,
        time_s=args.time, progress=make_progress(quiet=args.quiet),
    )
    if outcome is None:
        return _rebuild_lost(rundir, args)
    print(f"re-running {len(chosen)} failed job(s): {', '.join(chosen[:10])}{' ...' if len(chosen) > 10 else ''}")
    return _report_outcome(outcome)


def _rebuild_lost(rundir: RunDir, args: argparse.Namespace) -> int:
    """No failed job: rebuild lost or damaged results (as ``resume`` does) if there are any."""
    from gwasflow.commands.launch import resume_run
    from gwasflow.commands.progress import make_progress
    from gwasflow.commands.runfolder import lost_outputs

    lost = [] if args.job or args.error_type else lost_outputs(rundir)
    if not lost:
        print("no failed job matches; nothing to retry")
        return 0
    print(f"no failed job; re-running {len(lost)} job(s) whose outputs are lost or damaged: "
          f"{', '.join(lost[:10])}{' ...' if len(lost) > 10 else ''}")
    return _report_outcome(resume_run(rundir, progress=make_progress(quiet=args.quiet)))


def _retry_live(rundir: RunDir, args: argparse.Namespace) -> int:
    """The run is being driven: record retry requests that its driver takes within seconds."""
    from gwasflow.commands.control import request_retry
    from gwasflow.commands.launch import choose_failed
    from gwasflow.store import SQLiteStore

    store = SQLiteStore(rundir.store_path)
    try:
        run = store.latest_run()
        chosen = choose_failed(store, run.run_id, args.job, args.error_type) if run else []
    finally:
        store.close()
    if not chosen:
        print("no failed job matches; nothing to retry")
        return 0
    print(request_retry(rundir, job_ids=chosen, memory_mb=args.mem, time_s=args.time, source="cli"))
    return 0


def _cmd_cancel(args: argparse.Namespace) -> int:
    from gwasflow.commands.launch import cancel_run
    from gwasflow.core.rundir import find_rundir

    print(cancel_run(find_rundir(args.run)))
    return 0


def _cmd_executor_settings(args: argparse.Namespace) -> int:
    from gwasflow.executors.registry import executor_kinds, format_settings

    kinds = executor_kinds() if args.kind is None else [args.kind]
    if args.kind is not None and args.kind not in executor_kinds():
        print(f"error: unknown executor kind {args.kind!r}; known: {', '.join(executor_kinds())}", file=sys.stderr)
        return 2
    print("\n\n".join(format_settings(kind) for kind in kinds))
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    from gwasflow.commands.status import print_status

    return print_status(args.run, as_json=args.json)


def _cmd_qc(args: argparse.Namespace) -> int:
    from gwasflow.qc import GenotypeFormat, PruneConfig, QcConfig, QcEngine
    from gwasflow.qc.stage import SampleList, run_qc_stage

    try:
        prune = None
        if args.indep_pairwise is not None:
            window, step, r2 = args.indep_pairwise
            if not (window.isdigit() and step.isdigit()):
                raise ValueError(f"--indep-pairwise: WINDOW and STEP must be variant counts, got {window} {step}")
            prune = PruneConfig(window=int(window), step=int(step), r2=float(r2))
        config = QcConfig(maf=args.maf, mac=args.mac, geno=args.geno, mind=args.mind, hwe=args.hwe, prune=prune)
    except ValueError as exc:
        print(f"error: qc: {exc}", file=sys.stderr)
        return 2
    engine = None if args.engine == "auto" else QcEngine(args.engine)
    kind = GenotypeFormat.PGEN if args.pgen else GenotypeFormat.BED
    listed = args.keep or args.remove
    samples = None if listed is None else SampleList(listed, keep=args.keep is not None)
    result = run_qc_stage(args.pgen or args.bed, config, args.out, engine, kind, threads=args.threads,
                          samples=samples)
    removed = " ".join(f"{name.value}={count}" for name, count in result.removed.items())
    print(f"qc engine={result.engine.value} variants={len(result.variant_ids)}/{result.n_variants_in} "
          f"samples={len(result.samples)}/{result.n_samples_in} removed: {removed or 'none'}")
    return 0


_HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": _cmd_run,
    "validate": _cmd_validate,
    "plan": _cmd_plan,
    "demo": _cmd_demo,
    "simulate": _cmd_simulate,
    "status": _cmd_status,
    "failures": _cmd_failures,
    "logs": _cmd_logs,
    "retry": _cmd_retry,
    "resume": _cmd_resume,
    "cancel": _cmd_cancel,
    "verify": _cmd_verify,
    "report": _cmd_report,
    "loci": _cmd_loci,
    "export": _cmd_export,
    "export-sumstats": _cmd_export_sumstats,
    "metrics": _cmd_metrics,
    "executor-settings": _cmd_executor_settings,
    "serve": _cmd_serve,
    "qc": _cmd_qc,
}
