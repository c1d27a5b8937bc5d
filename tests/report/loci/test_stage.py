"""The report stage's loci: genes and locus sections for the pages, and a fallback that never fails a run."""

from __future__ import annotations

import shutil
from pathlib import Path

from gwasflow.core.rundir import RunDir
from gwasflow.report.loci.stage import loci_for_report
from gwasflow.spec import load
from tests.report.loci.test_command import GTF, _finished_run


def _rundir(tmp_path: Path, with_genes: bool) -> RunDir:
    if with_genes:
        shutil.copyfile(GTF, tmp_path / "genes.gtf")
    report = {"genes": "genes.gtf", "genome_build": "hg38", "clump_p1": 1e-6} if with_genes else None
    spec = load(_finished_run(tmp_path, report))
    rundir = RunDir(Path(spec.outdir))
    rundir.state_dir.mkdir(parents=True)
    rundir.spec_path.write_text(spec.model_dump_json())
    return rundir


def test_loci_for_report__sections_and_genes_from_the_run(tmp_path: Path) -> None:
    rundir = _rundir(tmp_path, with_genes=True)
    loci = loci_for_report(rundir)
    assert loci.problem is None and loci.genes is not None
    table = (rundir.root / "loci" / "Y1.tsv").read_text().splitlines()[1:]
    section = loci.sections["Y1"]
    assert len(table) >= 3
    for row in table:
        lead = row.split("\t")[1]
        assert f'id="locus-{lead}"' in section
    assert section.count("<svg") == len(table)
    first = table[0].split("\t")
    assert loci.genes.nearest(first[2], int(first[3])) is not None


def test_loci_for_report__genotypes_gone_gives_a_reason_not_an_error(tmp_path: Path) -> None:
    rundir = _rundir(tmp_path, with_genes=False)
    for path in (tmp_path / "data").glob("ld.*"):
        path.unlink()
    loci = loci_for_report(rundir)
    assert loci.problem is not None and loci.problem.startswith("loci not computed: ")
    assert loci.sections == {} and loci.genes is None
