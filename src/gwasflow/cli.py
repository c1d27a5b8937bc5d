"""The ``gwasflow`` command: the argument tree, and dispatch to the subcommand's handler in ``commands/``.

Each subcommand's handler is ``commands.<module>.cmd_<name>(args) -> exit code`` (:data:`_HANDLERS`), imported
only when that subcommand runs. Exit codes: 0 success; 1 the run failed; 2 bad spec, input or arguments
(nothing started, nothing written); 130 cancelled.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from gwasflow import __version__
from gwasflow.commands.run import EXIT_CANCELLED
from gwasflow.core.uri import redact
from gwasflow.errors import GwasflowError, SpecError

__all__ = ["main"]

if TYPE_CHECKING:  # the type of ``parser.add_subparsers()``
    _Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
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
    _add_spec_commands(sub)
    _add_run_folder_commands(sub)
    _add_export_commands(sub)
    _add_report_commands(sub)
    _add_tool_commands(sub)
    return parser


def _add_spec_commands(sub: _Subparsers) -> None:
    """Run, validate, plan, demo, simulate: a spec or a cohort."""
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


def _add_run_folder_commands(sub: _Subparsers) -> None:
    """Status, failures, logs, retry, resume, cancel, verify: a run folder."""
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


def _add_export_commands(sub: _Subparsers) -> None:
    """Export, export-sumstats, loci: a spec or a finished run for other tools."""
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


def _add_report_commands(sub: _Subparsers) -> None:
    """Report, serve, executor-settings, metrics."""
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


def _add_tool_commands(sub: _Subparsers) -> None:
    """Qc, and the regenie engine and selftest (their own argument parsers)."""
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
    handler = _handler(args.command)
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


# subcommand -> (module in gwasflow.commands, function taking the parsed arguments and returning the exit code)
_HANDLERS: dict[str, tuple[str, str]] = {
    "run": ("run", "cmd_run"),
    "validate": ("run", "cmd_validate"),
    "plan": ("run", "cmd_plan"),
    "demo": ("run", "cmd_demo"),
    "simulate": ("tools", "cmd_simulate"),
    "status": ("folder", "cmd_status"),
    "failures": ("folder", "cmd_failures"),
    "logs": ("folder", "cmd_logs"),
    "retry": ("rerun", "cmd_retry"),
    "resume": ("rerun", "cmd_resume"),
    "cancel": ("rerun", "cmd_cancel"),
    "verify": ("folder", "cmd_verify"),
    "report": ("folder", "cmd_report"),
    "loci": ("tools", "cmd_loci"),
    "export": ("tools", "cmd_export"),
    "export-sumstats": ("tools", "cmd_export_sumstats"),
    "metrics": ("folder", "cmd_metrics"),
    "executor-settings": ("tools", "cmd_executor_settings"),
    "serve": ("folder", "cmd_serve"),
    "qc": ("tools", "cmd_qc"),
}


def _handler(command: str) -> Callable[[argparse.Namespace], int]:
    """The handler of a subcommand, its module imported now (``gwasflow --help`` imports none of them)."""
    module, function = _HANDLERS[command]
    handler = getattr(importlib.import_module(f"gwasflow.commands.{module}"), function)
    return cast("Callable[[argparse.Namespace], int]", handler)
