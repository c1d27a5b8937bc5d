"""Per-phenotype summary statistics of merged regenie results.

One streaming pass over the merged ``.regenie.gz`` keeps, whatever the number
of rows:

* one float per variant (its CHISQ), for lambda GC and the QQ plot;
* every row with LOG10P > 2 as a plot point, and the rows below as a
  deduplicated grid of cells (positions and -log10 p rounded to roughly the
  resolution of a plot; the grid coarsens itself when it grows past
  ``_MAX_CELLS``), for the Manhattan plot;
* every genome-wide significant row, for the hits and the top loci;
* every row with LOG10P > 3 with its fields (ID, BETA, SE, A1FREQ, N), for
  interactive plots (``details.py``, bounded in number).

Formulas:

* Genomic inflation: lambda GC = median(chi-square) / 0.4549364, the median of
  a 1-df chi-square (Devlin & Roeder, "Genomic control for association
  studies", Biometrics 55:997-1004, 1999).
* Genome-wide significance: LOG10P > 7.3 (p < 5e-8).
* Top loci: distance clumping. Significant variants are taken in decreasing
  LOG10P; a variant within ``window_bp`` (500 kb) of an already chosen lead on
  the same chromosome joins that lead's locus, otherwise it becomes a new lead.
* QQ expected values: the i-th smallest of n uniform p-values has mean
  i / (n + 1) and follows Beta(i, n - i + 1), which gives the 95% band.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy import special, stats

from gwasflow.core.rundir import write_atomic
from gwasflow.report.details import DetailCollector, PointDetails
from gwasflow.report.scan import Block, Columns, blocks, number, open_binary, parse_block, sorted_unique

__all__ = [
    "CHI2_MEDIAN_1DF",
    "CLUMP_WINDOW_BP",
    "GWS_LOG10P",
    "PLOT_ALL_ABOVE_LOG10P",
    "Hit",
    "Locus",
    "ManhattanPoints",
    "PhenotypeSummary",
    "QQPoints",
    "chrom_sort_key",
    "clump_by_distance",
    "lambda_gc",
    "qq_points",
    "summarize_results",
    "write_summary",
]

CHI2_MEDIAN_1DF = 0.454936423119572
GWS_LOG10P = -math.log10(5e-8)
CLUMP_WINDOW_BP = 500_000
PLOT_ALL_ABOVE_LOG10P = 2.0

_REQUIRED = ("CHROM", "GENPOS", "ID", "BETA", "CHISQ", "LOG10P")
_Y_CELLS_PER_UNIT = 40  # -log10 p rounded to 0.025 below PLOT_ALL_ABOVE_LOG10P
_MAX_CELLS = 60_000  # Manhattan cells kept below PLOT_ALL_ABOVE_LOG10P before coarsening positions
_QQ_CELLS_PER_UNIT = 150  # QQ points deduplicated on this grid (per -log10 p unit, both axes)
_LN10 = math.log(10.0)
_X_MASK = (1 << 40) - 1  # cell keys: chromosome code << 48 | position bin << 8 | -log10 p bin


@dataclass(frozen=True)
class Hit:
    """One variant of a result file (a significant one, or the top one)."""

    chrom: str
    pos: int
    id: str
    beta: float
    log10p: float
    se: float = math.nan
    a1freq: float = math.nan
    allele0: str = ""
    allele1: str = ""
    n: int = -1  # the N column (-1 when absent)


@dataclass(frozen=True)
class Locus:
    """A lead variant and the significant variants within ``window_bp`` of it."""

    lead: Hit
    start: int
    end: int
    n_significant: int


@dataclass(frozen=True)
class ManhattanPoints:
    """Thinned points for a Manhattan plot; ``chrom_index`` indexes ``chroms`` (in plotting order)."""

    chroms: tuple[str, ...]
    chrom_length: NDArray[np.int64]
    chrom_index: NDArray[np.int32]
    pos: NDArray[np.int64]
    log10p: NDArray[np.float64]

    @property
    def n_points(self) -> int:
        return int(self.log10p.size)


@dataclass(frozen=True)
class QQPoints:
    """Thinned QQ points: expected and observed -log10 p, and the 95% band of the expected."""

    expected: NDArray[np.float64]
    observed: NDArray[np.float64]
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]


def _empty_manhattan() -> ManhattanPoints:
    return ManhattanPoints(
        (), np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.float64)
    )


def _empty_qq() -> QQPoints:
    empty = np.zeros(0, np.float64)
    return QQPoints(empty, empty, empty, empty)


@dataclass(frozen=True)
class PhenotypeSummary:
    """What one phenotype's results say. ``hits`` are all significant variants, strongest first."""

    phenotype: str
    n_variants: int
    lambda_gc: float
    n_significant: int
    top: Hit | None
    hits: list[Hit] = field(default_factory=list)
    loci: list[Locus] = field(default_factory=list)
    manhattan: ManhattanPoints = field(default_factory=_empty_manhattan)
    qq: QQPoints = field(default_factory=_empty_qq)
    details: PointDetails = field(default_factory=PointDetails)

    @property
    def n_samples(self) -> int | None:
        """The largest N among the rows read whole (the top one and those above LOG10P 3); None if no N."""
        values = [int(self.details.n.max())] if self.details.size else []
        if self.top is not None:
            values.append(self.top.n)
        best = max(values, default=-1)
        return best if best >= 0 else None


# --------------------------------------------------------------------------- public functions


def summarize_results(path: Path, phenotype: str, *, window_bp: int = CLUMP_WINDOW_BP) -> PhenotypeSummary:
    """Summarize one merged regenie result file (gzip or plain) in one streaming pass."""
    if window_bp < 0:
        raise ValueError(f"window_bp must be >= 0, got {window_bp}")
    with open_binary(path) as handle:
        header = handle.readline().decode().split()
        missing = [name for name in _REQUIRED if name not in header]
        if missing:
            raise ValueError(f"{path}: no {missing[0]} column in header")
        scan = _Scan(Columns(header))
        for text in blocks(handle):
            scan.add(parse_block(text, scan.cols))
    chisq = scan.all_chisq()
    chisq = chisq[np.isfinite(chisq)]
    hits = sorted(scan.hits, key=lambda h: (-h.log10p, h.chrom, h.pos))
    return PhenotypeSummary(
        phenotype=phenotype,
        n_variants=int(chisq.size),
        lambda_gc=lambda_gc(chisq),
        n_significant=len(hits),
        top=scan.top,
        hits=hits,
        loci=clump_by_distance(hits, window_bp=window_bp),
        manhattan=scan.manhattan(),
        qq=qq_points(chisq),
        details=scan.details.result(),
    )


def lambda_gc(chisq: NDArray[np.float64]) -> float:
    """median(chi-square) / 0.4549364 over the finite values (Devlin & Roeder 1999); NaN when none."""
    values = chisq[np.isfinite(chisq)]
    return float(np.median(values) / CHI2_MEDIAN_1DF) if values.size else math.nan


def clump_by_distance(hits: Iterable[Hit], *, window_bp: int = CLUMP_WINDOW_BP) -> list[Locus]:
    """Greedy distance clumping: strongest first, one lead per ``window_bp`` on each chromosome.

    A variant within ``window_bp`` of a chosen lead (same chromosome) joins the
    nearest such lead's locus (the earlier, stronger lead on a tie); otherwise
    it becomes a lead. Loci come back strongest first.
    """
    loci: list[_Clump] = []
    leads: dict[str, tuple[list[int], list[_Clump]]] = {}  # chrom -> lead positions (sorted), their clumps
    for hit in sorted(hits, key=lambda h: (-h.log10p, h.chrom, h.pos)):
        positions, clumps = leads.setdefault(hit.chrom, ([], []))
        at = bisect.bisect_left(positions, hit.pos)
        near = [clumps[i] for i in (at - 1, at) if 0 <= i < len(positions) and abs(positions[i] - hit.pos) <= window_bp]
        if near:
            min(near, key=lambda c: (abs(c.lead.pos - hit.pos), -c.lead.log10p)).add(hit.pos)
            continue
        clump = _Clump(hit, hit.pos, hit.pos, 1)
        positions.insert(at, hit.pos)
        clumps.insert(at, clump)
        loci.append(clump)
    return [Locus(c.lead, c.start, c.end, c.count) for c in loci]


def qq_points(chisq: NDArray[np.float64]) -> QQPoints:
    """Expected vs observed -log10 p from 1-df chi-squares, thinned, with the 95% Beta band.

    Observed -log10 p is computed in log space (``p = 2 * Phi(-sqrt(chisq))``)
    so that very large statistics do not underflow. Every point with an
    expected or observed -log10 p above 2 is kept; below, one point per cell
    of a 1/150 grid.
    """
    values = np.sort(chisq[np.isfinite(chisq)])[::-1]
    n = values.size
    if n == 0:
        return _empty_qq()
    observed = -(math.log(2.0) + special.log_ndtr(-np.sqrt(np.maximum(values, 0.0)))) / _LN10
    ranks = np.arange(1, n + 1, dtype=np.float64)
    expected = -np.log10(ranks / (n + 1))
    cells = np.floor(expected * _QQ_CELLS_PER_UNIT) * 1e6 + np.floor(observed * _QQ_CELLS_PER_UNIT)
    keep = np.ones(n, dtype=bool)
    keep[1:] = cells[1:] != cells[:-1]
    keep |= (expected > PLOT_ALL_ABOVE_LOG10P) | (observed > PLOT_ALL_ABOVE_LOG10P)
    keep[-1] = True
    idx = np.flatnonzero(keep)
    i = ranks[idx]
    lower = -np.log10(stats.beta.ppf(0.975, i, n - i + 1))
    upper = -np.log10(stats.beta.ppf(0.025, i, n - i + 1))
    return QQPoints(expected[idx], observed[idx], lower, upper)


def chrom_sort_key(chrom: str) -> tuple[int, int, str]:
    """Numeric chromosomes first (1 < 2 < 10), then X, Y, XY, MT, then any other name."""
    name = re.sub(r"^chr", "", chrom, flags=re.IGNORECASE)
    if name.isdigit():
        return (0, int(name), "")
    special_order = {"X": 1, "Y": 2, "XY": 3, "MT": 4, "M": 4}
    if name.upper() in special_order:
        return (1, special_order[name.upper()], "")
    return (2, 0, name)


def write_summary(summaries: Sequence[PhenotypeSummary], path: Path) -> None:
    """Write ``summary.tsv``: one row per phenotype."""
    lines = ["phenotype\tn_variants\tlambda_gc\tn_significant\ttop_id\ttop_chrom\ttop_pos\ttop_log10p\tn_loci"]
    for s in summaries:
        top = s.top
        lines.append(
            "\t".join(
                [
                    s.phenotype,
                    str(s.n_variants),
                    f"{s.lambda_gc:.4f}",
                    str(s.n_significant),
                    top.id if top else "NA",
                    top.chrom if top else "NA",
                    str(top.pos) if top else "NA",
                    f"{top.log10p:.3f}" if top else "NA",
                    str(len(s.loci)),
                ]
            )
        )
    write_atomic(path, "\n".join(lines) + "\n")


# --------------------------------------------------------------------------- the streaming pass


@dataclass
class _Clump:
    lead: Hit
    start: int
    end: int
    count: int

    def add(self, pos: int) -> None:
        self.start, self.end, self.count = min(self.start, pos), max(self.end, pos), self.count + 1


class _Scan:
    """State of one pass over a result file (see the module docstring for what is kept)."""

    def __init__(self, cols: Columns) -> None:
        self.cols = cols
        self.chisq: list[NDArray[np.float64]] = []
        self.hits: list[Hit] = []
        self.top: Hit | None = None
        self.codes: dict[str, int] = {}
        self.chrom_max: dict[int, int] = {}
        self.high: list[tuple[NDArray[np.int32], NDArray[np.int64], NDArray[np.float64]]] = []
        self.cells = np.zeros(0, dtype=np.int64)  # sorted unique keys: code << 48 | x << 8 | y
        self.pending: list[NDArray[np.int64]] = []  # keys of cells not yet deduplicated
        self.n_pending = 0
        self.cell_bp = 1024
        self.details = DetailCollector(cols.col)

    def add(self, block: Block) -> None:
        self.chisq.append(block.chisq)
        ok = ~np.isnan(block.logp)  # a failed test has no p-value and is not plotted
        code = self._codes(block.chrom[ok])
        pos, logp = block.pos[ok], block.logp[ok]
        for c in np.unique(code).tolist():
            self.chrom_max[c] = max(self.chrom_max.get(c, -1), int(pos[code == c].max()))
        high = logp > PLOT_ALL_ABOVE_LOG10P
        self.high.append((code[high], pos[high], logp[high]))
        low = ~high
        y = (logp[low] * _Y_CELLS_PER_UNIT).astype(np.int64)
        keys = (code[low].astype(np.int64) << 48) | ((pos[low] // self.cell_bp) << 8) | y
        self.pending.append(keys)
        self.n_pending += keys.size
        if self.n_pending > 8 * _MAX_CELLS:
            self._consolidate()
        self._hits(block)
        self._details(block)

    def _details(self, block: Block) -> None:
        for i in np.flatnonzero(block.logp > self.details.min_log10p).tolist():  # NaN compares False
            self.details.add(str(block.chrom[i]), int(block.pos[i]), float(block.logp[i]), block.line(i).split())

    def _consolidate(self) -> None:
        """Deduplicate the pending cells; halve the position resolution while there are too many.

        With very many contigs, one cell per contig and -log10 p bin can still
        be more than ``_MAX_CELLS``; coarsening stops once a contig is one bin.
        """
        self.cells = sorted_unique(np.concatenate([self.cells, *self.pending]))
        self.pending, self.n_pending = [], 0
        while self.cells.size > _MAX_CELLS:
            x = (self.cells >> 8) & _X_MASK
            if not x.any():
                break
            self.cell_bp *= 2
            self.cells = sorted_unique((self.cells & ~(_X_MASK << 8)) | ((x // 2) << 8))

    def _codes(self, chrom: NDArray[np.str_]) -> NDArray[np.int32]:
        """Chromosome codes, one per row, from the runs of equal names (results come sorted by chromosome)."""
        if chrom.size == 0:
            return np.zeros(0, dtype=np.int32)
        starts = np.flatnonzero(np.concatenate([[True], chrom[1:] != chrom[:-1]]))
        lut = np.array([self.codes.setdefault(str(n), len(self.codes)) for n in chrom[starts]], dtype=np.int32)
        return np.repeat(lut, np.diff(np.append(starts, chrom.size)))

    def _hits(self, block: Block) -> None:
        logp = np.where(np.isnan(block.logp), -np.inf, block.logp)
        rows = np.flatnonzero(logp > GWS_LOG10P).tolist()
        best = int(np.argmax(logp)) if logp.size else -1
        if best >= 0 and logp[best] > -np.inf and (self.top is None or logp[best] > self.top.log10p):
            self.top = self._hit(block, best)
        self.hits.extend(self._hit(block, i) for i in rows)

    def _hit(self, block: Block, i: int) -> Hit:
        cells, col = block.line(i).split(), self.cols.col

        def text(name: str) -> str:
            j = col.get(name)
            return cells[j] if j is not None and j < len(cells) else ""

        return Hit(
            chrom=str(block.chrom[i]),
            pos=int(block.pos[i]),
            id=cells[col["ID"]],
            beta=number(cells[col["BETA"]]),
            log10p=float(block.logp[i]),
            se=number(text("SE")),
            a1freq=number(text("A1FREQ")),
            allele0=text("ALLELE0"),
            allele1=text("ALLELE1"),
            n=int(n) if math.isfinite(n := number(text("N"))) else -1,
        )

    def all_chisq(self) -> NDArray[np.float64]:
        return np.concatenate(self.chisq) if self.chisq else np.zeros(0, dtype=np.float64)

    def manhattan(self) -> ManhattanPoints:
        self._consolidate()
        names = sorted(self.codes, key=chrom_sort_key)
        order = np.zeros(max(len(self.codes), 1), dtype=np.int32)  # global code -> plotting index
        for i, name in enumerate(names):
            order[self.codes[name]] = i
        length = np.array([self.chrom_max.get(self.codes[n], 0) for n in names], dtype=np.int64)
        code = (self.cells >> 48).astype(np.int32)
        x = (self.cells >> 8) & _X_MASK
        y = ((self.cells & 0xFF) + 0.5) / _Y_CELLS_PER_UNIT
        parts = [*self.high, (code, x * self.cell_bp + self.cell_bp // 2, y)]
        chrom_index = order[np.concatenate([p[0] for p in parts])]
        pos = np.minimum(np.concatenate([p[1] for p in parts]), length[chrom_index] if length.size else 0)
        logp = np.concatenate([p[2] for p in parts]).astype(np.float64)
        return ManhattanPoints(tuple(names), length, chrom_index.astype(np.int32), pos.astype(np.int64), logp)
