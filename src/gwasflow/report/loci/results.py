"""One phenotype's association results, as the loci code needs them: CHROM, GENPOS, ID, LOG10P.

Read from a regenie result file (the merged ``results/<pheno>.regenie.gz``, bgzip and tab-separated,
or any regenie ``.regenie[.gz]`` file, whitespace-separated). ``NA`` LOG10P values become NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gwasflow.errors import GwasflowError
from gwasflow.report.merge import open_text

__all__ = ["ResultRows", "ResultsError", "read_results"]

_COLUMNS = ("CHROM", "GENPOS", "ID", "LOG10P")


class ResultsError(GwasflowError):
    """A result file lacks regenie's columns or has a malformed row."""

    exit_code = 2


@dataclass(frozen=True)
class ResultRows:
    """Rows of a result file, in file order, as parallel arrays."""

    chrom: NDArray[np.str_]
    pos: NDArray[np.int64]
    ids: NDArray[np.str_]
    log10p: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.pos.shape[0])


def read_results(path: Path) -> ResultRows:
    """Read ``path``; raises :class:`ResultsError` naming the file and line of the first problem."""
    chrom: list[str] = []
    pos: list[int] = []
    ids: list[str] = []
    log10p: list[float] = []
    with open_text(path) as handle:
        header = handle.readline().split()
        missing = [name for name in _COLUMNS if name not in header]
        if missing:
            raise ResultsError(f"{path}: line 1: no {', '.join(missing)} column(s) in the header")
        columns = [header.index(name) for name in _COLUMNS]
        width = len(header)
        for number, line in enumerate(handle, start=2):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != width:
                raise ResultsError(f"{path}: line {number}: {len(fields)} fields, the header has {width}")
            c, p, i, lp = (fields[k] for k in columns)
            try:
                pos.append(int(p))
                log10p.append(float("nan") if lp == "NA" else float(lp))
            except ValueError:
                raise ResultsError(f"{path}: line {number}: GENPOS {p!r} or LOG10P {lp!r} is not a number") from None
            chrom.append(c)
            ids.append(i)
    return ResultRows(
        chrom=np.array(chrom, dtype=np.str_),
        pos=np.array(pos, dtype=np.int64),
        ids=np.array(ids, dtype=np.str_),
        log10p=np.array(log10p, dtype=np.float64),
    )
