"""The locus table of a phenotype: one row per clump, as ``loci/<pheno>.tsv`` and as an HTML section.

A locus is a clump (:mod:`gwasflow.report.loci.clump`): its lead (index) variant, its span (the
lowest and highest position of the lead and its members with ``p <= p2``), how many variants it
holds, and the genes: the nearest to the lead with its distance (0 inside the gene) and those
overlapping the span. Without a gene file the gene columns are ``NA`` and the HTML says
"no gene annotation given".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from gwasflow.core.atomic import atomic_path
from gwasflow.report.loci.clump import Clump
from gwasflow.report.loci.genes import GeneIndex
from gwasflow.report.loci.results import ResultRows

__all__ = ["LOCI_COLUMNS", "NO_GENES", "Locus", "loci_from_clumps", "loci_section_html", "locus_anchor",
           "write_loci_tsv"]

NO_GENES = "no gene annotation given"
LOCI_COLUMNS = ("PHENO", "LEAD_ID", "CHROM", "POS", "LOG10P", "START", "END", "N_VARIANTS", "N_LD",
                "NEAREST_GENE", "GENE_DISTANCE", "OVERLAPPING_GENES", "MEMBERS")


@dataclass(frozen=True)
class Locus:
    phenotype: str
    lead_id: str
    chrom: str
    pos: int
    log10p: float
    start: int
    end: int
    n_variants: int  # the lead and its members with p <= p2
    n_ld: int  # the lead and every variant it clumped, whatever its p-value (plink2's TOTAL + 1)
    members: tuple[str, ...]
    nearest_gene: str | None
    gene_distance: int | None
    overlapping_genes: tuple[str, ...]


def loci_from_clumps(phenotype: str, rows: ResultRows, clumps: Sequence[Clump], genes: GeneIndex | None,
                     ) -> list[Locus]:
    """One :class:`Locus` per clump, in the clumps' order, annotated with ``genes`` when given."""
    out: list[Locus] = []
    for item in clumps:
        lead = item.index
        chrom, pos = str(rows.chrom[lead]), int(rows.pos[lead])
        spanned = [pos, *(int(rows.pos[m]) for m in item.members)]
        start, end = min(spanned), max(spanned)
        nearest = genes.nearest(chrom, pos) if genes is not None else None
        overlapping = tuple(g.name for g in genes.overlapping(chrom, start, end)) if genes is not None else ()
        members = tuple(str(rows.ids[m]) for m in sorted(item.members, key=lambda m: int(rows.pos[m])))
        out.append(Locus(
            phenotype=phenotype, lead_id=str(rows.ids[lead]), chrom=chrom, pos=pos,
            log10p=float(rows.log10p[lead]), start=start, end=end, n_variants=1 + len(item.members),
            n_ld=1 + item.total, members=members,
            nearest_gene=None if nearest is None else nearest[0],
            gene_distance=None if nearest is None else nearest[1], overlapping_genes=overlapping,
        ))
    return out


def _tsv_row(locus: Locus) -> list[str]:
    return [
        locus.phenotype, locus.lead_id, locus.chrom, str(locus.pos), f"{locus.log10p:.6g}", str(locus.start),
        str(locus.end), str(locus.n_variants), str(locus.n_ld), locus.nearest_gene or "NA",
        "NA" if locus.gene_distance is None else str(locus.gene_distance),
        ",".join(locus.overlapping_genes) or "NA", ",".join(locus.members) or "NA",
    ]


def write_loci_tsv(loci: Sequence[Locus], path: Path) -> Path:
    """Write the table (header + one row per locus) under a temporary name, then rename it to ``path``."""
    with atomic_path(path) as tmp:
        lines = ["\t".join(LOCI_COLUMNS)] + ["\t".join(_tsv_row(locus)) for locus in loci]
        tmp.write_text("\n".join(lines) + "\n")
    return path


def locus_anchor(lead_id: str) -> str:
    """The HTML id of a locus: ``locus-<lead id>`` with characters outside ``[A-Za-z0-9_.:-]`` as ``_``."""
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "_.:-") else "_" for ch in lead_id)
    return f"locus-{safe}"


def _gene_cells(locus: Locus, annotated: bool) -> str:
    if not annotated:
        return f'<td colspan="2">{NO_GENES}</td>'
    if locus.nearest_gene is None:
        return "<td>none on this chromosome</td><td></td>"
    distance = "inside" if locus.gene_distance == 0 else f"{locus.gene_distance:,} bp"
    return (f"<td><i>{escape(locus.nearest_gene)}</i> ({distance})</td>"
            f"<td>{escape(', '.join(locus.overlapping_genes)) or '-'}</td>")


def loci_section_html(phenotype: str, loci: Sequence[Locus], plots: Mapping[str, str] | None = None, *,
                      genes_source: str | None = None) -> str:
    """An HTML ``<section>``: the locus table (rows ``id="locus-<lead id>"``) and each locus's regional plot.

    ``plots`` maps a lead ID to its SVG (:func:`gwasflow.report.loci.regional.regional_svg`, already
    escaped inside); ``genes_source`` names the gene file, None when none was given.
    """
    annotated = genes_source is not None
    title = f"Loci of {escape(phenotype)}"
    parts = [f'<section class="loci"><h3>{title}</h3>']
    genes_text = escape(Path(genes_source).name) if genes_source is not None else NO_GENES
    parts.append(f"<p>Genes: {genes_text}</p>")
    if not loci:
        parts.append("<p>No variant reaches the index p-value threshold.</p></section>")
        return "".join(parts)
    parts.append('<table class="loci-table"><thead><tr><th>Lead variant</th><th>Position</th><th>LOG10P</th>'
                 "<th>Span</th><th>Variants</th><th>Nearest gene</th><th>Overlapping genes</th></tr></thead><tbody>")
    for locus in loci:
        anchor = locus_anchor(locus.lead_id)
        log10p = f"{locus.log10p:.2f}" if math.isfinite(locus.log10p) else "NA"
        parts.append(
            f'<tr id="{anchor}"><td><a href="#{anchor}-plot">{escape(locus.lead_id)}</a></td>'
            f"<td>{escape(locus.chrom)}:{locus.pos:,}</td><td>{log10p}</td>"
            f"<td>{locus.start:,}-{locus.end:,}</td><td>{locus.n_variants} ({locus.n_ld} in LD)</td>"
            f"{_gene_cells(locus, annotated)}</tr>")
    parts.append("</tbody></table>")
    for locus in loci:
        svg = (plots or {}).get(locus.lead_id)
        if svg is not None:
            parts.append(f'<figure id="{locus_anchor(locus.lead_id)}-plot" class="regional">{svg}'
                         f"<figcaption>{escape(locus.lead_id)}</figcaption></figure>")
    parts.append("</section>")
    return "".join(parts)
