"""What step 2 compiles and loads before its first block: which loops, and in which thread.

numba's start (about 0.5 s of one core: its import, and its first call, which imports scipy.linalg) is paid
in a thread while step 2 reads its inputs, so the first block finds the loops ready.
"""

from __future__ import annotations

from gwasflow.regenie.options import Options
from gwasflow.regenie.step2.hardcalls import warm_kernels

__all__ = ["warm_compiled"]


def warm_compiled(opts: Options) -> None:
    """Load the compiled loops the blocks call: .bed quantitative traits' own loops or BGEN's decoder, the
    result rows' and the ``G'W`` products' (every step 2 run, at every ``--threads``: the same loops give the
    same bytes whatever the thread count)."""
    if opts.bed:
        from gwasflow.regenie.kernels.calls import warm_bed_calls

        warm_bed_calls()
    if opts.bed and not opts.bt:
        warm_kernels()
    elif opts.bgen:
        from gwasflow.regenie.kernels import warm_numba

        warm_numba()
    from gwasflow.regenie.kernels.products import warm_products
    from gwasflow.regenie.kernels.text import warm_result_rows

    warm_result_rows()
    warm_products()
