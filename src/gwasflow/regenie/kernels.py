"""Compiled (numba) loops: step 2's weighted sums over the samples, and BGEN dosage decoding.

Imported only by step 2 (binary traits: :func:`gwasflow.regenie.binary.logistic.logistic_sums`,
:func:`~gwasflow.regenie.binary.logistic.power_moments` and ``g'Wg`` of hard calls; quantitative
traits on hard calls: ``G'W`` straight from the int8 calls) and by the BGEN reader: importing numba
costs about 0.2 s, which step 1 does not pay.

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

import math
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]
from numba.core import types
from numba.extending import intrinsic

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

_OPTIONS: dict[str, Any] = {"fastmath": False, "error_model": "numpy", "nogil": True}


def compile_kernel(func: Callable[..., Any], *, reassociate: bool = False) -> Callable[..., Any]:
    """``func`` compiled by numba with the module's options, cached on disk where numba finds a writable folder.

    ``reassociate`` lets LLVM reorder the additions of a sum (to add several
    terms at once in vector registers), as BLAS reorders those of a matrix
    product: the result is as exact, but its last bits depend on the vector
    width of the machine.
    """
    options = dict(_OPTIONS, fastmath={"reassoc"}) if reassociate else _OPTIONS
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


def _native(result_bits: int) -> Callable[..., tuple[Any, Callable[..., Any]]]:
    """The typing function of a numba intrinsic that calls the C function at address ``fn`` with 5 arguments,
    each an int64 that is a pointer (the 1st, 2nd and 4th) or a size (C's ``size_t``), returning an int of
    ``result_bits``
    (sign-extended to int64); a ``None`` (NULL) is passed as a last extra pointer when ``result_bits`` is 32
    (libdeflate's ``actual_out_nbytes_ret``). Calling a native function from compiled code keeps the GIL
    released across a loop of calls, where each :mod:`ctypes` call takes it back."""
    def typing(typingctx: Any, fn: Any, a0: Any, a1: Any, a2: Any, a3: Any, a4: Any,
               ) -> tuple[Any, Callable[..., Any]]:
        def codegen(context: Any, builder: Any, signature: Any, values: Any) -> Any:
            i64 = ir.IntType(64)
            pointer = ir.IntType(8).as_pointer()
            kinds = [pointer if n in pointers else i64 for n in range(5)]
            extra = [pointer] if result_bits == 32 else []
            fnty = ir.FunctionType(ir.IntType(result_bits), kinds + extra)
            target = builder.inttoptr(values[0], fnty.as_pointer())
            passed = [builder.inttoptr(v, t) if t == pointer else v for v, t in zip(values[1:], kinds, strict=True)]
            result = builder.call(target, passed + [ir.Constant(pointer, None)] * len(extra))
            return builder.sext(result, i64) if result_bits < 64 else result
        return types.int64(*([types.int64] * 6)), codegen
    # libdeflate_zlib_decompress(d, in, in_nbytes, out, out_nbytes_avail, NULL): pointers at 0, 1, 3
    # ZSTD_decompressDCtx(dctx, dst, dst_capacity, src, src_size): pointers at 0, 1, 3
    pointers = (0, 1, 3)
    return typing


_libdeflate_zlib: Any = intrinsic(_native(32))  # libdeflate_zlib_decompress, 0 on success
_zstd_dctx: Any = intrinsic(_native(64))  # ZSTD_decompressDCtx, the bytes written or an error code


def _inflate_blocks(zstd: bool, fn: int, state: int, src: Any, src_starts: Any, src_stops: Any, dst: Any,
                    dst_starts: Any, sizes: Any) -> int:
    """Decompress block k, ``src[src_starts[k]:src_stops[k]]``, into ``dst[dst_starts[k]:]`` (``sizes[k]``
    bytes) with libdeflate's zlib or libzstd's function at address ``fn`` and its decompressor ``state``;
    returns 0, or k + 1 for the first block that does not give exactly its size (the caller checked that
    every range lies inside its buffer). One call for a run of blocks: no GIL between them."""
    src_at = src.ctypes.data
    dst_at = dst.ctypes.data
    for k in range(sizes.shape[0]):
        length = src_stops[k] - src_starts[k]
        if zstd:
            got = _zstd_dctx(fn, state, dst_at + dst_starts[k], sizes[k], src_at + src_starts[k], length)
            if got != sizes[k]:
                return k + 1
        elif _libdeflate_zlib(fn, state, src_at + src_starts[k], length, dst_at + dst_starts[k], sizes[k]) != 0:
            return k + 1
    return 0


inflate_blocks_kernel = compile_kernel(_inflate_blocks)
_bits_to_float: Any = intrinsic(_bitcast("float"))  # the float64 whose IEEE 754 bit pattern is an int64
_float_to_bits: Any = intrinsic(_bitcast("int"))  # the IEEE 754 bit pattern of a float64, as an int64


EXP_FLOOR = -708.0  # exp(-708) = 3.3e-308 is still a normal float64; 2^k below stays in the exponent range
_LOG2E = 1.4426950408889634
# ln 2 in two parts (fdlibm's split): _LN2_HI has its low 32 bits zero, so k * _LN2_HI is exact for |k| < 2^21
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_ROUNDER = 6755399441055744.0  # 1.5 * 2^52: adding it rounds a float of magnitude < 2^51 to an integer
_ROUNDER_BITS = 0x4338000000000000  # its bit pattern; the low bits of (x + _ROUNDER) then hold round(x)


@numba.njit(inline="always", **_OPTIONS)  # type: ignore[untyped-decorator]
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


@numba.njit(inline="always", **_OPTIONS)  # type: ignore[untyped-decorator]
def _expit(u: float) -> tuple[float, float]:
    """``expit(u)`` and ``e = exp(-|u|)``: ``1 / (1 + e)`` or ``e / (1 + e)``, one exponential that cannot overflow."""
    e = exp_nonpositive(-abs(u))
    return (1.0 if u >= 0.0 else e) / (1.0 + e), e


@numba.njit(inline="always", **_OPTIONS)  # type: ignore[untyped-decorator]
def _fold_logs(prod: Any, log_sum: Any) -> None:
    """Add the logs of the running products ``prod`` to ``log_sum`` and restart the products at 1."""
    for j in range(prod.size):
        log_sum[j] += math.log(prod[j])
        prod[j] = 1.0


@numba.njit(inline="always", **_OPTIONS)  # type: ignore[untyped-decorator]
def _packed_value(data: Any, start: int, bit: int, bits: int) -> Any:
    """The ``bits``-bit unsigned value that begins ``bit`` bits after byte ``start`` (BGEN's little-endian packing)."""
    pos = start + (bit >> 3)
    shift = bit & 7
    acc = np.int64(0)
    for t in range((shift + bits + 7) >> 3):
        acc |= np.int64(data[pos + t]) << (8 * t)
    return (acc >> shift) & ((np.int64(1) << bits) - 1)


def _dot_loop(a: Any, b: Any) -> float:
    """``sum a[i] b[i]``, the additions reordered for vector registers (as BLAS's dot product)."""
    total = 0.0
    for i in range(a.shape[0]):
        total += a[i] * b[i]
    return total


_dot = compile_kernel(_dot_loop, reassociate=True)


def warm_numba() -> None:
    """Pay numba's start here (about 0.4 s: its first call builds its typing and target contexts, importing
    scipy.linalg for BLAS): run in a thread while step 2 reads other inputs, the first block starts sooner."""
    _dot(np.ones(2), np.ones(2))


@numba.njit(inline="always", **_OPTIONS)  # type: ignore[untyped-decorator]
def _probability(code: Any, table: Any, denom: float) -> float:
    """``code / denom``, read from ``table`` (which holds ``k / denom`` for every k it covers) when it covers it."""
    if code >= 0 and code < table.shape[0]:
        value: float = table[code]
        return value
    return code / denom  # type: ignore[no-any-return]


@numba.njit(inline="always", **_OPTIONS)  # type: ignore[untyped-decorator]
def _moments(a: Any, b: Any, phased: bool, tested_first: bool, limit: Any, table: Any,
             denom: float) -> tuple[float, float]:
    """E[g] and E[g^2] of the tested allele from a sample's two stored integers (see :func:`_bgen_dosages`)."""
    if phased:
        h1 = _probability(a if tested_first else limit - a, table, denom)
        h2 = _probability(b if tested_first else limit - b, table, denom)
        return h1 + h2, h1 + h2 + 2.0 * h1 * h2
    hom = _probability(a if tested_first else limit - a - b, table, denom)
    het = _probability(b, table, denom)
    return 2.0 * hom + het, 4.0 * hom + het


@numba.njit(inline="always", **_OPTIONS)  # type: ignore[untyped-decorator]
def _byte_pair(data: Any, values: int, i: int, bits: int) -> tuple[Any, Any]:
    """Sample ``i``'s two stored integers at 8 or 16 bits."""
    if bits == 8:
        return np.int64(data[values + 2 * i]), np.int64(data[values + 2 * i + 1])
    at = values + 4 * i
    return np.int64(data[at]) | (np.int64(data[at + 1]) << 8), np.int64(data[at + 2]) | (np.int64(data[at + 3]) << 8)


@numba.njit(**_OPTIONS)  # type: ignore[untyped-decorator]
def _decode_unphased(data: Any, ploidy: int, values: int, bits: int, tested_first: bool, rows: Any, table: Any,
                     column: Any, spread: Any) -> None:
    """:func:`_decode_variant` for unphased 8- or 16-bit blocks (imputation's output), each allele in its own
    loop without branches but the missing call's select: about 1.4 ns a sample against 4."""
    limit = table.shape[0] - 1
    denom = float(limit)
    if tested_first:
        for r in range(rows.shape[0]):
            i = rows[r]
            a, b = _byte_pair(data, values, i, bits)
            hom = table[a]
            het = table[b]
            mean = 2.0 * hom + het
            missing = data[ploidy + i] & 128
            column[r] = np.nan if missing else mean
            spread[r] = 0.0 if missing else (4.0 * hom + het) - mean * mean
    else:
        for r in range(rows.shape[0]):
            i = rows[r]
            a, b = _byte_pair(data, values, i, bits)
            implied = limit - a - b  # negative only in a malformed block: divided as the general loop does
            hom = table[implied] if implied >= 0 else implied / denom
            het = table[b]
            mean = 2.0 * hom + het
            missing = data[ploidy + i] & 128
            column[r] = np.nan if missing else mean
            spread[r] = 0.0 if missing else (4.0 * hom + het) - mean * mean


@numba.njit(**_OPTIONS)  # type: ignore[untyped-decorator]
def _decode_variant(data: Any, ploidy: int, values: int, bits: int, phased: bool, tested_first: bool,
                    rows: Any, table: Any, column: Any, spread: Any) -> None:
    """One variant's dosages into ``column`` and its calls' variances into ``spread`` (0 for a missing call),
    for any bit depth, phased or not."""
    limit = (np.int64(1) << bits) - 1
    denom = float(limit)
    for r in range(rows.shape[0]):
        i = rows[r]
        if bits == 8 or bits == 16:
            a, b = _byte_pair(data, values, i, bits)
        else:
            a = _packed_value(data, values, 2 * i * bits, bits)
            b = _packed_value(data, values, (2 * i + 1) * bits, bits)
        mean, square = _moments(a, b, phased, tested_first, limit, table, denom)
        if data[ploidy + i] & 128:
            column[r] = np.nan
            spread[r] = 0.0
        else:
            column[r] = mean
            spread[r] = square - mean * mean




def _bgen_dosages(data: Any, starts: Any, rows: Any, tested_first: bool, weights: Any, dosage: Any,
                  variance_sums: Any) -> int:
    """Dosages of the tested allele, and weighted sums of each call's variance, from BGEN layout-2 blocks.

    ``data[starts[j]:starts[j + 1]]`` is variant j's uncompressed block (BGEN v1.2 spec, "Genotype data block
    (Layout 2)"): N, K, min and max ploidy, N ploidy/missingness bytes, the phased flag, the bit depth B, then
    two B-bit values per diploid sample: P(AA), P(AB) when unphased, or each haplotype's probability of the
    first allele when phased; a probability is its integer over 2^B - 1, and an implied one (P(BB), or a
    haplotype's second allele) is 2^B - 1 minus the stored integers, over 2^B - 1, as the limix/bgen library
    computes it. For B <= 16 the quotients come from a table of ``k / (2^B - 1)``, the same divisions made
    once. ``rows`` are the samples to read (file order); ``tested_first`` says the first allele is the
    counted one (else the second). ``dosage[r, j]`` gets E[g] (NaN for a missing call, bit 7 of its ploidy
    byte) and ``variance_sums[j, p]`` the sum over r of ``(E[g^2] - E[g]^2) weights[r, p]`` over the called
    samples (the INFO score's numerator per trait; ``weights`` column-major; the sum reassociated, as BLAS's).
    Returns 0, or j + 1 for the first block that is not biallelic diploid with 1 <= B <= 32 and long enough
    for its N and for every row.
    """
    n_weights = weights.shape[1]
    spread = np.empty(rows.shape[0])
    top = np.int64(-1)
    for r in range(rows.shape[0]):
        top = max(top, np.int64(rows[r]))
    table = np.empty(0)
    table_bits = np.int64(0)
    for j in range(starts.shape[0] - 1):
        base = starts[j]
        if base + 10 > starts[j + 1]:
            return j + 1
        n = np.int64(data[base]) | (np.int64(data[base + 1]) << 8) | (np.int64(data[base + 2]) << 16) \
            | (np.int64(data[base + 3]) << 24)
        alleles = np.int64(data[base + 4]) | (np.int64(data[base + 5]) << 8)
        if base + 10 + n > starts[j + 1] or alleles != 2 or data[base + 6] != 2 or data[base + 7] != 2 or top >= n:
            return j + 1
        bits = np.int64(data[base + 9 + n])
        values = base + 10 + n
        if bits < 1 or bits > 32 or values + (2 * n * bits + 7) // 8 > starts[j + 1]:
            return j + 1
        if bits <= 16 and bits != table_bits:
            table = np.arange((np.int64(1) << bits), dtype=np.int64) / float((np.int64(1) << bits) - 1)
            table_bits = bits
        elif bits > 16:
            table = table[:0]
            table_bits = np.int64(0)
        phased = data[base + 8 + n] == 1
        if not phased and (bits == 8 or bits == 16):
            _decode_unphased(data, base + 8, values, bits, tested_first, rows, table, dosage[:, j], spread)
        else:
            _decode_variant(data, base + 8, values, bits, phased, tested_first, rows, table, dosage[:, j], spread)
        for p in range(n_weights):
            variance_sums[j, p] = _dot(spread, weights[:, p])
    return 0


bgen_dosages_kernel = compile_kernel(_bgen_dosages)


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


def _hard_call_scan(calls: Any, n_missing: Any, twos: Any) -> Any:
    """Per variant of the int8 calls (F order; negative = missing), the numbers of missing calls and of 2s into
    ``n_missing`` and ``twos``; returns the missing calls' column-major flat positions, in increasing order."""
    n_rows, n_cols = calls.shape
    total = np.int64(0)
    for j in range(n_cols):
        missing = np.int64(0)
        two = np.int64(0)
        for i in range(n_rows):
            call = calls[i, j]
            missing += np.int64(call < 0)
            two += np.int64(call == 2)
        n_missing[j] = missing
        twos[j] = two
        total += missing
    positions = np.empty(total, dtype=np.int64)
    at = 0
    for j in range(n_cols):
        if n_missing[j]:
            for i in range(n_rows):
                if calls[i, j] < 0:
                    positions[at] = j * n_rows + i
                    at += 1
    return positions


def _calls_weighted(calls: Any, weights_t: Any, out: Any) -> None:
    """``out[j, k] = sum_i g_ij weights_t[k, i]`` for int8 hard calls (F order; a negative, missing, call is 0).

    ``weights_t`` has a multiple of 4 rows. Two variants and 4 weight rows
    at a time: each weight value read serves two variants (1.6x faster than
    one variant at a time on 10,000 samples); the sums are reassociated
    (compiled with ``reassociate``): the products ``G'W`` of step 2 without
    the block's float64 copy.
    """
    n_cols = calls.shape[1]
    for j in range(0, n_cols - 1, 2):
        for k in range(0, weights_t.shape[0], 4):
            _two_calls_four_weights(calls, j, weights_t, k, out)
    if n_cols % 2:
        for k in range(0, weights_t.shape[0], 4):
            _one_call_four_weights(calls, n_cols - 1, weights_t, k, out)


@numba.njit(inline="always", **_OPTIONS)  # type: ignore[untyped-decorator]
def _two_calls_four_weights(calls: Any, j: int, weights_t: Any, k: int, out: Any) -> None:
    """``out[j:j + 2, k:k + 4]`` of :func:`_calls_weighted`."""
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    b0 = 0.0
    b1 = 0.0
    b2 = 0.0
    b3 = 0.0
    for i in range(calls.shape[0]):
        first = np.float64(calls[i, j])
        second = np.float64(calls[i, j + 1])
        g = first if first >= 0.0 else 0.0
        h = second if second >= 0.0 else 0.0
        w0 = weights_t[k, i]
        w1 = weights_t[k + 1, i]
        w2 = weights_t[k + 2, i]
        w3 = weights_t[k + 3, i]
        a0 += g * w0
        a1 += g * w1
        a2 += g * w2
        a3 += g * w3
        b0 += h * w0
        b1 += h * w1
        b2 += h * w2
        b3 += h * w3
    out[j, k] = a0
    out[j, k + 1] = a1
    out[j, k + 2] = a2
    out[j, k + 3] = a3
    out[j + 1, k] = b0
    out[j + 1, k + 1] = b1
    out[j + 1, k + 2] = b2
    out[j + 1, k + 3] = b3


@numba.njit(inline="always", **_OPTIONS)  # type: ignore[untyped-decorator]
def _one_call_four_weights(calls: Any, j: int, weights_t: Any, k: int, out: Any) -> None:
    """``out[j, k:k + 4]`` of :func:`_calls_weighted` (a block's last variant when their number is odd)."""
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    for i in range(calls.shape[0]):
        call = np.float64(calls[i, j])
        g = call if call >= 0.0 else 0.0
        s0 += g * weights_t[k, i]
        s1 += g * weights_t[k + 1, i]
        s2 += g * weights_t[k + 2, i]
        s3 += g * weights_t[k + 3, i]
    out[j, k] = s0
    out[j, k + 1] = s1
    out[j, k + 2] = s2
    out[j, k + 3] = s3


def _missing_weighted(positions: Any, n_rows: int, weights_t: Any, out: Any) -> None:
    """``out[j, k] = sum of weights_t[k, i]`` over the missing calls ``j * n_rows + i`` of ``positions``: the
    product ``M'W`` of the missing-call indicator, a few percent of the calls."""
    for k in range(weights_t.shape[0]):
        for j in range(out.shape[0]):
            out[j, k] = 0.0
    for p in range(positions.shape[0]):
        j = positions[p] // n_rows
        i = positions[p] - j * n_rows
        for k in range(weights_t.shape[0]):
            out[j, k] += weights_t[k, i]


calls_weighted_kernel = compile_kernel(_calls_weighted, reassociate=True)
missing_weighted_kernel = compile_kernel(_missing_weighted)
hard_call_scan_kernel = compile_kernel(_hard_call_scan)
power_moments_kernel = compile_kernel(_power_moments)
logistic_sums_kernel = compile_kernel(_logistic_sums)
squared_calls_weighted_kernel = compile_kernel(_squared_calls_weighted, reassociate=True)
