"""What every compiled loop shares: numba's options, :func:`compile_kernel`, the bit casts and the exponential.

Every kernel is compiled with exact IEEE arithmetic (no fastmath, so a kernel
rounds as its source reads; one reassociates its sums, see
:func:`compile_kernel`) and numpy's error model: a division by zero gives inf
or nan instead of raising, which leaves no branch back to Python in a loop
that divides, so LLVM can vectorize it (this alone takes ``logistic_sums``
from 3.2 to 2.2 ms per 10,000 x 32 call). The machine code is cached next to
this module, or in the user's cache folder where that is read-only; where
numba finds no writable place at all, the kernels are compiled in every
process instead.

The exponential inside the loops is :func:`exp_nonpositive`, not
``math.exp``: LLVM cannot vectorize a call to the C library's ``exp`` (PyPI's
llvmlite links no vector math library), and the scalar call cost about 8 ns
of the 11 ns per sample and column.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]
from numba.core import types
from numba.extending import intrinsic

__all__ = ["EXP_FLOOR", "OPTIONS", "compile_kernel", "dot", "exp_nonpositive", "warm_numba"]

OPTIONS: dict[str, Any] = {"fastmath": False, "error_model": "numpy", "nogil": True}


def compile_kernel(func: Callable[..., Any], *, reassociate: bool = False) -> Callable[..., Any]:
    """``func`` compiled by numba with the module's options, cached on disk where numba finds a writable folder.

    ``reassociate`` lets LLVM reorder the additions of a sum (to add several
    terms at once in vector registers), as BLAS reorders those of a matrix
    product: the result is as exact, but its last bits depend on the vector
    width of the machine.
    """
    options = dict(OPTIONS, fastmath={"reassoc"}) if reassociate else OPTIONS
    try:
        compiled: Callable[..., Any] = numba.njit(cache=True, **options)(func)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        compiled = numba.njit(cache=False, **options)(func)
    return compiled


def _bitcast(to: str) -> Callable[[Any, Any], tuple[Any, Callable[..., Any]]]:
    """The typing function of a numba intrinsic that reinterprets a float64 as int64 bits, or back (``to``)."""
    def typing(typingctx: Any, value: Any) -> tuple[Any, Callable[..., Any]]:
        target = ir.DoubleType() if to == "float" else ir.IntType(64)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.bitcast(args[0], target)  # an LLVM bitcast: no machine instruction
        signature = types.float64(types.int64) if to == "float" else types.int64(types.float64)
        return signature, codegen
    return typing


_bits_to_float: Any = intrinsic(_bitcast("float"))  # the float64 whose IEEE 754 bit pattern is an int64


_float_to_bits: Any = intrinsic(_bitcast("int"))  # the IEEE 754 bit pattern of a float64, as an int64


EXP_FLOOR = -708.0  # exp(-708) = 3.3e-308 is still a normal float64; 2^k below stays in the exponent range
_LOG2E = 1.4426950408889634
# ln 2 in two parts (fdlibm's split): _LN2_HI has its low 32 bits zero, so k * _LN2_HI is exact for |k| < 2^21
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_ROUNDER = 6755399441055744.0  # 1.5 * 2^52: adding it rounds a float of magnitude < 2^51 to an integer
_ROUNDER_BITS = 0x4338000000000000  # its bit pattern; the low bits of (x + _ROUNDER) then hold round(x)


@numba.njit(inline="always", **OPTIONS)  # type: ignore[untyped-decorator]
def exp_nonpositive(a: float) -> float:
    """``exp(a)`` for ``a <= 0``, within 2 units in the last place for ``a >= EXP_FLOOR``; 0.0 below it; nan for nan.

    Written with arithmetic and bit operations only, so LLVM vectorizes the
    loops that call it. ``a = k ln2 + r`` with ``k = round(a / ln 2)`` and
    ``|r| <= ln2 / 2`` (Cody and Waite's reduction, ln 2 in two parts so
    ``r`` is exact to a few units of 2^-60); ``exp(r)`` is its Taylor
    polynomial of degree 13, whose remainder is below
    ``(ln2 / 2)^14 / 14! * exp(ln2 / 2) = 5.7e-18`` relative, far under one
    unit in the last place (1.1e-16); ``2^k`` is built in the exponent
    field. Below ``EXP_FLOOR``, 0.0 (the true value is under 3.3e-308).
    """
    x = EXP_FLOOR if a < EXP_FLOOR else a  # nan stays nan
    shifted = x * _LOG2E + _ROUNDER
    k = shifted - _ROUNDER
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0  # 1 / 13!
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    scale: float = _bits_to_float((_float_to_bits(shifted) - _ROUNDER_BITS + 1023) << 52)  # 2^k, -1022 <= k <= 0
    result: float = 0.0 if a < EXP_FLOOR else p * scale
    return result


def _dot_loop(a: Any, b: Any) -> float:
    """``sum a[i] b[i]``, the additions reordered for vector registers (as BLAS's dot product)."""
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * b[i]
    return total


dot = compile_kernel(_dot_loop, reassociate=True)


def warm_numba() -> None:
    """Pay numba's start here (about 0.4 s: its first call builds its typing and target contexts, importing
    scipy.linalg for BLAS): run in a thread while step 2 reads other inputs, the first block starts sooner."""
    dot(np.ones(2), np.ones(2))

