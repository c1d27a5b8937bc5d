"""The chi-square(1) upper tail of step 2's tests, in logs, with the standard library's error functions (no scipy).

regenie prints ``LOG10P = -log10 P(chi2_1 > CHISQ)`` (regenie docs, "Output"); far in the tail the
probability underflows a double, so its logarithm is computed directly.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["chi2_1_logsf"]

_TAIL_FROM = 20.0  # z above which erfc(z) is taken from its asymptotic series (erfc(20) = 5e-176)
_TAIL_TERMS = 12  # its terms after 1: at z = 20 the next is below 1e-20 (an upper bound of the error)
_LOG_SQRT_PI = 0.5 * math.log(math.pi)
_ERF_BELOW = 0.4769362762044699  # erf(z) = 1/2 there


def chi2_1_logsf(chisq: NDArray[np.float64], *, compiled: bool = False) -> NDArray[np.float64]:
    """Natural log of the chi-square(1) upper tail, ``log P(X > x) = log erfc(z)``, ``z = sqrt(x / 2)``, without
    underflow.

    Up to ``z = 20``, C's ``erfc`` (``math.erfc``, within an ulp or two; ``log1p(-erf(z))`` where erfc is
    above 1/2); above, ``log erfc(z) = -z^2 -
    log(z sqrt(pi)) + log(1 - 1/(2z^2) + 3/(4z^4) - ...)``, the asymptotic series of erfc (Abramowitz and
    Stegun 7.1.23), whose error is below its first omitted term. The same values as ``ln 2 + log_ndtr(-sqrt
    x)`` of scipy (which this replaces, so quantitative-trait runs do not import scipy.special: 0.1 s) to
    within a few units in the last place. NaN stays NaN. ``compiled``: the same formulas by a compiled loop,
    without the GIL (:mod:`gwasflow.regenie.kernels.tails`; step 2 has numba loaded).
    """
    values = np.asarray(chisq, dtype=np.float64)
    if compiled:
        from gwasflow.regenie.kernels.tails import chi2_1_logsf_kernel

        flat = np.ascontiguousarray(values).ravel()
        out = np.empty_like(flat)
        chi2_1_logsf_kernel(flat, out)
        return out.reshape(values.shape)
    with np.errstate(invalid="ignore"):
        z = np.sqrt(values.ravel() * 0.5)
    tail = z > _TAIL_FROM
    head = z < _ERF_BELOW  # erfc(z) > 1/2: log1p(-erf(z)) keeps the digits log(erfc(z)) loses near 1
    middle = ~(tail | head)
    result = np.empty_like(z)
    near = z[head]
    result[head] = np.log1p(-np.fromiter(map(math.erf, near.tolist()), dtype=np.float64, count=near.size))
    near = z[middle]
    erfc = np.fromiter(map(math.erfc, near.tolist()), dtype=np.float64, count=near.size)
    with np.errstate(divide="ignore"):
        result[middle] = np.log(erfc)
    result[np.isnan(z)] = np.nan
    far = z[tail]
    if far.size:
        step = -0.5 / (far * far)
        term = np.ones_like(far)
        series = np.ones_like(far)
        for k in range(1, _TAIL_TERMS + 1):
            term *= (2 * k - 1) * step
            series += term
        result[tail] = np.log(series) - np.log(far) - _LOG_SQRT_PI - far * far
    shaped: NDArray[np.float64] = result.reshape(values.shape)
    return shaped
