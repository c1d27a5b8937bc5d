"""The subcommands on a run folder, from their parsed arguments: ``status``, ``failures``, ``logs``, ``metrics``,
``verify``, ``report``, ``serve`` (the work is in ``status``, ``runfolder`` and ``server``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from gwasflow.errors import Problem, SpecError

__all__ = ["cmd_failures", "cmd_logs", "cmd_metrics", "cmd_report", "cmd_serve", "cmd_status", "cmd_verify"]


def cmd_status(args: argparse.Namespace) -> int:
    from gwasflow.commands.status import print_status

    return print_status(args.run, as_json=args.json)


def cmd_failures(args: argparse.Namespace) -> int:
    from gwasflow.commands.runfolder import print_failures

    return print_failures(args.run, as_json=args.json)


def cmd_logs(args: argparse.Namespace) -> int:
    from gwasflow.commands.runfolder import print_logs

    if len(args.args) > 2:
        raise SpecError([Problem("logs", "give at most a run folder and a job id")])
    run = Path(args.args[0]) if len(args.args) == 2 else None
    return print_logs(run, args.args[-1], attempt=args.attempt)


def cmd_metrics(args: argparse.Namespace) -> int:
    from gwasflow.commands.runfolder import print_metrics

    return print_metrics(args.run, fmt=args.format)


def cmd_verify(args: argparse.Namespace) -> int:
    from gwasflow.commands.runfolder import print_verify

    return print_verify(args.run)


def cmd_report(args: argparse.Namespace) -> int:
    from gwasflow.commands.runfolder import write_run_report

    return write_run_report(args.run, out=args.out, quiet=args.quiet)


def cmd_serve(args: argparse.Namespace) -> int:
    from gwasflow.commands.server import serve

    serve(args.run, host=args.host, port=args.port)
    return 0
