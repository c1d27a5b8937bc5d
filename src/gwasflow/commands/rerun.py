"""``gwasflow resume``, ``retry`` and ``cancel``: carry on with, re-run, or stop a run in its folder."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from gwasflow.commands.run import report_outcome

if TYPE_CHECKING:
    from gwasflow.core.rundir import RunDir

__all__ = ["cmd_cancel", "cmd_resume", "cmd_retry"]


def cmd_resume(args: argparse.Namespace) -> int:
    from gwasflow.commands.launch import resume_run
    from gwasflow.commands.progress import make_progress
    from gwasflow.core.rundir import find_rundir

    return report_outcome(resume_run(find_rundir(args.run), progress=make_progress(quiet=args.quiet)))


def cmd_retry(args: argparse.Namespace) -> int:
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
    return report_outcome(outcome)


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
    return report_outcome(resume_run(rundir, progress=make_progress(quiet=args.quiet)))


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


def cmd_cancel(args: argparse.Namespace) -> int:
    from gwasflow.commands.launch import cancel_run
    from gwasflow.core.rundir import find_rundir

    print(cancel_run(find_rundir(args.run)))
    return 0
