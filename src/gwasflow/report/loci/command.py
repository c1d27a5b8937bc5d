"""``gwasflow loci``: the loci of a finished run, with genes and regional plots, outside the run itself.

Takes the run folder (its recorded spec) or the spec file (its ``outdir``), clumps each phenotype's
merged result with the run's step 2 genotypes, writes ``loci/<pheno>.tsv`` and, with
``--html``, one self-contained page holding every phenotype's locus table and regional plots.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from gwasflow.core.atomic import write_atomic
from gwasflow.core.rundir import RunDir
from gwasflow.report.loci.annotate import PhenotypeLoci, annotate_run, annotate_rundir
from gwasflow.report.loci.table import NO_GENES, loci_section_html
from gwasflow.spec.model import RunSpec

__all__ = ["loci_page_html", "main_loci"]


def _annotate(target: Path | None, phenotypes: Sequence[str]) -> tuple[RunSpec, list[tuple[PhenotypeLoci, Path]]]:
    """The spec and the loci of the run folder ``target`` (default: this folder) or of the spec file ``target``."""
    if target is not None and target.is_file():
        from gwasflow.spec import load

        spec = load(target)
        return spec, annotate_run(spec, RunDir(Path(spec.outdir)).results_dir, phenotypes=phenotypes)
    from gwasflow.core.rundir import find_rundir

    rundir = find_rundir(target)
    done = annotate_rundir(rundir, phenotypes=phenotypes)
    return RunSpec.model_validate_json(rundir.spec_path.read_text()), done


def loci_page_html(run_name: str, results: Sequence[PhenotypeLoci], genes_source: str | None) -> str:
    """A whole HTML page: one :func:`loci_section_html` per phenotype."""
    sections = "".join(loci_section_html(r.phenotype, r.loci, r.plots(), genes_source=genes_source) for r in results)
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Loci of {escape(run_name)}</title><style>body{{font-family:sans-serif;margin:1.5em}}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}"
            "figure{margin:1em 0}</style></head><body>"
            f"<h2>Loci of run {escape(run_name)}</h2>{sections}</body></html>\n")


def main_loci(target: Path | None, *, phenotypes: Sequence[str], html: Path | None) -> int:
    """The command: one line per phenotype (loci, where the table went), then the page when asked."""
    spec, done = _annotate(target, phenotypes)
    print(f"genes: {spec.report.genes or NO_GENES}")
    for result, path in done:
        leads = ", ".join(locus.lead_id for locus in result.loci[:3])
        more = f" (top: {leads})" if leads else ""
        print(f"{result.phenotype}: {len(result.loci)} loci{more} -> {path}")
    if html is not None:
        write_atomic(html, loci_page_html(spec.name, [r for r, _ in done], spec.report.genes))
        print(f"page -> {html}")
    return 0
