"""The strong variants of a result file kept with their fields, for interactive plots.

Every row with LOG10P above ``DETAIL_ABOVE_LOG10P`` (3) keeps its ID, BETA,
SE, A1FREQ and N, so a page can show them on hover. Under the null that is
one row in a thousand; a strongly inflated trait could keep many more, so the
collector holds at most ``MAX_DETAILS`` rows: past twice that it keeps the
strongest ``MAX_DETAILS`` and raises its threshold to the weakest one kept
(``min_log10p`` says which threshold held in the end).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = ["DETAIL_ABOVE_LOG10P", "MAX_DETAILS", "DetailCollector", "PointDetails"]

DETAIL_ABOVE_LOG10P = 3.0
MAX_DETAILS = 100_000


def _f64() -> NDArray[np.float64]:
    return np.zeros(0, np.float64)


def _i64() -> NDArray[np.int64]:
    return np.zeros(0, np.int64)


@dataclass(frozen=True)
class PointDetails:
    """Rows above ``min_log10p``, in file order; ``n`` is -1 where the file has no N."""

    chrom: tuple[str, ...] = ()
    pos: NDArray[np.int64] = field(default_factory=_i64)
    log10p: NDArray[np.float64] = field(default_factory=_f64)
    id: tuple[str, ...] = ()
    beta: NDArray[np.float64] = field(default_factory=_f64)
    se: NDArray[np.float64] = field(default_factory=_f64)
    a1freq: NDArray[np.float64] = field(default_factory=_f64)
    n: NDArray[np.int64] = field(default_factory=_i64)
    min_log10p: float = DETAIL_ABOVE_LOG10P

    @property
    def size(self) -> int:
        return int(self.log10p.size)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


class DetailCollector:
    """Accumulates detailed rows from split lines; bounded by ``max_rows`` (see the module docstring)."""

    def __init__(self, header: dict[str, int], *, max_rows: int = MAX_DETAILS) -> None:
        self.min_log10p = DETAIL_ABOVE_LOG10P
        self._max = max_rows
        self._col = {name: header.get(name) for name in ("ID", "BETA", "SE", "A1FREQ", "N")}
        self._rows: list[tuple[str, int, float, str, float, float, float, int]] = []

    def add(self, chrom: str, pos: int, log10p: float, cells: list[str]) -> None:
        """Keep one row (the caller checked ``log10p > min_log10p``)."""

        def text(name: str) -> str:
            j = self._col[name]
            return cells[j] if j is not None and j < len(cells) else ""

        n = _number(text("N"))
        self._rows.append((chrom, pos, log10p, text("ID"), _number(text("BETA")), _number(text("SE")),
                           _number(text("A1FREQ")), int(n) if math.isfinite(n) else -1))  # fmt: skip
        if len(self._rows) > 2 * self._max:
            self._prune()

    def _prune(self) -> None:
        strongest = sorted(range(len(self._rows)), key=lambda i: -self._rows[i][2])[: self._max]
        self._rows = [self._rows[i] for i in sorted(strongest)]
        self.min_log10p = max(self.min_log10p, min(r[2] for r in self._rows))

    def result(self) -> PointDetails:
        if len(self._rows) > self._max:
            self._prune()
        rows = self._rows
        return PointDetails(
            chrom=tuple(r[0] for r in rows),
            pos=np.array([r[1] for r in rows], dtype=np.int64),
            log10p=np.array([r[2] for r in rows], dtype=np.float64),
            id=tuple(r[3] for r in rows),
            beta=np.array([r[4] for r in rows], dtype=np.float64),
            se=np.array([r[5] for r in rows], dtype=np.float64),
            a1freq=np.array([r[6] for r in rows], dtype=np.float64),
            n=np.array([r[7] for r in rows], dtype=np.int64),
            min_log10p=self.min_log10p,
        )
