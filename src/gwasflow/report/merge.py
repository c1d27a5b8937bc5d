"""Merge step 2 shards into one regenie file per phenotype, bgzip-compressed and tabix-indexed.

The result is ``<pheno>.regenie.gz`` (BGZF, which is valid gzip) with regenie's
columns separated by tabs (tabix reads tab-separated fields), its rows sorted by
chromosome (1..22, then X/23, Y, XY, MT, then other names) and position, and
``<pheno>.regenie.gz.tbi`` beside it: tabix's index on CHROM (column 1) and
GENPOS (column 2), the header line kept and marked as meta (it starts with
``C``), so ``tabix -h file 1:100-200`` prints it.

The planner hands shards over in chromosome/position order and each shard is
sorted, so the usual merge streams shard after shard. Shards whose ranges
overlap (two datasets covering the same region) are merged in memory, sorted
as a whole. Both files are written under temporary names and renamed at the
end; BGZF blocks carry no time or name, so merging the same shards again gives
the same bytes (and the same SHA-256). The row count is checked against the
plan: every planned variant is either a row or one of the tests the shard's
log says it ignored for low minor allele count.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pysam

from gwasflow.core.atomic import atomic_path
from gwasflow.errors import GwasflowError
from gwasflow.plan.chunking import chrom_sort_key

__all__ = [
    "MergeError",
    "MergeResult",
    "ResultScan",
    "ignored_low_mac",
    "merge_counts",
    "merge_phenotype",
    "open_text",
    "scan_result",
    "tabix_path",
]

_IGNORED = re.compile(r"Number of ignored tests due to low MAC\s*:\s*(\d+)")
_MERGE_MESSAGE = re.compile(r"^(\d+) rows \((\d+) ignored for low MAC\)")
_GZIP_MAGIC = b"\x1f\x8b"
_META_CHAR = "C"  # regenie's header starts with CHROM; no chromosome name does
_WRITE_BYTES = 1 << 20

_Key = tuple[tuple[int, int, str], int]
_Row = tuple[_Key, str]


class MergeError(GwasflowError):
    """Shards are missing, malformed or do not add up to the plan."""


@dataclass(frozen=True)
class MergeResult:
    path: Path
    rows: int
    ignored: int


@dataclass(frozen=True)
class ResultScan:
    """What a merged result file holds: its SHA-256, its data rows, whether any row has a LOG10P value."""

    sha256: str
    rows: int
    has_value: bool


def merge_counts(message: str) -> tuple[int, int] | None:
    """(rows, ignored for low MAC) from the message a merge job recorded, None if it is not one."""
    match = _MERGE_MESSAGE.match(message)
    return (int(match.group(1)), int(match.group(2))) if match else None


def scan_result(path: Path) -> ResultScan:
    """Read a merged result whole: SHA-256 of its bytes, then its rows through gzip.

    Rows are counted by line ends; rows are split into fields only until one with a LOG10P value
    (not NA) is found, so a trait with results costs little more than decompression and an all-NA one
    is read row by row. Raises :class:`MergeError` when it is not a gzip regenie file with a LOG10P
    column, a row read has another field count than the header, or the last row is cut; a damaged
    stream raises what ``gzip`` raises (``EOFError``, ``gzip.BadGzipFile``, ``zlib.error``) or
    ``UnicodeDecodeError`` (header).
    """
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    with path.open("rb") as probe:
        if probe.read(2) != _GZIP_MAGIC:
            raise MergeError("not a gzip file")
    with gzip.open(path, "rb") as stream:
        header = stream.readline().decode("utf-8").split()
        if "LOG10P" not in header:
            raise MergeError("no regenie header with a LOG10P column")
        rows, has_value = _rows_and_value(stream, header.index("LOG10P"), len(header))
    return ResultScan(digest.hexdigest(), rows, has_value)


def _rows_and_value(stream: gzip.GzipFile, column: int, width: int) -> tuple[int, bool]:
    """(rows, whether some row has a LOG10P value) of the rest of a result after its header."""
    rows, found, pending, last = 0, False, b"", b"\n"
    while chunk := stream.read(1 << 20):
        if not found:
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            for offset, line in enumerate(lines):
                fields = line.split()
                if len(fields) != width:
                    raise MergeError(f"line {rows + offset + 2} has {len(fields)} fields, the header {width}")
                if _is_value(fields[column]):
                    found = True
                    break
        rows += chunk.count(b"\n")
        last = chunk[-1:]
    if last != b"\n":
        raise MergeError(f"line {rows + 2} is cut short (no end of line)")
    return rows, found


def _is_value(field: bytes) -> bool:
    try:
        return math.isfinite(float(field))
    except ValueError:
        return False


def open_text(path: Path) -> IO[str]:
    """Open a regenie result file for reading, gzip or plain, by its magic bytes."""
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt")
    return path.open("r")


def ignored_low_mac(log_path: Path) -> int:
    """Tests a regenie step 2 run skipped for low MAC, from its log (0 when the line is absent)."""
    if not log_path.exists():
        return 0
    match = _IGNORED.search(log_path.read_text(errors="replace"))
    return int(match.group(1)) if match else 0



def tabix_path(result: Path) -> Path:
    """Where the tabix index of a merged result goes: ``<result>.tbi``."""
    return result.with_name(result.name + ".tbi")


class _Overlap(Exception):
    """A shard starts before the previous one ends: the shards must be merged as a whole."""


def _shard_rows(path: Path, header: list[str]) -> list[_Row]:
    """A shard's rows as tab-separated lines with their sort keys, sorted (stably) by chromosome and position.

    The first shard read fills ``header``; a later shard with another header is a :class:`MergeError`.
    """
    with open_text(path) as handle:
        first = handle.readline().split()
        if not first:
            raise MergeError(f"shard {path} is empty (no header)")
        if header and first != header:
            raise MergeError(f"shard {path} has header {first} but earlier shards have {header}")
        header[:] = first
        rows: list[_Row] = []
        chroms: dict[str, tuple[int, int, str]] = {}
        for number, line in enumerate(handle, start=2):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 2 or not fields[1].isdigit():
                raise MergeError(f"shard {path} line {number}: no CHROM and integer GENPOS in its first two fields")
            chrom = chroms.get(fields[0]) or chroms.setdefault(fields[0], _chrom_key(fields[0], path, number))
            rows.append(((chrom, int(fields[1])), "\t".join(fields) + "\n"))
    rows.sort(key=lambda row: row[0])  # linear on the sorted shards regenie writes
    return rows


def _chrom_key(name: str, path: Path, number: int) -> tuple[int, int, str]:
    if name.startswith(_META_CHAR):
        raise MergeError(f"shard {path} line {number}: chromosome {name!r} starts with {_META_CHAR!r}, "
                         "which marks the header for tabix")
    return chrom_sort_key(name)


class _Sink:
    """Tab-separated lines into a BGZF file, in blocks of about a megabyte."""

    def __init__(self, path: Path) -> None:
        self._file = pysam.BGZFile(str(path), "wb", None)
        self._pending: list[str] = []
        self._size = 0

    def write(self, line: str) -> None:
        self._pending.append(line)
        self._size += len(line)
        if self._size >= _WRITE_BYTES:
            self._flush()

    def _flush(self) -> None:
        self._file.write("".join(self._pending).encode("utf-8"))
        self._pending, self._size = [], 0

    def close(self) -> None:
        self._flush()
        self._file.close()


def _write(path: Path, header: list[str], blocks: Iterable[list[_Row]], *, check_order: bool) -> int:
    """Write the header, then every block's rows; with ``check_order``, raise :class:`_Overlap` on a step back."""
    sink = _Sink(path)
    rows = 0
    last: _Key | None = None
    try:
        for block in blocks:  # the first block read fills the header
            if not block:
                continue
            if check_order and last is not None and block[0][0] < last:
                raise _Overlap
            if not rows:
                sink.write("\t".join(header) + "\n")
            for _, line in block:
                sink.write(line)
            rows += len(block)
            last = block[-1][0]
        if not rows and header:
            sink.write("\t".join(header) + "\n")
    finally:
        sink.close()
    return rows


def _write_sorted(shards: Sequence[Path], path: Path) -> int:
    """Merge ``shards`` into ``path`` sorted by chromosome and position; returns the data rows written."""
    header: list[str] = []
    try:
        return _write(path, header, (_shard_rows(s, header) for s in shards), check_order=True)
    except _Overlap:
        whole = [row for shard in shards for row in _shard_rows(shard, header)]
        whole.sort(key=lambda row: row[0])
        return _write(path, header, [whole], check_order=False)


def merge_phenotype(
    shards: Sequence[Path],
    out: Path,
    *,
    planned_rows: int | None = None,
    ignored_per_shard: Sequence[int] | None = None,
) -> MergeResult:
    """Merge ``shards`` into ``out`` (bgzip, sorted) and ``out.tbi``, checking headers and the planned row count.

    ``ignored_per_shard`` gives, per shard, the planned variants the shard
    skipped for low MAC; with ``planned_rows``, ``rows + sum(ignored)`` must
    equal ``planned_rows`` or :class:`MergeError` is raised and nothing is
    published.
    """
    missing = [str(s) for s in shards if not s.exists()]
    if missing:
        raise MergeError(f"{len(missing)} shard result(s) missing, first: {missing[0]}")
    index = tabix_path(out)
    for target in (out, index):
        if target.exists() and not target.is_file():
            raise MergeError(f"{target} exists and is not a file; move it away to publish the merged result there")
    # the data is renamed into place first, then its index: tabix wants the index no older than the data
    with atomic_path(index) as tmp_index, atomic_path(out, suffix=".tmp.gz") as tmp:
        rows = _write_sorted(shards, tmp)
        ignored = sum(ignored_per_shard or ())
        if planned_rows is not None and rows + ignored != planned_rows:
            raise MergeError(
                f"{out.name}: {rows} rows + {ignored} ignored for low MAC != {planned_rows} planned variants"
            )
        pysam.tabix_index(str(tmp), seq_col=0, start_col=1, end_col=1, meta_char=_META_CHAR,
                          index=str(tmp_index), force=True)
    return MergeResult(path=out, rows=rows, ignored=ignored)
