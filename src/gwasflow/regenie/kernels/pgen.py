"""Compiled decoding of the .pgen dosage records plink2 writes for imputed data, without the GIL.

A record whose genotype track is fixed-width (type bits 0-2 zero: 2 bits a sample, 0/1/2 ALT alleles, 3
missing) and which has either no dosage track (type 0x00) or a dosage track of a presence bit array followed
by one 16-bit dosage per present sample (type 0x60: 1/16384 units of the ALT dosage, 65535 missing) is
decoded here (PLINK 2's .pgen format, "Variant record" section); the samples without a dosage take their
hard call. Any other record is left to pgenlib, the reference (``decoded[j] = False``).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from gwasflow.regenie.kernels.base import OPTIONS, compile_kernel

__all__ = ["pgen_dosages_kernel"]

_DOSAGE_UNIT = 1.0 / 16384.0  # a power of two: each dosage's float64 is exact, as pgenlib's


_CALLS = np.array([[np.nan if (byte >> (2 * k)) & 3 == 3 else float((byte >> (2 * k)) & 3) for k in range(4)]
                   for byte in range(256)])  # the 4 hard calls of each byte of a genotype track, as dosages


@numba.njit(**OPTIONS)  # type: ignore[untyped-decorator]
def _hard_calls(data: Any, start: int, n_raw: int, row: Any) -> None:
    """The fixed-width genotype track at ``data[start:]`` (4 samples a byte) as dosages into ``row``."""
    full = n_raw // 4
    for b in range(full):
        byte = data[start + b]
        for k in range(4):
            row[4 * b + k] = _CALLS[byte, k]
    for s in range(4 * full, n_raw):
        row[s] = _CALLS[data[start + full], s - 4 * full]


@numba.njit(**OPTIONS)  # type: ignore[untyped-decorator]
def _record_dosages(data: Any, start: int, kind: int, length: int, n_raw: int, row: Any) -> bool:
    """One record's ALT dosages of all raw samples into ``row`` (NaN when missing); False for a record of
    another type (or whose length is not the one its type implies), ``row`` then undefined."""
    calls_bytes = (n_raw + 3) // 4
    if kind == 0x00:
        if length != calls_bytes:
            return False
        _hard_calls(data, start, n_raw, row)
        return True
    if kind != 0x60:
        return False
    flags = start + calls_bytes
    flags_bytes = (n_raw + 7) // 8
    place = flags + flags_bytes
    end = start + length
    _hard_calls(data, start, n_raw, row)
    if end - place < 2:
        return end == place
    last = end - 2
    for s in range(n_raw):  # without branches on the presence bits (random on imputed data)
        present = np.int64((data[flags + (s >> 3)] >> (s & 7)) & 1)
        at = min(place, last)
        dosage = np.int64(data[at]) | (np.int64(data[at + 1]) << 8)
        value = np.nan if dosage == 65535 else dosage * _DOSAGE_UNIT
        row[s] = value if present else row[s]
        place += 2 * int(present)
    return place == end


def _pgen_dosages(data: Any, starts: Any, lengths: Any, types: Any, variants: Any, samples: Any, n_raw: int,
                  out: Any, decoded: Any) -> None:
    """Variant ``variants[j]``'s ALT dosages of the raw samples ``samples`` (increasing; all of them when
    its size is ``n_raw``) into ``out[:, j]``, NaN when missing, for the record types
    above; ``decoded[j]`` says whether it was (else ``out[:, j]`` is left to pgenlib)."""
    everyone = samples.shape[0] == n_raw
    row = np.empty(n_raw, dtype=np.float64)
    for j in range(variants.shape[0]):
        v = variants[j]
        decoded[j] = _record_dosages(data, starts[v], types[v], lengths[v], n_raw, row)
        if not decoded[j]:
            continue
        if everyone:
            out[:, j] = row
        else:
            for i in range(samples.shape[0]):
                out[i, j] = row[samples[i]]


pgen_dosages_kernel = compile_kernel(_pgen_dosages)
