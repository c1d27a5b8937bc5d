"""Merge step 2 shards into one regenie file per phenotype.

Shards are concatenated in the order the planner gives (chromosome, then
position; datasets in spec order), streaming line by line, into a gzip file
written under a temporary name and renamed at the end. The row count is
checked against the plan: every planned variant is either a row or one of the
tests the shard's log says it ignored for low minor allele count.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from gwasflow.errors import GwasflowError
from gwasflow.storage.atomic import atomic_path

__all__ = ["MergeError", "MergeResult", "ignored_low_mac", "merge_phenotype", "open_text"]

_IGNORED = re.compile(r"Number of ignored tests due to low MAC\s*:\s*(\d+)")


class MergeError(GwasflowError):
    """Shards are missing, malformed or do not add up to the plan."""


@dataclass(frozen=True)
class MergeResult:
    path: Path
    rows: int
    ignored: int


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
    header: list[str] = []
    rows = 0
    with atomic_path(out) as tmp:
        with gzip.open(tmp, "wt", compresslevel=6) as sink:
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
