"""Merge step 2 shards into one regenie file per phenotype.

Shards are concatenated in the order the planner gives (chromosome, then
position; datasets in spec order), streaming line by line, into a gzip file
written under a temporary name and renamed at the end. The gzip header holds
no time and no file name, so merging the same shards again gives the same
bytes (and the same SHA-256). The row count is checked against the plan:
every planned variant is either a row or one of the tests the shard's log
says it ignored for low minor allele count.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from gwasflow.errors import GwasflowError
from gwasflow.storage.atomic import atomic_path

__all__ = [
    "MergeError",
    "MergeResult",
    "ResultScan",
    "ignored_low_mac",
    "merge_counts",
    "merge_phenotype",
    "open_text",
    "scan_result",
]

_IGNORED = re.compile(r"Number of ignored tests due to low MAC\s*:\s*(\d+)")
_MERGE_MESSAGE = re.compile(r"^(\d+) rows \((\d+) ignored for low MAC\)")
_GZIP_MAGIC = b"\x1f\x8b"


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


def _gzip_text(path: Path) -> IO[str]:
    """A text sink writing gzip with a fixed header (no file name, time 0): same input, same bytes."""
    raw = path.open("wb")
    packed = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0)
    return _Closing(packed, raw)


class _Closing(io.TextIOWrapper):
    """A text wrapper over a ``GzipFile`` that also closes the raw file under it."""

    def __init__(self, packed: gzip.GzipFile, raw: IO[bytes]) -> None:
        super().__init__(packed, encoding="utf-8", newline="")
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


def ignored_low_mac(log_path: Path) -> int:
    """Tests a regenie step 2 run skipped for low MAC, from its log (0 when the line is absent)."""
    if not log_path.exists():
        return 0
    match = _IGNORED.search(log_path.read_text(errors="replace"))
    return int(match.group(1)) if match else 0


def _rows(path: Path, header: list[str]) -> Iterator[str]:
    with open_text(path) as handle:
        first = handle.readline()
        if not first:
            raise MergeError(f"shard {path} is empty (no header)")
        if first.split() != header and header:
            raise MergeError(f"shard {path} has header {first.split()} but earlier shards have {header}")
        if not header:
            header[:] = first.split()
        for line in handle:
            if line.strip():
                yield line if line.endswith("\n") else line + "\n"


def merge_phenotype(
    shards: Sequence[Path],
    out: Path,
    *,
    planned_rows: int | None = None,
    ignored_per_shard: Sequence[int] | None = None,
) -> MergeResult:
    """Concatenate ``shards`` into ``out`` (gzip), checking headers and the planned row count.

    ``ignored_per_shard`` gives, per shard, the planned variants the shard
    skipped for low MAC; with ``planned_rows``, ``rows + sum(ignored)`` must
    equal ``planned_rows`` or :class:`MergeError` is raised and nothing is
    published.
    """
    missing = [str(s) for s in shards if not s.exists()]
    if missing:
        raise MergeError(f"{len(missing)} shard result(s) missing, first: {missing[0]}")
    if out.exists() and not out.is_file():
        raise MergeError(f"{out} exists and is not a file; move it away to publish the merged result there")
    header: list[str] = []
    rows = 0
    with atomic_path(out) as tmp:
        with _gzip_text(tmp) as sink:
            for shard in shards:
                for i, line in enumerate(_rows(shard, header)):
                    if i == 0 and rows == 0:
                        sink.write(" ".join(header) + "\n")
                    sink.write(line)
                    rows += 1
            if rows == 0 and header:
                sink.write(" ".join(header) + "\n")
        ignored = sum(ignored_per_shard or ())
        if planned_rows is not None and rows + ignored != planned_rows:
            raise MergeError(
                f"{out.name}: {rows} rows + {ignored} ignored for low MAC != {planned_rows} planned variants"
            )
    return MergeResult(path=out, rows=rows, ignored=ignored)
