"""What step 2 compiles and loads before its first block: which loops, and in which thread.

numba's start (about 0.5 s of one core: its import, and its first call, which imports scipy.linalg) is paid
in a thread while step 2 reads its inputs, so the first block finds the loops ready.
"""

from __future__ import annotations

from gwasflow.regenie.options import Options
from gwasflow.regenie.step2.hardcalls import warm_kernels

__all__ = ["compiled_rows", "warm_compiled"]


def compiled_rows(opts: Options) -> bool:
    """Whether the result rows are written by the compiled loop (off the GIL). Not for quantitative traits on
    a .pgen with one thread: nothing else there loads numba, whose start (0.5 s of CPU, about 120 MiB of peak
    RSS) costs more than the rows' formatting saves on 20,000 variants (measured with
    ``benchmarks/bench_step2_pgen.py``); with ``--threads 2`` the blocks need it to run at once."""
    return not (opts.pgen and not opts.bt and opts.threads == 1)


def warm_compiled(opts: Options) -> None:
    """Load the compiled loops the blocks call first: the result rows' (see :func:`compiled_rows`), and .bed
    quantitative traits' own loops or BGEN's decoder."""
    if opts.bed and not opts.bt:
        warm_kernels()
    elif opts.bgen:
        from gwasflow.regenie.kernels import warm_numba

        warm_numba()
    if compiled_rows(opts):
        from gwasflow.regenie.kernels.text import warm_result_rows

        warm_result_rows()
