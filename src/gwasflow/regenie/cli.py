"""Command-line entry of the built-in regenie engine.

``main(argv)`` accepts regenie's flags (see :mod:`gwasflow.regenie.options`)
and returns an exit code: 0 on success (and for ``--help``, which lists the
flags), 2 for a bad flag or input, reported as one ``error: ...`` line on
stderr (never a traceback), followed by the machine-readable last line
``gwasflow-error: bad_input`` that gwasflow's error classification reads
(``engine/classify.py``).
"""

from __future__ import annotations

import os
import sys
from contextlib import AbstractContextManager, nullcontext

from gwasflow.errors import EngineInputError
from gwasflow.regenie.options import Options, build_parser, parse_args, wants_help
from gwasflow.regenie.runlog import RunLog

__all__ = ["BAD_INPUT_LINE", "main"]

#: the last stderr line on bad input: gwasflow reads exactly this line, with exit status 2, as ``bad_input``
BAD_INPUT_LINE = "gwasflow-error: bad_input"


def _blas_limit(threads: int) -> AbstractContextManager[object]:
    """Limit BLAS threads to ``threads`` when threadpoolctl is installed; otherwise leave them."""
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return nullcontext()
    limiter: AbstractContextManager[object] = threadpool_limits(limits=threads, user_api="blas")
    return limiter


def _run(opts: Options, log: RunLog) -> None:
    folder = os.path.dirname(opts.out) or "."
    if not os.path.isdir(folder):
        raise EngineInputError(f"--out: folder {folder} does not exist")
    log.options(opts)
    # step 2 runs --threads blocks at once, each with single-threaded BLAS; step 1 gives BLAS the threads
    with _blas_limit(opts.threads if opts.step == 1 else 1):
        if opts.step == 1:
            from gwasflow.regenie.step1 import run_step1

            run_step1(opts, log)
        else:
            from gwasflow.regenie.step2 import run_step2

            run_step2(opts, log)


def main(argv: list[str]) -> int:
    """Run the engine with regenie-style ``argv`` (program name excluded); return the exit code."""
    if wants_help(argv):
        print(build_parser().format_help(), end="")
        return 0
    log = RunLog()
    opts: Options | None = None
    try:
        opts = parse_args(argv)
        _run(opts, log)
    except EngineInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(BAD_INPUT_LINE, file=sys.stderr)
        log.add(f"ERROR: {exc}")
        if opts is not None and os.path.isdir(os.path.dirname(opts.out) or "."):
            _write_log(log, opts.out)
        return exc.exit_code
    _write_log(log, opts.out)
    return 0


def _write_log(log: RunLog, out: str) -> None:
    try:
        log.write(out)
    except OSError as exc:
        print(f"error: --out: cannot write {out}.log: {exc}", file=sys.stderr)
