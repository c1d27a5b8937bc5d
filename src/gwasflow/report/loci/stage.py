"""The loci of a run as the report stage uses them: genes for the pages and each phenotype's locus section.

:func:`loci_for_report` runs :func:`gwasflow.report.loci.annotate.annotate_rundir` (which writes
``loci/<pheno>.tsv``) and turns its result into what :func:`gwasflow.report.html.write_report`
takes: the gene index (nearest gene in tooltips and the index page) and one HTML section per phenotype
(locus table and regional plots). Loci are an annotation of finished, verified results: when they cannot
be computed (a genotype file gone, a gene file unreadable) the report falls back to its distance-clumped
lead variants and says why, rather than failing a run whose results are already published.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gwasflow.core.rundir import RunDir
from gwasflow.errors import GwasflowError
from gwasflow.report.loci.annotate import annotate_rundir, load_run_genes
from gwasflow.report.loci.genes import GeneIndex
from gwasflow.report.loci.table import loci_section_html
from gwasflow.spec.model import RunSpec

__all__ = ["ReportLoci", "loci_for_report"]


@dataclass(frozen=True)
class ReportLoci:
    """What the report shows about loci; ``problem`` is the one-line reason when they could not be computed."""

    genes: GeneIndex | None = None
    sections: dict[str, str] = field(default_factory=dict)  # phenotype -> HTML section
    problem: str | None = None


def loci_for_report(rundir: RunDir) -> ReportLoci:
    """Clump, annotate and draw every phenotype of the run in ``rundir``; never raises for a data problem."""
    try:
        spec = RunSpec.model_validate_json(rundir.spec_path.read_text())
        genes = load_run_genes(spec)
        done = annotate_rundir(rundir)
    except (GwasflowError, OSError, ValueError) as exc:
        return ReportLoci(problem=f"loci not computed: {exc}")
    sections = {
        result.phenotype: loci_section_html(result.phenotype, result.loci, result.plots(),
                                            genes_source=spec.report.genes)
        for result, _ in done
    }
    return ReportLoci(genes=genes, sections=sections)
