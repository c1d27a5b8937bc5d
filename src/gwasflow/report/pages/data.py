"""What the index and phenotype pages embed: JSON payloads and sparklines, from a ``PhenotypeSummary``.

Numbers are rounded to what a plot or a tooltip shows (LOG10P of the thinned
points to 3 decimals, BETA/SE/A1FREQ to 4 significant digits; the detailed
points' LOG10P is kept as read, the tooltip rounds it), NaN becomes ``null``. The JSON goes
into a ``<script type="application/json">`` element, so ``<``, ``>`` and
``&`` are written as ``\\u`` escapes and no text of a result file can close it.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from gwasflow.report.summary import CLUMP_WINDOW_BP, Locus, ManhattanPoints, PhenotypeSummary

__all__ = [
    "NearestGene",
    "case_control_counts",
    "embed_json",
    "page_files",
    "phenotype_payload",
    "sparkline_paths",
]

SPARK_WIDTH = 120
SPARK_HEIGHT = 24
_CASES = re.compile(r"^\s*-\s*'(?P<name>.*)':\s*(?P<cases>\d+) cases and (?P<controls>\d+) controls\s*$")


class NearestGene(Protocol):
    """A gene annotation: the nearest gene to a position, as (gene name, distance in bp; 0 inside the gene)."""

    def nearest(self, chrom: str, pos: int) -> tuple[str, int] | None: ...


def embed_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``<``, ``>`` or ``&`` characters)."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def page_files(names: Iterable[str]) -> dict[str, str]:
    """A distinct, file-system-safe ``<name>.html`` per phenotype (other characters become ``_``)."""
    files: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "phenotype"
        candidate, k = stem, 1
        while candidate.lower() in used:
            k += 1
            candidate = f"{stem}-{k}"
        used.add(candidate.lower())
        files[name] = f"{candidate}.html"
    return files


def case_control_counts(logs: Iterable[Path], phenotype: str) -> tuple[int, int] | None:
    """(cases, controls) of ``phenotype`` from the first step 2 log that states them (regenie's wording)."""
    for log in logs:
        try:
            text = log.read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            match = _CASES.match(line)
            if match and match["name"] == phenotype:
                return int(match["cases"]), int(match["controls"])
    return None


def _rounded(values: NDArray[np.float64], digits: int) -> list[float | None]:
    return [None if not math.isfinite(v) else v for v in np.round(values, digits).tolist()]


def _significant(values: NDArray[np.float64]) -> list[float | None]:
    return [None if not math.isfinite(v) else float(f"{v:.4g}") for v in values.tolist()]


@dataclass(frozen=True)
class _LocusIndex:
    """Lead positions per chromosome, to find the locus (within the clumping window) of a point."""

    leads: dict[str, tuple[list[int], list[int]]]  # chrom -> sorted lead positions, locus numbers

    @classmethod
    def of(cls, loci: Sequence[Locus]) -> _LocusIndex:
        leads: dict[str, list[tuple[int, int]]] = {}
        for k, locus in enumerate(loci):
            leads.setdefault(locus.lead.chrom, []).append((locus.lead.pos, k))
        return cls({c: ([p for p, _ in sorted(v)], [k for _, k in sorted(v)]) for c, v in leads.items()})

    def find(self, chrom: str, pos: int) -> int:
        positions, numbers = self.leads.get(chrom, ([], []))
        at = bisect.bisect_left(positions, pos)
        near = [i for i in (at - 1, at) if 0 <= i < len(positions) and abs(positions[i] - pos) <= CLUMP_WINDOW_BP]
        return numbers[min(near, key=lambda i: abs(positions[i] - pos))] if near else -1


def phenotype_payload(summary: PhenotypeSummary, genes: NearestGene | None) -> dict[str, Any]:
    """Everything the phenotype page draws: chromosomes, thinned points, detailed points, loci, QQ."""
    m, d = summary.manhattan, summary.details
    chroms = list(m.chroms)
    code = {c: i for i, c in enumerate(chroms)}
    low = m.log10p <= d.min_log10p
    loci = _LocusIndex.of(summary.loci)
    gene_names: list[str] = []
    gene_code: dict[str, int] = {}
    gene_of, gene_dist = [], []
    for chrom, pos in zip(d.chrom, d.pos.tolist(), strict=True):
        found = genes.nearest(chrom, pos) if genes is not None else None
        if found is None:
            gene_of.append(-1)
            gene_dist.append(-1)
            continue
        gene_of.append(gene_code.setdefault(found[0], len(gene_code)))
        gene_dist.append(int(found[1]))
        if len(gene_names) < len(gene_code):
            gene_names.append(found[0])
    return {
        "name": summary.phenotype,
        "lambda": None if not math.isfinite(summary.lambda_gc) else round(summary.lambda_gc, 4),
        "detail": d.min_log10p,
        "chroms": chroms,
        "lengths": m.chrom_length.tolist(),
        "low": {"c": m.chrom_index[low].tolist(), "p": m.pos[low].tolist(), "y": _rounded(m.log10p[low], 3)},
        "pts": {
            "c": [code[c] for c in d.chrom],
            "p": d.pos.tolist(),
            "y": _rounded(d.log10p, 12),  # as read: the tooltip rounds it once
            "id": list(d.id),
            "b": _significant(d.beta),
            "se": _significant(d.se),
            "af": _significant(d.a1freq),
            "g": gene_of,
            "gd": gene_dist,
            "l": [loci.find(c, p) for c, p in zip(d.chrom, d.pos.tolist(), strict=True)],
        },
        "genes": gene_names,
        "hasGenes": genes is not None,
        "loci": [locus.lead.id for locus in summary.loci],
        "qq": {
            "e": _rounded(summary.qq.expected, 3),
            "o": _rounded(summary.qq.observed, 3),
            "lo": _rounded(summary.qq.lower, 3),
            "hi": _rounded(summary.qq.upper, 3),
        },
    }


def sparkline_paths(m: ManhattanPoints) -> tuple[str, str, float]:
    """SVG path data of a Manhattan sparkline (odd, even chromosomes) and its y scale top (-log10 p).

    The genome is cut into ``SPARK_WIDTH`` columns; each column is a bar up to
    its highest point, in the colour of that point's chromosome.
    """
    if m.n_points == 0:
        return "", "", 1.0
    lengths = np.maximum(m.chrom_length.astype(np.float64), 1.0)
    offsets = np.concatenate([[0.0], np.cumsum(lengths)])
    x = (offsets[m.chrom_index] + m.pos) / offsets[-1]
    column = np.minimum((x * SPARK_WIDTH).astype(np.int64), SPARK_WIDTH - 1)
    order = np.lexsort((m.log10p, column))  # by column, strongest last
    last = np.flatnonzero(np.append(column[order][1:] != column[order][:-1], True))
    best = order[last]
    top = max(8.0, float(m.log10p.max()))
    paths: list[list[str]] = [[], []]
    for col, y, chrom in zip(column[best].tolist(), m.log10p[best].tolist(), m.chrom_index[best].tolist(), strict=True):
        height = max(0.5, min(y, top) / top * SPARK_HEIGHT)
        paths[chrom % 2].append(f"M{col + 0.5} {SPARK_HEIGHT}v-{height:.1f}")
    return "".join(paths[0]), "".join(paths[1]), top
