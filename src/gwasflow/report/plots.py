"""Report figures as PNG bytes: Manhattan, QQ and the run timeline.

Figures are drawn on matplotlib's Agg canvas directly (``Figure`` +
``FigureCanvasAgg``), never through ``pyplot``: no GUI backend is ever
loaded, the global backend and figure registry are untouched, and nothing
is left open. The inputs are already thinned (``summary.ManhattanPoints``,
``summary.QQPoints``), so a plot costs the same for 10,000 or 10,000,000
variants.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from numpy.typing import NDArray

from gwasflow.core.states import AttemptState, Step
from gwasflow.report.summary import GWS_LOG10P, Locus, ManhattanPoints, QQPoints
from gwasflow.store import AttemptRecord

__all__ = [
    "ATTEMPT_COLOURS",
    "CHROM_COLOURS",
    "SUGGESTIVE_LOG10P",
    "manhattan_png",
    "qq_png",
    "timeline_png",
]

SUGGESTIVE_LOG10P = 5.0
CHROM_COLOURS = ("#1b3a5c", "#5b9bd5")  # alternating dark / light blue
ATTEMPT_COLOURS: dict[str, str] = {
    AttemptState.SUCCEEDED: "#4c78a8",
    AttemptState.FAILED: "#d62728",
    AttemptState.CANCELLED: "#9d9d9d",
    AttemptState.RUNNING: "#f2a541",
}
_QUEUE_COLOUR = "#d9d9d9"
_OTHER_COLOUR = "#6b6b6b"  # an attempt state the driver does not write today
_QUEUED: str = AttemptState.SUBMITTED  # submitted, not started yet: only its queue wait is drawn
_MAX_LANES = 40  # per step on the timeline; busier steps share their last lane
_DPI = 100


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    return buf.getvalue()


# --------------------------------------------------------------------------- Manhattan


def manhattan_png(points: ManhattanPoints, *, loci: Sequence[Locus] = (), title: str = "", n_labels: int = 5) -> bytes:
    """Manhattan plot: chromosomes in order, alternating colours, lines at 7.3 and 5.

    The ``n_labels`` strongest ``loci`` get their lead variant's id written above them.
    """
    fig = Figure(figsize=(12, 4.2), layout="constrained")
    ax = fig.add_subplot()
    starts = _chrom_starts(points)
    x = starts[points.chrom_index] + points.pos if points.n_points else np.zeros(0)
    for parity, colour in enumerate(CHROM_COLOURS):
        mask = points.chrom_index % 2 == parity
        ax.plot(x[mask], points.log10p[mask], ".", ms=3, mew=0, color=colour, rasterized=True)
    top = float(points.log10p.max()) if points.n_points else 0.0
    ax.axhline(GWS_LOG10P, color="#c0392b", lw=1, ls="--", label="p = 5e-8")
    ax.axhline(SUGGESTIVE_LOG10P, color="#7f8c8d", lw=0.8, ls=":", label="p = 1e-5")
    _label_loci(ax, points, starts, loci, n_labels)
    ax.set_ylim(0, max(top, GWS_LOG10P + 1.0) * 1.08)
    total = float(starts[-1] + points.chrom_length[-1]) if points.chroms else 1.0
    ax.set_xlim(-0.005 * total, total * 1.005)
    mids = starts + points.chrom_length / 2 if points.chroms else np.zeros(0)
    ax.set_xticks(mids, _chrom_labels(points.chroms), fontsize=8)
    ax.set_xlabel("chromosome")
    ax.set_ylabel(r"$-\log_{10}(p)$")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False, ncols=2)
    if title:
        ax.set_title(title, loc="left", fontsize=11)
    if not points.n_points:
        ax.text(0.5, 0.5, "no variants with a p-value", transform=ax.transAxes, ha="center", color="#666666")
    return _png(fig)


def _label_loci(ax: Axes, points: ManhattanPoints, starts: NDArray[np.float64], loci: Sequence[Locus], n: int) -> None:
    """Write the lead variant's id above the ``n`` strongest loci, skipping one that would overlap another."""
    index = {c: i for i, c in enumerate(points.chroms)}
    total = float(starts[-1] + points.chrom_length[-1]) if points.chroms else 1.0
    placed: list[float] = []
    for locus in loci:
        if len(placed) >= n:
            break
        if locus.lead.chrom not in index:
            continue
        x = float(starts[index[locus.lead.chrom]] + locus.lead.pos)
        if any(abs(x - other) < 0.04 * total for other in placed):
            continue
        placed.append(x)
        ax.annotate(locus.lead.id, (x, locus.lead.log10p), xytext=(0, 4), textcoords="offset points",
                    ha="center", va="bottom", fontsize=7, color="#333333")  # fmt: skip


def _chrom_starts(points: ManhattanPoints) -> NDArray[np.float64]:
    """x offset of each chromosome: lengths laid end to end with a 1% gap between them."""
    if not points.chroms:
        return np.zeros(1)
    lengths = points.chrom_length.astype(np.float64)
    gap = 0.01 * float(lengths.sum())
    return np.concatenate([[0.0], np.cumsum(lengths + gap)[:-1]])


def _chrom_labels(chroms: Sequence[str]) -> list[str]:
    """Chromosome names without a ``chr`` prefix; past 16 chromosomes, every other small one is left blank."""
    names = [c[3:] if c.lower().startswith("chr") else c for c in chroms]
    if len(names) <= 16:
        return names
    return [n if (i < 14 or i % 2 == 0 or not n.isdigit()) else "" for i, n in enumerate(names)]


# --------------------------------------------------------------------------- QQ


def qq_png(points: QQPoints, *, lambda_gc: float, title: str = "") -> bytes:
    """QQ plot of observed vs expected -log10 p, with the 95% band and lambda GC in the legend."""
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.add_subplot()
    if points.expected.size:
        ax.fill_between(points.expected, points.lower, points.upper, color="#dddddd", lw=0, label="95% band")
        ax.plot(points.expected, points.observed, ".", ms=3.5, mew=0, color=CHROM_COLOURS[0], rasterized=True,
                label=f"$\\lambda_{{GC}}$ = {lambda_gc:.3f}")  # fmt: skip
        lim = float(points.expected.max()) * 1.05
        ax.plot([0, lim], [0, lim], color="#c0392b", lw=1)
        ax.set_xlim(0, lim)
        ax.set_ylim(0, max(float(points.observed.max()), lim) * 1.05)
        ax.legend(loc="upper left", fontsize=9, frameon=False, markerscale=3)
    else:
        ax.text(0.5, 0.5, "no variants with a p-value", transform=ax.transAxes, ha="center", color="#666666")
    ax.set_xlabel(r"expected $-\log_{10}(p)$")
    ax.set_ylabel(r"observed $-\log_{10}(p)$")
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(f"{title}  ($\\lambda_{{GC}}$ = {lambda_gc:.3f})" if title else "", fontsize=11)
    return _png(fig)


# --------------------------------------------------------------------------- timeline


@dataclass(frozen=True)
class _Bar:
    step: str
    submitted: float
    start: float
    end: float
    state: str


def timeline_png(attempts: Sequence[AttemptRecord], job_steps: Mapping[str, str], *, now: float) -> bytes:
    """Jobs as horizontal bars per step, one bar per attempt, coloured by how the attempt ended.

    The light bar before each attempt is its queue wait (submitted to
    started). Attempts still running are drawn up to ``now``. Each step gets
    as many lanes as it ran attempts at once (at most ``_MAX_LANES``).
    """
    bars = [_bar(a, job_steps.get(a.job_id, "?"), now) for a in attempts]
    steps = _step_lanes(bars)
    n_lanes = sum(len(lanes) for _, lanes, _ in steps)
    fig = Figure(figsize=(12, 1.4 + 0.22 * min(n_lanes + 0.6 * len(steps), 60)), layout="constrained")
    ax = fig.add_subplot()
    if not bars:
        ax.text(0.5, 0.5, "no attempts recorded yet", transform=ax.transAxes, ha="center", color="#666666")
        ax.set_axis_off()
        return _png(fig)
    t0 = min(b.submitted for b in bars)
    scale, unit = _time_unit(max(b.end for b in bars) - t0)
    min_width = 0.004 * max(max(b.end for b in bars) - t0, 1e-9) / scale  # keep very short attempts visible
    queue: list[NDArray[np.float64]] = []
    run: list[NDArray[np.float64]] = []
    colours: list[str] = []
    ticks: list[float] = []
    labels: list[str] = []
    y = 0.0
    for step, lanes, with_queue in steps:
        for lane, members in enumerate(lanes):
            top = y + lane
            for b in members:
                s, q, e = (b.start - t0) / scale, (b.submitted - t0) / scale, (b.end - t0) / scale
                if with_queue and s > q:
                    queue.append(_rect(q, s, top + 0.35, top + 0.65))
                if b.state != _QUEUED:
                    run.append(_rect(s, max(e, s + min_width), top + 0.1, top + 0.9))
                    colours.append(ATTEMPT_COLOURS.get(b.state, _OTHER_COLOUR))
        ticks.append(y + len(lanes) / 2)
        labels.append(step)
        y += len(lanes) + 0.6
        ax.axhline(y - 0.3, color="#eeeeee", lw=0.8)
    if queue:
        ax.add_collection(PolyCollection(queue, facecolors=_QUEUE_COLOUR, edgecolors="none"))
    if run:
        ax.add_collection(PolyCollection(run, facecolors=colours, edgecolors="white", linewidths=0.3))
    ax.set_xlim(0, (max(b.end - t0 for b in bars) / scale + min_width) * 1.02)
    ax.set_ylim(y - 0.3, -0.3)
    ax.set_yticks(ticks, labels)
    ax.set_xlabel(f"time since the first submission ({unit})")
    ax.spines[["top", "right"]].set_visible(False)
    handles = [Patch(color=ATTEMPT_COLOURS[s], label=s) for s in ATTEMPT_COLOURS if s in {b.state for b in bars}]
    handles.append(Patch(color=_QUEUE_COLOUR, label="queued"))
    ax.legend(handles=handles, loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False,
              ncols=len(handles))  # fmt: skip
    return _png(fig)


def _bar(a: AttemptRecord, step: str, now: float) -> _Bar:
    start = a.started_at if a.started_at is not None else (a.ended_at if a.ended_at is not None else now)
    end = a.ended_at if a.ended_at is not None else now
    state: str = a.state
    if a.ended_at is None:
        state = AttemptState.RUNNING if a.started_at is not None else _QUEUED
    return _Bar(step, a.submitted_at, start, max(end, start), state)


def _ordered_steps(steps: set[str]) -> list[str]:
    order = {s.value: i for i, s in enumerate(Step)}
    return sorted(steps, key=lambda s: (order.get(s, len(order)), s))


def _pack(bars: list[_Bar], *, with_queue: bool) -> list[list[_Bar]]:
    """Greedy interval packing: each attempt goes to the first lane free when it was submitted
    (``with_queue``) or started; past ``_MAX_LANES`` it shares the lane that frees first."""
    lanes: list[list[_Bar]] = []
    ends: list[float] = []
    for b in sorted(bars, key=lambda b: (b.submitted if with_queue else b.start, b.start)):
        begin = b.submitted if with_queue else b.start
        free = next((i for i, e in enumerate(ends) if e <= begin), None)
        if free is None and len(lanes) >= _MAX_LANES:
            free = int(np.argmin(ends))
        if free is None:
            lanes.append([])
            ends.append(-np.inf)
            free = len(lanes) - 1
        lanes[free].append(b)
        ends[free] = max(ends[free], b.end)
    return lanes


def _step_lanes(bars: list[_Bar]) -> list[tuple[str, list[list[_Bar]], bool]]:
    """Per step (in run order): its lanes, and whether queue waits are drawn.

    Queue waits get lanes of their own while that needs at most ``_MAX_LANES``
    lanes; a busier step is packed by running time only.
    """
    out = []
    for step in _ordered_steps({b.step for b in bars}):
        members = [b for b in bars if b.step == step]
        lanes = _pack(members, with_queue=True)
        if len(lanes) <= _MAX_LANES:
            out.append((step, lanes, True))
        else:
            out.append((step, _pack(members, with_queue=False), False))
    return out


def _rect(x0: float, x1: float, y0: float, y1: float) -> NDArray[np.float64]:
    return np.array([[x0, y0], [x0, y1], [x1, y1], [x1, y0]], dtype=np.float64)


def _time_unit(span_s: float) -> tuple[float, str]:
    if span_s >= 3 * 3600:
        return 3600.0, "h"
    if span_s >= 180:
        return 60.0, "min"
    return 1.0, "s"
