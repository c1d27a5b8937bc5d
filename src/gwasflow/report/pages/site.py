"""Write the run's browsable pages: ``index.html`` over all phenotypes and ``phenotypes/<name>.html``.

Every page is one self-contained file: CSS, JavaScript (``templates/site_*.js``,
written for these pages) and data (JSON in a ``<script type="application/json">``)
are inline, nothing is fetched. Pages are rendered by Jinja2 with
autoescaping and written atomically; the phenotype pages first, then the
index that links to them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from gwasflow import __version__
from gwasflow.core.rundir import write_atomic
from gwasflow.report.pages.data import NearestGene, embed_json, page_files, phenotype_payload, sparkline_paths
from gwasflow.report.summary import GWS_LOG10P, PhenotypeSummary

__all__ = ["INDEX_NAME", "PHENOTYPE_DIR", "Site", "Trait", "write_site"]

INDEX_NAME = "index.html"
PHENOTYPE_DIR = "phenotypes"
MAX_LOCI_ROWS = 200


@dataclass(frozen=True)
class Trait:
    """One phenotype of a run: its merged results, their summary (None when missing), case/control counts."""

    name: str
    results: Path
    summary: PhenotypeSummary | None
    missing: str = ""
    cases_controls: tuple[int, int] | None = None


@dataclass(frozen=True)
class Site:
    """What ``write_site`` wrote: the index, and each page's path relative to the index's folder."""

    index: Path
    pages: dict[str, str]


def write_site(
    traits: Sequence[Trait],
    out_dir: Path,
    *,
    title: str,
    genes: NearestGene | None = None,
    loci_html: Mapping[str, str] | None = None,
    report_name: str = "report.html",
) -> Site:
    """Write ``out_dir/phenotypes/<name>.html`` per trait with results, then ``out_dir/index.html``.

    ``genes`` gives each point's nearest gene; ``loci_html`` (phenotype -> an
    already escaped HTML fragment) replaces a page's table of distance-clumped
    loci. Without ``genes`` the pages say that no gene annotation was given.
    Pages left in ``phenotypes/`` by an earlier report, of phenotypes not in
    ``traits`` (or without results now), are removed after the index is written.
    """
    files = page_files(t.name for t in traits)
    (out_dir / PHENOTYPE_DIR).mkdir(parents=True, exist_ok=True)
    rows, pages = [], {}
    for trait in traits:
        href = f"{PHENOTYPE_DIR}/{files[trait.name]}"
        if trait.summary is not None:
            html = _phenotype_page(trait, trait.summary, title, genes, (loci_html or {}).get(trait.name), report_name)
            write_atomic(out_dir / href, html)
            pages[trait.name] = href
        rows.append(_index_row(trait, href, genes))
    context = {
        "title": title,
        "rows": rows,
        "has_genes": genes is not None,
        "report_name": report_name,
        "version": __version__,
        "css": _asset("site.css"),
        "js": _asset("site_index.js"),
    }
    index = out_dir / INDEX_NAME
    write_atomic(index, _environment().get_template("site_index.html.j2").render(context))
    _remove_stale(out_dir / PHENOTYPE_DIR, {Path(href).name for href in pages.values()})
    return Site(index, pages)


def _remove_stale(folder: Path, current: set[str]) -> None:
    """Pages of phenotypes this run no longer has (the folder is ours: only ``*.html`` we wrote live there)."""
    for page in folder.glob("*.html"):
        if page.name not in current:
            page.unlink(missing_ok=True)


def _phenotype_page(
    trait: Trait, summary: PhenotypeSummary, title: str, genes: NearestGene | None, loci: str | None, report: str
) -> str:
    context = {
        "title": title,
        "trait": trait,
        "s": summary,
        "n": summary.n_samples,
        "gws": GWS_LOG10P,
        "loci_html": Markup(loci) if loci is not None else None,
        "loci": [(locus, _gene(genes, locus.lead.chrom, locus.lead.pos)) for locus in summary.loci[:MAX_LOCI_ROWS]],
        "more_loci": max(0, len(summary.loci) - MAX_LOCI_ROWS),
        "has_genes": genes is not None,
        "report_name": report,
        "version": __version__,
        "data": Markup(embed_json(phenotype_payload(summary, genes))),
        "css": _asset("site.css"),
        "js": _asset("site_phenotype.js"),
    }
    return _environment().get_template("site_phenotype.html.j2").render(context)


def _index_row(trait: Trait, href: str, genes: NearestGene | None) -> dict[str, Any]:
    s = trait.summary
    row: dict[str, Any] = {"name": trait.name, "href": href, "summary": s, "missing": trait.missing}
    cases, controls = trait.cases_controls or (None, None)
    row.update(cases=cases, controls=controls)
    if s is None:
        return row
    odd, even, top = sparkline_paths(s.manhattan)
    row.update(
        n=s.n_samples,
        lam=s.lambda_gc if math.isfinite(s.lambda_gc) else None,
        top=s.top,
        gene=_gene(genes, s.top.chrom, s.top.pos) if s.top else None,
        spark_odd=odd,
        spark_even=even,
        spark_gws=None if top < GWS_LOG10P else 24 - GWS_LOG10P / top * 24,
    )
    return row


def _gene(genes: NearestGene | None, chrom: str, pos: int) -> str | None:
    """``GENE`` inside a gene, ``GENE (12.3 kb)`` near one, None without an annotation or a gene."""
    found = genes.nearest(chrom, pos) if genes is not None else None
    if found is None:
        return None
    name, distance = found
    return name if distance == 0 else f"{name} ({distance / 1000:.1f} kb)"


@functools.cache
def _asset(name: str) -> Markup:
    """A CSS or JavaScript file of ``report/templates`` (ours, static: inserted as is)."""
    return Markup(resources.files("gwasflow.report").joinpath("templates", name).read_text(encoding="utf-8"))


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("gwasflow.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
