"""``gwasflow loci`` on a run's spec, and the spec's ``report`` section (genes, genome build, clumping)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from gwasflow.errors import SpecError
from gwasflow.report.loci.results import read_results
from gwasflow.spec import load
from gwasflow.spec.model import ReportSpec
from gwasflow.validate import validate
from tests.report.loci.ldcohort import write_ld_cohort
from tests.report.loci.plinkref import reference_plink, run_plink_clump
from tests.spec.conftest import FILES, base_spec

GTF = Path(__file__).resolve().parents[2] / "data" / "genes_test.gtf"


def _gwasflow(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gwasflow", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)


def _finished_run(tmp_path: Path, report: dict[str, Any] | None) -> Path:
    """A spec over the LD cohort whose outdir already holds the merged result of Y1, as a finished run's does."""
    cohort = write_ld_cohort(tmp_path / "data")
    (tmp_path / "data" / "pheno.txt").write_text("FID IID Y1\nS0 S0 1.0\n")
    results = tmp_path / "out" / "results"
    results.mkdir(parents=True)
    shutil.copyfile(cohort.results, results / "Y1.regenie.gz")
    spec: dict[str, Any] = {"name": "ld", "datasets": [{"bed": "data/ld"}],
                            "phenotypes": {"file": "data/pheno.txt", "columns": ["Y1"]},
                            "workdir": "work", "outdir": "out"}
    if report is not None:
        spec["report"] = report
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_main_loci__writes_tables_and_page_with_genes(tmp_path: Path) -> None:
    shutil.copyfile(GTF, tmp_path / "genes.gtf")
    _finished_run(tmp_path, {"genes": "genes.gtf", "genome_build": "hg38", "clump_p1": 1e-6})
    proc = _gwasflow(["loci", "spec.yaml", "--html", "loci.html"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    table = (tmp_path / "out" / "loci" / "Y1.tsv").read_text().splitlines()
    assert table[0].startswith("PHENO\tLEAD_ID\tCHROM")
    assert len(table) - 1 >= 3
    assert all(row.split("\t")[9] != "NA" for row in table[1:])  # every locus has its nearest gene
    assert f"Y1: {len(table) - 1} loci" in proc.stdout
    page = (tmp_path / "loci.html").read_text()
    assert page.count("<svg") == len(table) - 1
    assert "genes.gtf" in page


def test_main_loci__without_gene_file_says_so(tmp_path: Path) -> None:
    _finished_run(tmp_path, None)
    proc = _gwasflow(["loci", "spec.yaml", "--pheno", "Y1"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "genes: no gene annotation given" in proc.stdout
    rows = [r.split("\t") for r in (tmp_path / "out" / "loci" / "Y1.tsv").read_text().splitlines()[1:]]
    assert rows and all(r[9:12] == ["NA", "NA", "NA"] for r in rows)


def test_main_loci__unknown_phenotype_exits_2(tmp_path: Path) -> None:
    _finished_run(tmp_path, None)
    proc = _gwasflow(["loci", "spec.yaml", "--pheno", "Y9"], tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["error: phenotype 'Y9' is not in this run (its phenotypes: Y1)"]
    assert not (tmp_path / "out" / "loci" / "Y9.tsv").exists()


def test_report_spec__genes_need_a_build() -> None:
    with pytest.raises(ValidationError, match=re.escape("report.genes needs report.genome_build")):
        ReportSpec(genes="genes.gtf")
    assert ReportSpec(genes="genes.gtf", genome_build="hg19").build() == "GRCh37"


def _spec_with(tmp_path: Path, regenie_example: Path, report: dict[str, Any], **fields: Any) -> Path:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    for name in FILES:
        shutil.copyfile(regenie_example / "inputs" / name, data / name)
    spec = base_spec()
    spec.update(fields)
    spec["report"] = report
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_load__report_genes_relative_to_spec_and_builds_agree(tmp_path: Path, regenie_example: Path) -> None:
    shutil.copyfile(GTF, tmp_path / "genes.gtf")
    spec = load(_spec_with(tmp_path, regenie_example, {"genes": "genes.gtf", "genome_build": "hg38"}))
    assert spec.report.genes == str(tmp_path / "genes.gtf")
    validate(spec)  # the gene file parses: no problem
    with pytest.raises(SpecError, match=re.escape("report.genome_build hg19 is not genome_build GRCh38")):
        load(_spec_with(tmp_path, regenie_example, {"genes": "genes.gtf", "genome_build": "hg19"},
                        genome_build="GRCh38"))


@pytest.mark.parametrize(("content", "needle"), [
    (None, "report.genes (" ),
    ("chr1\tHAVANA\tgene\t10\tX\t.\t+\t.\tgene_name \"A\";\n", "line 1: start '10' or end 'X'"),
])
def test_validate__bad_gene_file_exits_2_with_one_line(tmp_path: Path, regenie_example: Path, content: str | None,
                                                       needle: str) -> None:
    if content is not None:
        (tmp_path / "genes.gtf").write_text(content)
    _spec_with(tmp_path, regenie_example, {"genes": "genes.gtf", "genome_build": "hg38"})
    proc = _gwasflow(["validate", "spec.yaml"], tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "report.genes" in lines[0], proc.stderr
    assert needle in lines[0]


def test_main_loci__on_a_run_folder_uses_its_recorded_spec(tmp_path: Path) -> None:
    spec = load(_finished_run(tmp_path, None))
    run = Path(spec.outdir)
    (run / ".gwasflow").mkdir(parents=True)
    (run / ".gwasflow" / "gwasflow.sqlite").write_bytes(b"")  # what marks a run folder
    (run / ".gwasflow" / "spec.json").write_text(spec.model_dump_json())
    proc = _gwasflow(["loci"], run)
    assert proc.returncode == 0, proc.stderr
    assert f"-> {run / 'loci' / 'Y1.tsv'}" in proc.stdout
    assert (run / "loci" / "Y1.tsv").read_text().startswith("PHENO\t")
    (run / ".gwasflow" / "spec.json").unlink()
    proc = _gwasflow(["loci"], run)
    assert proc.returncode == 2 and "has no record of its spec" in proc.stderr


def test_main_loci__demo_run_equals_plink_clump_and_has_genes(tmp_path: Path) -> None:
    """A real (small) demo run: its merged results and .bed, clumped by gwasflow loci and by PLINK."""
    demo = tmp_path / "d"
    proc = _gwasflow(["demo", "--simple", "--out", str(demo), "--samples", "1000", "--variants", "3000", "--quiet"],
                    tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shutil.copyfile(GTF, demo / "genes.gtf")
    spec_path = demo / "spec.yaml"
    spec_path.write_text(spec_path.read_text() + "report: {genes: genes.gtf, genome_build: hg19}\n")
    proc = _gwasflow(["loci", "spec.yaml", "--pheno", "Y1", "--html", "loci.html"], demo)
    assert proc.returncode == 0, proc.stderr
    rows = [r.split("\t") for r in (demo / "loci" / "Y1.tsv").read_text().splitlines()[1:]]
    merged = read_results(demo / "results" / "Y1.regenie.gz")
    plink_input = tmp_path / "y1.plink.txt"
    plink_input.write_text("ID\tP\n" + "".join(f"{i}\t{10.0 ** -lp!r}\n" for i, lp in
                                                zip(merged.ids.tolist(), merged.log10p.tolist(), strict=True)))
    reference = run_plink_clump(reference_plink(), demo / "data" / "cohort", plink_input, tmp_path / "ref",
                                p1=5e-8, p2=1e-2, r2=0.5, kb=250)
    assert len(reference) >= 3
    assert [r[1] for r in rows] == [c.index for c in reference]
    assert [int(r[8]) - 1 for r in rows] == [c.total for c in reference]
    assert [set(r[12].split(",")) - {"NA"} for r in rows] == [set(c.members) for c in reference]
    assert all(r[9] != "NA" for r in rows)  # nearest gene from the test GTF
    assert (demo / "loci.html").read_text().count("<svg") == len(rows)  # a regional plot per locus
