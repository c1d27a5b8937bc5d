"""Compiled products of a block of genotype columns with a few weight columns: no GIL, and no BLAS.

Step 2 runs ``--threads`` blocks at once, and each block's largest product is
``G'W``: its (n_samples, n_variants) genotypes against ``W = [1 | Q | E]``,
a few columns. BLAS calls made at the same time from several threads ran one at a
time (OpenBLAS or its wrappers: not told apart): measured here (10,000 samples, ``benchmarks``-sized parts), two
threads each computing ``G'W`` on their own arrays ran 0.96x as fast as one
thread, in cache or not. These loops run at the speed of the single-threaded
BLAS call on such thin products (9.6 ms against 10.6 ms for 1,000 variants x
9 columns) and scale with the threads.

Each sum is reassociated for vector registers (:func:`compile_kernel`), as
BLAS reorders its own: the results agree with BLAS's to rounding, not bit for
bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gwasflow.regenie.kernels.base import compile_kernel

__all__ = ["columns_cross_kernel", "missing_squares_kernel", "warm_products"]


def _columns_cross(values: Any, weights: Any, out: Any) -> None:
    """``out[j, k] = sum_i values[i, j] weights[i, k]``: ``values' weights`` (both column-major)."""
    n_samples = values.shape[0]
    for j in range(values.shape[1]):
        for k in range(weights.shape[1]):
            total = 0.0
            for i in range(n_samples):
                total += values[i, j] * weights[i, k]
            out[j, k] = total


columns_cross_kernel = compile_kernel(_columns_cross, reassociate=True)


def _missing_squares(part: Any, missing_code: float, weights: Any, square: Any, squares: Any) -> None:
    """Set ``part``'s entries equal to ``missing_code`` to NaN, and ``squares[j, k]`` to the sum over the other
    entries of column j of ``part[i, j]^2 weights[i, k]`` (``square``: a scratch column of ``part``'s rows)."""
    n_samples = part.shape[0]
    for j in range(part.shape[1]):
        for i in range(n_samples):
            value = part[i, j]
            missing = value == missing_code
            part[i, j] = np.nan if missing else value
            square[i] = 0.0 if missing else value * value
        for k in range(weights.shape[1]):
            total = 0.0
            for i in range(n_samples):
                total += square[i] * weights[i, k]
            squares[j, k] = total


missing_squares_kernel = compile_kernel(_missing_squares, reassociate=True)


def warm_products() -> None:
    """Load both loops for the array layouts step 2 passes (a block of several columns, and of one)."""
    weights = np.ones((4, 3), order="F")
    for n_columns in (1, 2):
        block = np.ones((4, n_columns), order="F")
        columns_cross_kernel(block, weights, np.empty((n_columns, 3)))
        missing_squares_kernel(block, -9.0, weights, np.empty(4), np.empty((n_columns, 3)))
