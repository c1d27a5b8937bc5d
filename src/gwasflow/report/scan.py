"""Reading a regenie result file in large blocks: whole lines, four columns parsed by numpy's C reader.

``parse_block`` parses CHROM, GENPOS, CHISQ and LOG10P of a block of lines;
the few rows a summary keeps whole are cut out of the raw block at its
newlines (``Block.line``). Blocks that numpy cannot read (ragged rows, blank
lines) go through a per-line parser.
"""

from __future__ import annotations

import gzip
import io
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = ["Block", "Columns", "blocks", "number", "open_binary", "parse_block", "sorted_unique"]

_BLOCK_BYTES = 1 << 23
_ROW_DTYPE = np.dtype([("chrom", "U32"), ("pos", "i8"), ("chisq", "f8"), ("logp", "f8")])


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def open_binary(path: Path) -> io.BufferedIOBase:
    """Open a result file for binary reading, gzip or plain, by its magic bytes."""
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(path, "rb")
    return path.open("rb")


def blocks(handle: io.BufferedIOBase) -> Iterator[bytes]:
    """Whole lines, about ``_BLOCK_BYTES`` at a time."""
    carry = b""
    while block := handle.read(_BLOCK_BYTES):
        block = carry + block
        cut = block.rfind(b"\n") + 1
        if cut:
            yield block[:cut]
        carry = block[cut:]
    if carry.strip():
        yield carry + b"\n"


class Block:
    """The four columns every row needs; the block's lines are split only for the few rows kept whole."""

    def __init__(
        self,
        chrom: NDArray[np.str_],
        pos: NDArray[np.int64],
        chisq: NDArray[np.float64],
        logp: NDArray[np.float64],
        *,
        raw: bytes = b"",
        lines: list[str] | None = None,
    ) -> None:
        self.chrom, self.pos, self.chisq, self.logp = chrom, pos, chisq, logp
        self._raw, self._lines = raw, lines
        self._ends: NDArray[np.intp] | None = None

    def line(self, i: int) -> str:
        """Line ``i``, cut out of the raw bytes at its newlines (the block is split only when parsed slowly)."""
        if self._lines is not None:
            return self._lines[i]
        if self._ends is None:
            self._ends = np.flatnonzero(np.frombuffer(self._raw, dtype=np.uint8) == 10)
        start = int(self._ends[i - 1]) + 1 if i else 0
        return self._raw[start : int(self._ends[i])].decode()


class Columns:
    def __init__(self, header: list[str]) -> None:
        self.col = {name: i for i, name in enumerate(header)}
        self.use = (self.col["CHROM"], self.col["GENPOS"], self.col["CHISQ"], self.col["LOG10P"])


def parse_block(data: bytes, cols: Columns) -> Block:
    """Parse with numpy's C reader (regenie's ``NA`` spelled ``nan``); fall back to ``str.split``.

    The fast path needs every line to have the header's column count and no
    blank lines (the row count must equal the line count); anything else goes
    through the per-line parser.
    """
    text = data.decode()
    table = _loadtxt(text, cols)
    if table is None and "NA" in text:  # a failed test: regenie writes NA for its CHISQ and LOG10P
        table = _loadtxt(text.replace(" NA ", " nan ").replace(" NA ", " nan ").replace(" NA\n", " nan\n"), cols)
    if table is not None and table.shape[0] == data.count(b"\n"):
        return Block(table["chrom"], table["pos"], table["chisq"], table["logp"], raw=data)
    lines = [line for line in text.splitlines() if line.strip()]
    i_chrom, i_pos, i_chisq, i_logp = cols.use
    rows = [line.split() for line in lines]
    return Block(
        np.array([r[i_chrom] for r in rows], dtype=_ROW_DTYPE["chrom"]).reshape(-1),
        np.array([int(r[i_pos]) for r in rows], dtype=np.int64).reshape(-1),
        np.array([number(r[i_chisq]) for r in rows], dtype=np.float64).reshape(-1),
        np.array([number(r[i_logp]) for r in rows], dtype=np.float64).reshape(-1),
        lines=lines,
    )


def sorted_unique(keys: NDArray[np.int64]) -> NDArray[np.int64]:
    """``np.unique`` by sorting (numpy 2's hash-based unique is much slower on large int arrays)."""
    keys = np.sort(keys)
    keep = np.ones(keys.size, dtype=bool)
    keep[1:] = keys[1:] != keys[:-1]
    return keys[keep]


def _loadtxt(text: str, cols: Columns) -> NDArray[np.void] | None:
    try:
        table: NDArray[np.void] = np.loadtxt(
            io.StringIO(text), dtype=_ROW_DTYPE, usecols=cols.use, comments=None, ndmin=1
        )
    except ValueError:
        return None
    return table
