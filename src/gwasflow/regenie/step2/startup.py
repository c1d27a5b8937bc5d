"""What step 2 compiles and loads before its first block: which loops, and in which thread.

numba's start (about 0.4 s of one core: its import, and its first call, which imports scipy.linalg) is paid
in a thread while step 2 reads its inputs, so the first block finds the loops ready (from 50,000 samples,
after the phenotype and covariate tables: ``run_step2``).
"""

from __future__ import annotations

import numpy as np

from gwasflow.regenie.options import Options
from gwasflow.regenie.step2.hardcalls import warm_kernels

__all__ = ["compiled_loops", "warm_compiled"]


def compiled_loops(opts: Options) -> bool:
    """Whether step 2's blocks call the compiled loops (numba): the result rows, the ``G'W`` products, LOG10P's
    tail and PGEN's squares, all without the GIL. Every run but quantitative traits on a .pgen with one thread:
    nothing else there needs numba, whose start (about 0.4 s of one core and 120 MiB of peak RSS, not hidden
    behind a .pgen's quick start) was a third of a 10,000 x 20,000 run; that run takes BLAS's products and
    numpy's squares and prints its rows in Python. The rows are the same bytes either way; the products and
    squares agree to rounding (BLAS and the compiled loop add in different orders), which changes a printed
    6-digit value only at a decimal tie."""
    return not (opts.pgen and not opts.bt and opts.threads == 1)


def warm_compiled(opts: Options) -> None:
    """Load the compiled loops the blocks call: .bed's own loops or BGEN's decoder, and with
    :func:`compiled_loops` the result rows', the ``G'W`` products' and LOG10P's tail."""
    if opts.bed:
        from gwasflow.regenie.kernels.calls import warm_bed_calls

        warm_bed_calls()
    if opts.bed and not opts.bt:
        warm_kernels()
    elif opts.bgen:
        from gwasflow.regenie.kernels import warm_numba

        warm_numba()
    if not compiled_loops(opts):
        return
    from gwasflow.regenie.kernels.products import warm_products
    from gwasflow.regenie.kernels.tails import chi2_1_logsf_kernel
    from gwasflow.regenie.kernels.text import warm_result_rows

    warm_result_rows()
    warm_products()
    chi2_1_logsf_kernel(np.ones(1), np.empty(1))
