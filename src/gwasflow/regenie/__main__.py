"""``python -m gwasflow.regenie ...``: the built-in engine with regenie's flags.

``--threads N`` also caps the BLAS thread pools through the environment, set
here before numpy is imported.
"""

import os
import sys


def _threads_from_argv(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg.startswith("--threads="):
            return arg.partition("=")[2]
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
    return None


_threads = _threads_from_argv(sys.argv[1:])
if _threads is not None and _threads.isdigit():
    for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_name, _threads)

from gwasflow.regenie.cli import main  # noqa: E402

raise SystemExit(main(sys.argv[1:]))
