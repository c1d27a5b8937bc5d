"""The chi-square(1) log upper tail of :func:`gwasflow.regenie.step2.tails.chi2_1_logsf` as a compiled loop.

The same formulas, branch for branch (C's ``erf``/``erfc`` through numba's ``math``, the asymptotic
series above ``z = 20``), one value at a time without the GIL: the numpy version maps Python's
``math.erfc`` over the values, holding the GIL for about 0.2 ms of each 1,000-variant block, which two
threads then take in turn.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gwasflow.regenie.kernels.base import compile_kernel

__all__ = ["chi2_1_logsf_kernel"]

_TAIL_FROM = 20.0
_TAIL_TERMS = 12
_LOG_SQRT_PI = 0.5 * math.log(math.pi)
_ERF_BELOW = 0.4769362762044699


def _chi2_1_logsf(values: Any, out: Any) -> None:
    """``out[i] = log P(chi2_1 > values[i])`` (both 1-D); NaN for NaN or a negative value."""
    for i in range(values.shape[0]):
        z = math.sqrt(values[i] * 0.5) if values[i] >= 0.0 else np.nan
        if z != z:
            out[i] = np.nan
        elif z > _TAIL_FROM:
            step = -0.5 / (z * z)
            term = 1.0
            series = 1.0
            for k in range(1, _TAIL_TERMS + 1):
                term *= (2 * k - 1) * step
                series += term
            out[i] = math.log(series) - math.log(z) - _LOG_SQRT_PI - z * z
        elif z < _ERF_BELOW:
            out[i] = math.log1p(-math.erf(z))
        else:
            out[i] = math.log(math.erfc(z))


chi2_1_logsf_kernel = compile_kernel(_chi2_1_logsf)
