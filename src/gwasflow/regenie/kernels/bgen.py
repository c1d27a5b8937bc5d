"""Compiled loops of the BGEN reader: blocks decompressed by calling libdeflate or libzstd from compiled code,
and layout-2 probabilities decoded into dosages and their variances (BGEN v1.2 spec)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from llvmlite import ir  # type: ignore[import-untyped]
from numba.core import types
from numba.extending import intrinsic

from gwasflow.regenie.kernels.base import OPTIONS, compile_kernel, dot

__all__ = ["bgen_dosages_kernel", "inflate_blocks_kernel"]


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


@numba.njit(inline="always", **OPTIONS)  # type: ignore[untyped-decorator]
def _packed_value(data: Any, start: int, bit: int, bits: int) -> Any:
    """The ``bits``-bit unsigned value that begins ``bit`` bits after byte ``start`` (BGEN's little-endian packing)."""
    pos = start + (bit >> 3)
    shift = bit & 7
    acc = np.int64(0)
    for t in range((shift + bits + 7) >> 3):
        acc |= np.int64(data[pos + t]) << (8 * t)
    return (acc >> shift) & ((np.int64(1) << bits) - 1)


@numba.njit(inline="always", **OPTIONS)  # type: ignore[untyped-decorator]
def _probability(code: Any, table: Any, denom: float) -> float:
    """``code / denom``, read from ``table`` (which holds ``k / denom`` for every k it covers) when it covers it."""
    if code >= 0 and code < table.shape[0]:
        value: float = table[code]
        return value
    return code / denom  # type: ignore[no-any-return]


@numba.njit(inline="always", **OPTIONS)  # type: ignore[untyped-decorator]
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


@numba.njit(inline="always", **OPTIONS)  # type: ignore[untyped-decorator]
def _byte_pair(data: Any, values: int, i: int, bits: int) -> tuple[Any, Any]:
    """Sample ``i``'s two stored integers at 8 or 16 bits."""
    if bits == 8:
        return np.int64(data[values + 2 * i]), np.int64(data[values + 2 * i + 1])
    at = values + 4 * i
    return np.int64(data[at]) | (np.int64(data[at + 1]) << 8), np.int64(data[at + 2]) | (np.int64(data[at + 3]) << 8)


@numba.njit(**OPTIONS)  # type: ignore[untyped-decorator]
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


@numba.njit(**OPTIONS)  # type: ignore[untyped-decorator]
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
            variance_sums[j, p] = dot(spread, weights[:, p])
    return 0


bgen_dosages_kernel = compile_kernel(_bgen_dosages)

