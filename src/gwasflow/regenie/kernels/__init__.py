"""Compiled (numba) loops, the engine's one home of them, by the data they read.

``base`` holds what they share (options, :func:`compile_kernel`, the exponential); ``bgen`` the BGEN
reader's decompression and decoding; ``calls`` quantitative-trait step 2 on hard calls (``G'W`` straight
from the int8 calls); ``binary`` the weighted sums of binary-trait step 2. Imported only by step 2 and the
BGEN reader: numba's start costs about 0.4 s (its import, and its first call, which imports scipy.linalg),
which step 1 does not pay.
"""

from __future__ import annotations

from gwasflow.regenie.kernels.base import EXP_FLOOR, compile_kernel, exp_nonpositive, warm_numba
from gwasflow.regenie.kernels.bgen import bgen_dosages_kernel, inflate_blocks_kernel
from gwasflow.regenie.kernels.binary import logistic_sums_kernel, power_moments_kernel, squared_calls_weighted_kernel
from gwasflow.regenie.kernels.calls import calls_weighted_kernel, hard_call_scan_kernel, missing_weighted_kernel

__all__ = [
    "EXP_FLOOR",
    "bgen_dosages_kernel",
    "calls_weighted_kernel",
    "compile_kernel",
    "exp_nonpositive",
    "hard_call_scan_kernel",
    "inflate_blocks_kernel",
    "logistic_sums_kernel",
    "missing_weighted_kernel",
    "power_moments_kernel",
    "squared_calls_weighted_kernel",
    "warm_numba",
]
