"""Compiled writing of step 2's result rows as ASCII bytes, without the GIL (:func:`result_rows_kernel`).

Numbers are printed as Python's ``format(v, 'g')`` (C's ``%g``, precision 6)
prints them, which is how regenie's C++ streams print them: the value rounded
to 6 significant digits, fixed notation for decimal exponents -4 to 5, else
``d.ddddde+XX``, trailing zeros and a bare point dropped; NaN as ``NA``,
``-0`` as ``0``, infinities as ``inf``/``-inf``.

The rounding is decided in floating point: ``y = |v| 10^k`` (k chosen so that
``10^5 <= y < 10^6``) is computed with at most four roundings, an error under
1e-9 in ``y``; its rounding to an integer is certain unless its fraction lies
within ``_TIE_MARGIN`` (1e-8) of one half. Then (exact ties included, which
Python rounds half to even) the kernel gives up on the block and returns -1,
and the caller prints that block in Python: the bytes are always Python's.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from gwasflow.regenie.kernels.base import OPTIONS, compile_kernel

__all__ = ["MAX_NUMBER_BYTES", "put_g", "result_rows_kernel", "warm_result_rows"]

MAX_NUMBER_BYTES = 13  # "-1.23457e-308"
_TIE_MARGIN = 1e-8
_POW10 = np.array([float(f"1e{k}") for k in range(309)])  # each correctly rounded (exact up to 1e22)
_ZERO, _POINT, _MINUS, _SPACE, _NEWLINE = 48, 46, 45, 32, 10


@numba.njit(inline="always", **OPTIONS)  # type: ignore[untyped-decorator]
def _scaled(x: float, k: int) -> float:
    """``x 10^k``, within 2 units in the last place: correctly rounded powers of ten, one or two correctly
    rounded operations (``x 10^300`` first when 10^k would overflow, for subnormal ``x``)."""
    if k > 308:
        scaled: float = (x * _POW10[300]) * _POW10[k - 300]
    elif k >= 0:
        scaled = x * _POW10[k]
    else:
        scaled = x / _POW10[-k]
    return scaled


@numba.njit(**OPTIONS)  # type: ignore[untyped-decorator]
def _put_int(value: int, out: Any, at: int) -> int:
    """``value`` in decimal at ``out[at:]``; returns the next position."""
    if value < 0:
        out[at] = _MINUS
        at += 1
        value = -value
    scale = 1
    while value // scale >= 10:
        scale *= 10
    while scale > 0:
        out[at] = _ZERO + (value // scale) % 10
        at += 1
        scale //= 10
    return at


@numba.njit(**OPTIONS)  # type: ignore[untyped-decorator]
def _digits(x: float) -> tuple[int, int]:
    """The 6 significant digits (an integer in [10^5, 10^6)) and the decimal exponent of ``x > 0`` (finite),
    or (-1, 0) when the rounding is too close to a tie to decide in floating point."""
    e: int = math.floor(math.log10(x))
    y = _scaled(x, 5 - e)
    if y < 100000.0:
        e -= 1
        y = _scaled(x, 5 - e)
    elif y >= 1000000.0:
        e += 1
        y = _scaled(x, 5 - e)
    whole = math.floor(y)
    fraction = y - whole
    if abs(fraction - 0.5) < _TIE_MARGIN:
        return -1, 0
    digits = int(whole) + (1 if fraction > 0.5 else 0)
    if digits >= 1000000:
        digits //= 10
        e += 1
    return digits, e


@numba.njit(**OPTIONS)  # type: ignore[untyped-decorator]
def put_g(value: float, out: Any, at: int) -> int:
    """``format(value, 'g')`` at ``out[at:]`` (NaN: ``NA``, -0: ``0``); the next position, or -1 when undecided."""
    if value != value:
        out[at] = 78
        out[at + 1] = 65
        return at + 2
    if value == 0.0:
        out[at] = _ZERO
        return at + 1
    if value < 0.0:
        out[at] = _MINUS
        at += 1
        value = -value
    if value == math.inf:
        out[at] = 105
        out[at + 1] = 110
        out[at + 2] = 102
        return at + 3
    digits, e = _digits(value)
    if digits < 0:
        return -1
    kept = 6  # significant digits left once trailing zeros go
    while digits % 10 == 0:
        digits //= 10
        kept -= 1
    scale = 10 ** (kept - 1)
    if -4 <= e < 6:
        if e < 0:
            out[at] = _ZERO
            out[at + 1] = _POINT
            at += 2
            for _ in range(-e - 1):
                out[at] = _ZERO
                at += 1
        for position in range(max(kept, e + 1)):
            if position == e + 1 and e >= 0:
                out[at] = _POINT
                at += 1
            out[at] = _ZERO + (digits // scale) % 10 if scale > 0 else _ZERO
            at += 1
            scale //= 10
        return at
    out[at] = _ZERO + digits // scale
    at += 1
    if kept > 1:
        out[at] = _POINT
        at += 1
        scale //= 10
        while scale > 0:
            out[at] = _ZERO + (digits // scale) % 10
            at += 1
            scale //= 10
    out[at] = 101
    out[at + 1] = 43 if e >= 0 else _MINUS
    at += 2
    if -10 < e < 10:
        out[at] = _ZERO
        at += 1
    end: int = _put_int(abs(e), out, at)
    return end


def _result_rows(prefix: Any, starts: Any, rows: Any, head: Any, n_obs: Any, tail: Any, failed: Any,
                 out: Any) -> int:
    """Result rows into ``out``: per kept row ``r`` (a block position in ``rows``), the variant text
    ``prefix[starts[r]:starts[r + 1]]`` (``CHROM GENPOS ID ALLELE0 ALLELE1 ``), the ``head`` numbers
    (A1FREQ[, INFO]), ``N ADD``, the ``tail`` numbers (BETA SE CHISQ LOG10P) and EXTRA (``TEST_FAIL`` where
    ``failed``, else ``NA``). Returns the bytes written, or -1 when some number's rounding is undecided."""
    at = 0
    for i in range(rows.shape[0]):
        r = rows[i]
        for b in range(starts[r], starts[r + 1]):
            out[at] = prefix[b]
            at += 1
        for c in range(head.shape[1]):
            at = put_g(head[i, c] + 0.0, out, at)
            if at < 0:
                return -1
            out[at] = _SPACE
            at += 1
        at = _put_int(n_obs[i], out, at)
        for byte in (_SPACE, 65, 68, 68):  # " ADD"
            out[at] = byte
            at += 1
        for c in range(tail.shape[1]):
            out[at] = _SPACE
            at = put_g(tail[i, c] + 0.0, out, at + 1)
            if at < 0:
                return -1
        out[at] = _SPACE
        at += 1
        if failed[i]:
            for byte in (84, 69, 83, 84, 95, 70, 65, 73, 76):  # TEST_FAIL
                out[at] = byte
                at += 1
        else:
            out[at] = 78
            out[at + 1] = 65
            at += 2
        out[at] = _NEWLINE
        at += 1
    return at


result_rows_kernel = compile_kernel(_result_rows)


def warm_result_rows() -> None:
    """Load :func:`result_rows_kernel` for the argument types step 2 passes (numba's start included when it is
    the first kernel): run in a thread while step 2 reads its inputs, the first block finds it ready."""
    out = np.empty(256, dtype=np.uint8)
    for n_head in (1, 2):
        result_rows_kernel(np.frombuffer(b"1 1 a A C ", dtype=np.uint8), np.array([0, 10], dtype=np.int64),
                           np.zeros(1, dtype=np.intp), np.full((1, n_head), 0.5), np.ones(1, dtype=np.int64),
                           np.ones((1, 4)), np.zeros(1, dtype=np.bool_), out)
