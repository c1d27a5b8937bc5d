"""Per-phenotype summary statistics of merged regenie results.

Streams the merged ``.regenie.gz`` once, keeping only one float per variant
(the chi-square statistic) plus the significant rows, so memory stays small
for millions of variants.

* Genomic inflation: lambda GC = median(chi-square) / 0.4549364, the median of
  a 1-df chi-square (Devlin & Roeder, Biometrics 1999).
* Genome-wide significance: LOG10P > 7.3 (p < 5e-8).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gwasflow.engine.rundir import write_atomic
from gwasflow.report.merge import open_text

__all__ = ["CHI2_MEDIAN_1DF", "GWS_LOG10P", "Hit", "PhenotypeSummary", "summarize_results", "write_summary"]

CHI2_MEDIAN_1DF = 0.454936423119572
GWS_LOG10P = -math.log10(5e-8)


@dataclass(frozen=True)
class Hit:
    chrom: str
    pos: int
    id: str
    beta: float
    log10p: float


@dataclass(frozen=True)
class PhenotypeSummary:
    phenotype: str
    n_variants: int
    lambda_gc: float
    n_significant: int
    top: Hit | None
    hits: list[Hit] = field(default_factory=list)


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def summarize_results(path: Path, phenotype: str) -> PhenotypeSummary:
    """Summarize one merged regenie result file (gzip or plain)."""
    chisq: list[float] = []
    hits: list[Hit] = []
    top: Hit | None = None
    with open_text(path) as handle:
        header = handle.readline().split()
        col = {name: i for i, name in enumerate(header)}
        for needed in ("CHROM", "GENPOS", "ID", "BETA", "CHISQ", "LOG10P"):
            if needed not in col:
                raise ValueError(f"{path}: no {needed} column in header")
        i_chisq, i_logp = col["CHISQ"], col["LOG10P"]
        for line in handle:
            cells = line.split()
            if not cells:
                continue
            chisq.append(_float(cells[i_chisq]))
            logp = _float(cells[i_logp])
            if math.isnan(logp) or (top is not None and logp <= top.log10p and logp <= GWS_LOG10P):
                continue
            beta = _float(cells[col["BETA"]])
            hit = Hit(cells[col["CHROM"]], int(cells[col["GENPOS"]]), cells[col["ID"]], beta, logp)
            if top is None or logp > top.log10p:
                top = hit
            if logp > GWS_LOG10P:
                hits.append(hit)
    values = np.asarray(chisq, dtype=np.float64)
    values = values[np.isfinite(values)]
    lam = float(np.median(values) / CHI2_MEDIAN_1DF) if values.size else math.nan
    hits.sort(key=lambda h: -h.log10p)
    return PhenotypeSummary(phenotype, int(values.size), lam, len(hits), top, hits)


def write_summary(summaries: Sequence[PhenotypeSummary], path: Path) -> None:
    """Write ``summary.tsv``: one row per phenotype."""
    lines = ["phenotype\tn_variants\tlambda_gc\tn_significant\ttop_id\ttop_chrom\ttop_pos\ttop_log10p"]
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
                ]
            )
        )
    write_atomic(path, "\n".join(lines) + "\n")
