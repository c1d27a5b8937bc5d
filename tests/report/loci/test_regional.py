"""Regional plots, the locus table and its HTML section, and loci of a whole phenotype with genes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from gwasflow.regenie.io.bed import open_bed_file
from gwasflow.report.loci.annotate import annotate_phenotype
from gwasflow.report.loci.genes import Gene, load_genes
from gwasflow.report.loci.regional import R2_BINS, RegionalData, r2_colour, regional_svg
from gwasflow.report.loci.results import read_results
from gwasflow.report.loci.table import LOCI_COLUMNS, NO_GENES, Locus, loci_section_html, locus_anchor, write_loci_tsv
from tests.report.loci.ldcohort import LdCohort, write_ld_cohort

GTF = Path(__file__).resolve().parents[2] / "data" / "genes_test.gtf"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> LdCohort:
    return write_ld_cohort(tmp_path_factory.mktemp("ldcohort"))


def _data(genes: tuple[Gene, ...] = ()) -> RegionalData:
    return RegionalData(
        chrom="1", start=100_000, end=600_000, lead_id="rs<lead>&", lead_pos=350_000, lead_log10p=12.0,
        pos=np.array([150_000, 300_000, 350_000, 400_000, 500_000, 550_000]),
        log10p=np.array([1.0, 6.0, 12.0, 9.0, np.nan, 2.0]),
        r2=np.array([0.1, 0.5, 1.0, 0.9, 0.3, np.nan]),
        ids=np.array(["a", "b", "rs<lead>&", "d", "e", "f"]), genes=genes,
    )


def test_r2_colour__locuszoom_bins() -> None:
    assert [r2_colour(v) for v in (0.0, 0.19, 0.2, 0.35, 0.5, 0.7, 0.81, 1.0)] == [
        R2_BINS[0][1], R2_BINS[0][1], R2_BINS[0][1], R2_BINS[1][1], R2_BINS[2][1], R2_BINS[3][1], R2_BINS[4][1],
        R2_BINS[4][1]]
    assert r2_colour(float("nan")) == "#b8b8b8"


def test_regional_svg__points_lead_and_genes() -> None:
    genes = (Gene("UP<1>", "1", 120_000, 200_000, "+", "protein_coding"), Gene("DOWN", "1", 180_000, 260_000, "-", ""))
    svg = regional_svg(_data(genes))
    root = ET.fromstring(svg)  # well-formed XML: every text escaped
    circles = root.findall(f"{SVG}circle")
    assert len(circles) == 4  # finite LOG10P, lead drawn apart
    fills = {c.find(f"{SVG}title").text.split()[0]: c.get("fill") for c in circles}  # type: ignore[union-attr]
    assert fills == {"a": R2_BINS[0][1], "b": R2_BINS[2][1], "d": R2_BINS[4][1], "f": "#b8b8b8"}
    lead = root.findall(f"{SVG}path[@class='lead']")
    assert len(lead) == 1 and "rs<lead>&" in lead[0].find(f"{SVG}title").text  # type: ignore[union-attr,operator]
    gene_groups = root.findall(f"{SVG}g[@class='gene']")
    assert [g.find(f"{SVG}text").text for g in gene_groups] == ["UP<1>", "DOWN"]  # type: ignore[union-attr]
    assert all(g.find(f"{SVG}path") is not None for g in gene_groups)  # strand arrows
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing fetched


def test_regional_svg__without_genes_says_so() -> None:
    assert "no genes in this window" in regional_svg(_data())


def _locus(lead: str, genes: bool) -> Locus:
    return Locus(phenotype="Y1", lead_id=lead, chrom="2", pos=1000, log10p=9.5, start=900, end=1100, n_variants=3,
                 n_ld=5, members=("m1", "m2"), nearest_gene="GENE<2>" if genes else None,
                 gene_distance=0 if genes else None, overlapping_genes=("GENE<2>",) if genes else ())


def test_loci_section_html__anchors_escaping_and_plots() -> None:
    html = loci_section_html("Y<1>", [_locus('rs1"x', True)], {'rs1"x': "<svg></svg>"}, genes_source="/d/genes.gtf")
    assert f'id="{locus_anchor(chr(114) + "s1" + chr(34) + "x")}"' in html
    assert locus_anchor('rs1"x') == "locus-rs1_x"
    assert "Y&lt;1&gt;" in html and "GENE&lt;2&gt;" in html and "(inside)" in html
    assert 'id="locus-rs1_x-plot"' in html and "<svg></svg>" in html
    assert "genes.gtf" in html


def test_loci_section_html__without_gene_file() -> None:
    html = loci_section_html("Y1", [_locus("rs1", False)], {})
    assert html.count(NO_GENES) == 2  # the section's note and the row's gene cells


def test_write_loci_tsv__columns_and_na(tmp_path: Path) -> None:
    path = write_loci_tsv([_locus("rs1", True), _locus("rs2", False)], tmp_path / "Y1.loci.tsv")
    lines = [line.split("\t") for line in path.read_text().splitlines()]
    assert lines[0] == list(LOCI_COLUMNS)
    assert lines[1][1] == "rs1" and lines[1][9:12] == ["GENE<2>", "0", "GENE<2>"] and lines[1][12] == "m1,m2"
    assert lines[2][9:12] == ["NA", "NA", "NA"]
    assert [p.name for p in tmp_path.iterdir()] == ["Y1.loci.tsv"]  # no temporary file left


def test_annotate_phenotype__every_locus_has_a_plot_and_nearest_gene(cohort: LdCohort) -> None:
    rows = read_results(cohort.results)
    result = annotate_phenotype("Y1", rows, [open_bed_file(str(cohort.bed_prefix))], load_genes(GTF))
    assert len(result.loci) >= 3
    plots = result.plots()
    for locus in result.loci:
        assert locus.nearest_gene is not None and locus.gene_distance is not None and locus.gene_distance >= 0
        assert locus.start <= locus.pos <= locus.end
        assert locus.n_variants == 1 + len(locus.members)
        root = ET.fromstring(plots[locus.lead_id])
        assert root.findall(f"{SVG}path[@class='lead']")
        data = result.regional[locus.lead_id]
        lead = int(np.flatnonzero(data.ids == locus.lead_id)[0])
        assert data.r2[lead] == pytest.approx(1.0)
        members = np.isin(data.ids, locus.members)
        assert (data.r2[members] > 0.5).all()  # clumped members are in LD with the lead
    html = loci_section_html("Y1", result.loci, plots, genes_source=str(GTF))
    assert html.count("<svg") == len(result.loci)
