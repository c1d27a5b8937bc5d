"""A LocusZoom-style regional plot of one locus as a self-contained SVG string (no script, no fetch).

LOG10P against position (Mb) for the variants around the lead; each point coloured by its r2 with
the lead in LocusZoom's bins (0-0.2, 0.2-0.4, 0.4-0.6, 0.6-0.8, 0.8-1; grey when r2 is unknown,
e.g. a variant missing from the genotype file); the lead a purple diamond; the genome-wide line
(p = 5e-8) dashed; the genes of the window underneath, one row each where they would overlap,
drawn as lines with arrow heads in their strand's direction and labelled.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

import numpy as np
from numpy.typing import NDArray

from gwasflow.report.loci.genes import Gene

__all__ = ["R2_BINS", "RegionalData", "r2_colour", "regional_svg"]

R2_BINS: tuple[tuple[float, str], ...] = (
    (0.2, "#357ebd"), (0.4, "#46b8da"), (0.6, "#5cb85c"), (0.8, "#eea236"), (1.0, "#d43f3a"),
)
_NO_R2 = "#b8b8b8"
_LEAD = "#9632b8"
_WIDTH, _LEFT, _RIGHT, _TOP, _PLOT_H = 720, 56, 110, 16, 220
_GENE_ROW = 22
_GENOME_WIDE = -math.log10(5e-8)
_Scale = Callable[[float], float]


@dataclass(frozen=True)
class RegionalData:
    """What one regional plot shows. Arrays are parallel, one entry per variant in the window."""

    chrom: str
    start: int
    end: int
    lead_id: str
    lead_pos: int
    lead_log10p: float
    pos: NDArray[np.int64]
    log10p: NDArray[np.float64]
    r2: NDArray[np.float64]  # with the lead; NaN when unknown
    ids: NDArray[np.str_]
    genes: tuple[Gene, ...]


def r2_colour(r2: float) -> str:
    """LocusZoom's colour for an r2 value (grey for NaN)."""
    if not math.isfinite(r2):
        return _NO_R2
    for upper, colour in R2_BINS:
        if r2 <= upper:
            return colour
    return R2_BINS[-1][1]


def regional_svg(data: RegionalData) -> str:
    """The plot as an ``<svg>`` element (a string, every text escaped)."""
    rows = _gene_rows(data.genes)
    height = _TOP + _PLOT_H + 40 + max(1, len(rows)) * _GENE_ROW + 8
    top = max([data.lead_log10p, _GENOME_WIDE, *data.log10p[np.isfinite(data.log10p)].tolist()])
    y_max = float(math.ceil(top + 0.5))
    span = max(1, data.end - data.start)
    plot_w = _WIDTH - _LEFT - _RIGHT

    def x(pos: float) -> float:
        return _LEFT + (pos - data.start) / span * plot_w

    def y(value: float) -> float:
        return _TOP + _PLOT_H * (1.0 - value / y_max)

    title = f"Regional plot of {data.lead_id} (chr{data.chrom}:{data.start}-{data.end})"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="regional-plot" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{_PLOT_H}" fill="none" stroke="#999"/>',
    ]
    parts += _axes(data, x, y, y_max)
    wide = y(_GENOME_WIDE)  # always inside: y_max is above it
    parts.append(f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{wide:.1f}" y2="{wide:.1f}" '
                 'stroke="#888" stroke-dasharray="4 3"/>')
    parts += _points(data, x, y)
    parts += _legend(_LEFT + plot_w + 12)
    parts += _genes(rows, x, _TOP + _PLOT_H + 40, data.start, data.end)
    parts.append("</svg>")
    return "".join(parts)


def _axes(data: RegionalData, x: _Scale, y: _Scale, y_max: float) -> list[str]:
    out: list[str] = []
    for tick in range(int(y_max) + 1):
        if tick % max(1, int(y_max) // 6) == 0:
            out.append(f'<text x="{_LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="10">{tick}</text>')
    step = _nice_step((data.end - data.start) / 6)
    first = math.ceil(data.start / step) * step
    for position in range(first, data.end + 1, step):
        out.append(f'<text x="{x(float(position)):.1f}" y="{_TOP + _PLOT_H + 14}" text-anchor="middle" '
                   f'font-size="10">{position / 1e6:.3f}</text>')
    out.append(f'<text x="{_LEFT + (_WIDTH - _LEFT - _RIGHT) / 2:.0f}" y="{_TOP + _PLOT_H + 28}" '
               f'text-anchor="middle" font-size="11">Position on chr{escape(data.chrom)} (Mb)</text>')
    out.append(f'<text x="14" y="{_TOP + _PLOT_H / 2:.0f}" font-size="11" text-anchor="middle" '
               f'transform="rotate(-90 14 {_TOP + _PLOT_H / 2:.0f})">-log10(p)</text>')
    return out


def _points(data: RegionalData, x: _Scale, y: _Scale) -> list[str]:
    out: list[str] = []
    order = np.argsort(np.nan_to_num(data.r2, nan=-1.0), kind="stable")  # strongest LD drawn last (on top)
    for i in order.tolist():
        value = float(data.log10p[i])
        if not math.isfinite(value) or data.ids[i] == data.lead_id:
            continue
        out.append(f'<circle cx="{x(float(data.pos[i])):.1f}" cy="{y(value):.1f}" r="3.2" '
                   f'fill="{r2_colour(float(data.r2[i]))}" stroke="#333" stroke-width="0.4">'
                   f"<title>{escape(str(data.ids[i]))} LOG10P={value:.2f} r2={_r2_text(float(data.r2[i]))}</title>"
                   "</circle>")
    cx, cy = x(float(data.lead_pos)), y(data.lead_log10p)
    out.append(f'<path class="lead" d="M{cx:.1f} {cy - 7:.1f} L{cx + 6:.1f} {cy:.1f} L{cx:.1f} {cy + 7:.1f} '
               f'L{cx - 6:.1f} {cy:.1f} Z" fill="{_LEAD}" stroke="#222"><title>{escape(data.lead_id)} (lead) '
               f"LOG10P={data.lead_log10p:.2f}</title></path>")
    out.append(f'<text x="{cx + 9:.1f}" y="{cy - 6:.1f}" font-size="10">{escape(data.lead_id)}</text>')
    return out


def _legend(left: float) -> list[str]:
    out = [f'<text x="{left}" y="{_TOP + 10}" font-size="10">r2 with lead</text>']
    labels = ["0.8-1", "0.6-0.8", "0.4-0.6", "0.2-0.4", "0-0.2"]
    for k, ((_, colour), label) in enumerate(zip(reversed(R2_BINS), labels, strict=True)):
        y = _TOP + 24 + 16 * k
        out.append(f'<rect x="{left}" y="{y - 8}" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{left + 14}" y="{y + 1}" font-size="10">{label}</text>')
    y = _TOP + 24 + 16 * 5
    out.append(f'<rect x="{left}" y="{y - 8}" width="10" height="10" fill="{_NO_R2}"/>'
               f'<text x="{left + 14}" y="{y + 1}" font-size="10">no r2</text>')
    return out


def _gene_rows(genes: Sequence[Gene]) -> list[list[Gene]]:
    """Greedy rows: a gene goes on the first row whose last gene ends (with room for a label) before it."""
    rows: list[list[Gene]] = []
    ends: list[int] = []
    for gene in sorted(genes, key=lambda g: (g.start, g.end)):
        for k, end in enumerate(ends):
            if gene.start > end:
                rows[k].append(gene)
                ends[k] = gene.end + 15_000
                break
        else:
            rows.append([gene])
            ends.append(gene.end + 15_000)
    return rows


def _genes(rows: list[list[Gene]], x: _Scale, top: float, start: int, end: int) -> list[str]:
    if not rows:
        return [f'<text x="{_LEFT}" y="{top + 12}" font-size="10" fill="#666">no genes in this window</text>']
    out: list[str] = []
    for k, row in enumerate(rows):
        y = top + k * _GENE_ROW + 6
        for gene in row:
            x0, x1 = x(max(gene.start, start)), x(min(gene.end, end))
            out.append(f'<g class="gene"><title>{escape(gene.name)} {gene.start}-{gene.end} ({gene.strand})'
                       f"{' ' + escape(gene.biotype) if gene.biotype else ''}</title>"
                       f'<line x1="{x0:.1f}" x2="{x1:.1f}" y1="{y}" y2="{y}" stroke="#2b4f81" stroke-width="3"/>')
            if gene.strand in ("+", "-"):
                tip, back = (x1, x1 - 5) if gene.strand == "+" else (x0, x0 + 5)
                out.append(f'<path d="M{back:.1f} {y - 4} L{tip:.1f} {y} L{back:.1f} {y + 4}" fill="none" '
                           'stroke="#2b4f81" stroke-width="1.5"/>')
            out.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{y + 14}" text-anchor="middle" font-size="10" '
                       f'font-style="italic">{escape(gene.name)}</text></g>')
    return out


def _nice_step(raw: float) -> int:
    magnitude = 10 ** math.floor(math.log10(max(raw, 1.0)))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return int(factor * magnitude)
    return int(10 * magnitude)


def _r2_text(r2: float) -> str:
    return f"{r2:.2f}" if math.isfinite(r2) else "NA"
