"""Loci for the phenotypes of a run: clump, annotate with genes, draw regional plots, write the tables.

:func:`annotate_phenotype` works on one result file and open genotype files (a test or a notebook
can call it); :func:`annotate_run` does every phenotype of a finished run folder, with the run's own
step 2 genotypes and the spec's ``report`` settings, writing ``loci/<pheno>.tsv`` beside ``results/``.

With several genotype files (datasets, per-chromosome ``{chrom}`` files) each file is clumped on its
own, as ``plink2 --clump`` would be run once per file: a clump never spans two files, which is exact
when the files hold different chromosomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gwasflow.core.rundir import RunDir
from gwasflow.errors import GwasflowError
from gwasflow.regenie.io.genotypes import GenotypeSource
from gwasflow.regenie.io.remote import localize
from gwasflow.report.loci.clump import Clump, ClumpOptions, clump, genotype_index, lead_r2
from gwasflow.report.loci.founders import founder_index
from gwasflow.report.loci.genes import GeneIndex, load_genes
from gwasflow.report.loci.regional import RegionalData, regional_svg
from gwasflow.report.loci.results import ResultRows, read_results
from gwasflow.report.loci.table import Locus, loci_from_clumps, write_loci_tsv
from gwasflow.spec.genotypes import GenoFormat
from gwasflow.spec.model import DatasetFile, RunSpec

__all__ = ["LOCI_DIR", "LdPanel", "LociError", "PhenotypeLoci", "annotate_phenotype", "annotate_run", "annotate_rundir",
           "clump_options", "load_run_genes", "open_dataset_file", "open_panel"]


LOCI_DIR = "loci"  # <outdir>/loci/<pheno>.tsv: beside results/, which holds the merged results only


class LociError(GwasflowError):
    """A run whose loci cannot be computed (no merged results, an unknown phenotype)."""

    exit_code = 2


@dataclass(frozen=True)
class PhenotypeLoci:
    phenotype: str
    loci: list[Locus]
    regional: dict[str, RegionalData] = field(default_factory=dict)  # by lead ID

    def plots(self) -> dict[str, str]:
        """Each locus's regional plot as SVG, by lead ID."""
        return {lead: regional_svg(data) for lead, data in self.regional.items()}


def open_dataset_file(item: DatasetFile) -> GenotypeSource:
    """Open one step 2 genotype file of a spec with the engine's readers."""
    if item.fmt is GenoFormat.PGEN:
        from gwasflow.regenie.io.pgen import open_pgen_file

        return open_pgen_file(item.source)
    if item.fmt is GenoFormat.BGEN:
        from gwasflow.regenie.io.bgen import open_bgen_file

        return open_bgen_file(item.source, item.sample, ref_first=item.ref_first)
    from gwasflow.regenie.io.bed import open_bed_file

    return open_bed_file(item.source, ref_first=item.ref_first)


@dataclass(frozen=True)
class LdPanel:
    """A genotype file and the samples r2 is computed over (None: all of them)."""

    source: GenotypeSource
    samples: NDArray[np.intp] | None = None


def open_panel(item: DatasetFile) -> LdPanel:
    """A spec's step 2 genotype file with its founders, the samples plink2 would compute LD over."""
    return LdPanel(open_dataset_file(item), founder_index(item.fmt, item.source))


def annotate_phenotype(phenotype: str, rows: ResultRows, panels: Sequence[LdPanel | GenotypeSource],
                       genes: GeneIndex | None, options: ClumpOptions | None = None) -> PhenotypeLoci:
    """Clump ``rows`` against each genotype file, annotate the loci and gather their regional plots' data.

    A bare genotype source is used with all its samples.
    """
    options = options or ClumpOptions()
    found: list[tuple[Clump, LdPanel]] = []
    for panel in (p if isinstance(p, LdPanel) else LdPanel(p) for p in panels):
        found += [(item, panel) for item in clump(rows, panel.source, options, sample_index=panel.samples)]
    found.sort(key=lambda pair: -float(rows.log10p[pair[0].index]))
    loci = loci_from_clumps(phenotype, rows, [item for item, _ in found], genes)
    regional = {locus.lead_id: _regional(rows, locus, panel, genes, options.bp_radius)
                for locus, (_, panel) in zip(loci, found, strict=True)}
    return PhenotypeLoci(phenotype, loci, regional)


def _regional(rows: ResultRows, locus: Locus, panel: LdPanel, genes: GeneIndex | None,
              radius: int) -> RegionalData:
    start, end = max(1, min(locus.start, locus.pos - radius)), max(locus.end, locus.pos + radius)
    window = np.flatnonzero((rows.chrom == locus.chrom) & (rows.pos >= start) & (rows.pos <= end))
    sub = ResultRows(rows.chrom[window], rows.pos[window], rows.ids[window], rows.log10p[window])
    geno = genotype_index(sub, panel.source)
    lead = int(geno[np.flatnonzero(sub.ids == locus.lead_id)[0]])
    known = np.flatnonzero(geno >= 0)
    r2 = np.full(window.size, np.nan)
    r2[known] = lead_r2(panel.source, lead, geno[known], panel.samples)
    return RegionalData(
        chrom=locus.chrom, start=start, end=end, lead_id=locus.lead_id, lead_pos=locus.pos,
        lead_log10p=locus.log10p, pos=sub.pos, log10p=sub.log10p, r2=r2, ids=sub.ids,
        genes=tuple(genes.overlapping(locus.chrom, start, end)) if genes is not None else (),
    )


def clump_options(spec: RunSpec) -> ClumpOptions:
    """The clumping thresholds of a spec's ``report`` section."""
    report = spec.report
    return ClumpOptions(p1=report.clump_p1, p2=report.clump_p2, r2=report.clump_r2, kb=report.clump_kb)


def annotate_run(spec: RunSpec, results_dir: Path, *, phenotypes: Sequence[str] = ()
                 ) -> list[tuple[PhenotypeLoci, Path]]:
    """Write ``<results_dir>/../loci/<pheno>.tsv`` for each phenotype (all of the spec's unless ``phenotypes``).

    Returns each phenotype's loci (with their regional plots' data) and the table's path.
    """
    chosen = list(phenotypes) or list(spec.phenotypes.columns)
    unknown = [p for p in chosen if p not in spec.phenotypes.columns]
    if unknown:
        raise LociError(f"phenotype {unknown[0]!r} is not in this run (its phenotypes: "
                        f"{', '.join(spec.phenotypes.columns)})")
    paths = {p: results_dir / f"{p}.regenie.gz" for p in chosen}
    absent = [path for path in paths.values() if not path.is_file()]
    if absent:
        raise LociError(f"{absent[0]}: no merged result there; has the run finished? (gwasflow verify)")
    genes = load_run_genes(spec)
    panels = [open_panel(item) for item in spec.dataset_files()]
    options = clump_options(spec)
    written = []
    for pheno, path in paths.items():
        result = annotate_phenotype(pheno, read_results(path), panels, genes, options)
        written.append((result, write_loci_tsv(result.loci, results_dir.parent / LOCI_DIR / f"{pheno}.tsv")))
    return written


def annotate_rundir(rundir: RunDir, *, phenotypes: Sequence[str] = ()) -> list[tuple[PhenotypeLoci, Path]]:
    """:func:`annotate_run` for a run folder: its recorded spec, its ``results/`` (the report stage's entry)."""
    if not rundir.spec_path.is_file():
        raise LociError(f"{rundir.spec_path}: not there; the run folder has no record of its spec")
    spec = RunSpec.model_validate_json(rundir.spec_path.read_text())
    return annotate_run(spec, rundir.results_dir, phenotypes=phenotypes)


def load_run_genes(spec: RunSpec) -> GeneIndex | None:
    """The spec's gene file (``report.genes``, a path or URI) as an index; None when it names none."""
    if not spec.report.genes:
        return None
    local = localize(spec.report.genes, flag="report.genes")
    return load_genes(Path(local or spec.report.genes))
