"""The pages' data and HTML without a browser: payload, file names, escaping, loci fragments, gene notes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from gwasflow.report.pages import Trait, write_site
from gwasflow.report.pages.data import embed_json, page_files, phenotype_payload, sparkline_paths
from gwasflow.report.summary import summarize_results
from tests.report.sitedata import Genes, read_rows, write_trait

GENES = Genes((("2", 4_990_000, 5_100_000, "PEAK"),))


def _data(html: str) -> dict[str, object]:
    match = re.search(r'<script type="application/json" id="gwasflow-data">(.*?)</script>', html, re.DOTALL)
    assert match is not None
    value: dict[str, object] = json.loads(match.group(1))
    return value


def test_page_files__safe_distinct_names() -> None:
    files = page_files(["Y1", "a/b", "a_b", "A_B", "..", "é"])
    assert files == {"Y1": "Y1.html", "a/b": "a_b.html", "a_b": "a_b-2.html", "A_B": "A_B-3.html",
                     "..": "phenotype.html", "é": "_.html"}  # fmt: skip


def test_embed_json__nothing_can_close_the_script_element() -> None:
    text = embed_json({"id": "</script><b>&"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"id": "</script><b>&"}


def test_phenotype_payload__detailed_points_are_the_rows_above_3_with_genes_and_loci(tmp_path: Path) -> None:
    path = tmp_path / "T.regenie.gz"
    write_trait(path, seed=1, peaks=1)
    summary = summarize_results(path, "T")
    payload = phenotype_payload(summary, GENES)
    rows = [r for r in read_rows(path) if float(r["LOG10P"]) > 3]
    pts = payload["pts"]
    assert pts["id"] == [r["ID"] for r in rows]
    assert pts["y"] == [float(r["LOG10P"]) for r in rows]
    assert pts["b"] == [float(f'{float(r["BETA"]):.4g}') for r in rows]
    lead = summary.loci[0].lead
    i = pts["id"].index(lead.id)
    assert payload["genes"][pts["g"][i]] == "PEAK" and pts["gd"][i] == 0
    assert payload["loci"][pts["l"][i]] == lead.id
    far = [k for k, c in enumerate(pts["c"]) if payload["chroms"][c] != lead.chrom]
    assert far and all(pts["l"][k] == -1 and pts["g"][k] == -1 for k in far)  # no gene, no locus off chromosome 2
    assert all(y <= summary.details.min_log10p for y in payload["low"]["y"])
    assert len(payload["low"]["y"]) + len(rows) == summary.manhattan.n_points


def test_sparkline_paths__one_bar_per_column_at_its_highest_point(tmp_path: Path) -> None:
    path = tmp_path / "T.regenie.gz"
    write_trait(path, seed=2, peaks=1)
    m = summarize_results(path, "T").manhattan
    odd, even, top = sparkline_paths(m)
    bars = re.findall(r"M([\d.]+) 24v-([\d.]+)", odd + even)
    columns = [float(x) for x, _ in bars]
    assert len(columns) == len(set(columns)) <= 120
    assert top == max(8.0, float(m.log10p.max()))
    assert max(float(h) for _, h in bars) == 24.0  # the strongest point reaches the top
    assert odd and even  # chromosomes 1 and 3 (odd) and 2 (even) alternate colours


def test_write_site__loci_fragment_replaces_the_table_and_no_genes_is_said(tmp_path: Path) -> None:
    for k in range(2):
        write_trait(tmp_path / f"T{k}.regenie.gz", seed=k, peaks=1)
    traits = [Trait(f"T{k}", tmp_path / f"T{k}.regenie.gz", summarize_results(tmp_path / f"T{k}.regenie.gz", f"T{k}"))
              for k in range(2)]  # fmt: skip
    traits.append(Trait("T2", tmp_path / "T2.regenie.gz", None, missing="No merged results at T2"))
    fragment = '<table id="from-loci-helper"><tr id="locus-x"><td>x</td></tr></table>'
    site = write_site(traits, tmp_path / "site", title="t", loci_html={"T1": fragment})
    assert site.pages == {"T0": "phenotypes/T0.html", "T1": "phenotypes/T1.html"}
    t0 = (tmp_path / "site" / site.pages["T0"]).read_text()
    t1 = (tmp_path / "site" / site.pages["T1"]).read_text()
    assert fragment in t1 and 'id="locus-' + traits[1].summary.loci[0].lead.id + '"' not in t1  # type: ignore[union-attr]
    assert f'id="locus-{traits[0].summary.loci[0].lead.id}"' in t0  # type: ignore[union-attr]
    assert "No gene annotation given" in t0 and _data(t0)["hasGenes"] is False
    index = site.index.read_text()
    assert "No merged results at T2" in index and 'href="phenotypes/T0.html"' in index
    assert "no gene annotation given" in index
    assert not list((tmp_path / "site" / "phenotypes").glob("*.tmp*"))
    assert np.isclose(_data(t0)["lambda"], round(traits[0].summary.lambda_gc, 4))  # type: ignore[arg-type,union-attr]


def test_write_site__removes_pages_of_phenotypes_no_longer_there(tmp_path: Path) -> None:
    path = tmp_path / "T.regenie.gz"
    write_trait(path, seed=3)
    summary = summarize_results(path, "T")
    write_site([Trait("T", path, summary), Trait("old", path, summary)], tmp_path / "site", title="t")
    assert sorted(p.name for p in (tmp_path / "site" / "phenotypes").iterdir()) == ["T.html", "old.html"]
    (tmp_path / "site" / "phenotypes" / "notes.txt").write_text("not a page")
    write_site([Trait("T", path, summary)], tmp_path / "site", title="t")
    assert sorted(p.name for p in (tmp_path / "site" / "phenotypes").iterdir()) == ["T.html", "notes.txt"]
    assert "old.html" not in (tmp_path / "site" / "index.html").read_text()
