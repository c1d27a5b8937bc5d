"""Compiled loops of binary-trait step 2: the weighted sums over the samples of its score tests and corrections
(:func:`gwasflow.regenie.binary.logistic.logistic_sums`, :func:`~gwasflow.regenie.binary.logistic.power_moments`,
``g'Wg`` of hard calls)."""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from gwasflow.regenie.kernels.base import OPTIONS, compile_kernel, exp_nonpositive

__all__ = ["logistic_sums_kernel", "power_moments_kernel", "squared_calls_weighted_kernel"]


@numba.njit(inline="always", **OPTIONS)  # type: ignore[untyped-decorator]
def _expit(u: float) -> tuple[float, float]:
    """``expit(u)`` and ``e = exp(-|u|)``: ``1 / (1 + e)`` or ``e / (1 + e)``, one exponential that cannot overflow."""
    e = exp_nonpositive(-abs(u))
    return (1.0 if u >= 0.0 else e) / (1.0 + e), e


@numba.njit(inline="always", **OPTIONS)  # type: ignore[untyped-decorator]
def _fold_logs(prod: Any, log_sum: Any) -> None:
    """Add the logs of the running products ``prod`` to ``log_sum`` and restart the products at 1."""
    for j in range(prod.size):
        log_sum[j] += math.log(prod[j])
        prod[j] = 1.0


def _power_moments(g: Any, weights: Any, out: Any) -> None:
    """``out[k, j] = sum_i g[i, j]^(k+1) weights[i, k]`` for k = 0..3, in one pass over the rows of ``g``."""
    n_rows, n_cols = g.shape
    for k in range(4):
        for j in range(n_cols):
            out[k, j] = 0.0
    for i in range(n_rows):
        w1 = weights[i, 0]
        w2 = weights[i, 1]
        w3 = weights[i, 2]
        w4 = weights[i, 3]
        for j in range(n_cols):
            x = g[i, j]
            x2 = x * x
            out[0, j] += x * w1
            out[1, j] += x2 * w2
            out[2, j] += x2 * x * w3
            out[3, j] += x2 * x2 * w4


def _squared_calls_weighted(calls: Any, weights_t: Any, out: Any) -> None:
    """``out[j, k] = sum_i g_ij^2 weights_t[k, i]`` for int8 hard calls ``calls`` (F order; negative = missing, 0).

    ``weights_t`` has a multiple of 4 rows. Each variant's calls are read
    once per 4 weight rows, from the 1-byte calls rather than their float64
    copy; the sums over the samples are reassociated (vectorized), so this
    kernel is compiled with ``reassociate``.
    """
    n_rows, n_cols = calls.shape
    for j in range(n_cols):
        for k in range(0, weights_t.shape[0], 4):
            s0 = 0.0
            s1 = 0.0
            s2 = 0.0
            s3 = 0.0
            for i in range(n_rows):
                call = np.float64(calls[i, j])
                square = call * call if call >= 0.0 else 0.0
                s0 += square * weights_t[k, i]
                s1 += square * weights_t[k + 1, i]
                s2 += square * weights_t[k + 2, i]
                s3 += square * weights_t[k + 3, i]
            out[j, k] = s0
            out[j, k + 1] = s1
            out[j, k + 2] = s2
            out[j, k + 3] = s3


def _logistic_sums(gr: Any, offset: Any, coef: Any, out: Any) -> None:
    """Fill ``out`` (5, n_cols) with ``logistic_sums``, in one pass over the rows of ``gr`` (C order).

    Each column's sums are kept in arrays of n_cols: nothing of size
    n_samples x n_cols is allocated. ``e = exp(-|u|)`` (one exponential per
    entry, no overflow) gives ``q = 1 / (1 + e)`` for ``u >= 0``,
    ``e / (1 + e)`` otherwise, and ``softplus(u) = max(u, 0) + log(1 + e)``;
    the factors ``1 + e`` lie in [1, 2], so the product of 32 of them (at
    most 2^32) is formed and one ``log`` taken per 32 rows.
    """
    n_rows, n_cols = gr.shape
    prod = np.ones(n_cols)
    pos_sum = np.zeros(n_cols)
    log_sum = np.zeros(n_cols)
    k1 = np.zeros(n_cols)
    k2 = np.zeros(n_cols)
    k3 = np.zeros(n_cols)
    k4 = np.zeros(n_cols)
    for i in range(n_rows):
        offset_i = offset[i]
        for j in range(n_cols):  # no calls left after inlining: LLVM vectorizes this loop
            g = gr[i, j]
            u = g * coef[j] + offset_i
            q, e = _expit(u)
            positive = u >= 0.0
            pos_sum[j] += u if positive else 0.0
            prod[j] *= 1.0 + e
            v = (1.0 - q) * q
            g2 = g * g
            k1[j] += g * q
            k2[j] += g2 * v
            k3[j] += g2 * g * ((1.0 - 2.0 * q) * v)
            k4[j] += g2 * g2 * (v * (1.0 - 6.0 * v))
        if i % 32 == 31:
            _fold_logs(prod, log_sum)
    for j in range(n_cols):
        out[0, j] = pos_sum[j] + (log_sum[j] + math.log(prod[j]))
        out[1, j] = k1[j]
        out[2, j] = k2[j]
        out[3, j] = k3[j]
        out[4, j] = k4[j]


power_moments_kernel = compile_kernel(_power_moments)


logistic_sums_kernel = compile_kernel(_logistic_sums)


squared_calls_weighted_kernel = compile_kernel(_squared_calls_weighted, reassociate=True)

