"""Issue 12: per-dataset variant QC before step 2 (``datasets[i].qc``): a ``qc-<file>`` job per expanded file writes
the variant list that file's step 2 shards read as ``--extract``; the run equals the same commands run by hand."""

from __future__ import annotations

import dataclasses
import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from gwasflow.errors import Problem, SpecError
from gwasflow.report.qccounts import read_qc_table
from gwasflow.simulate import Cohort, simulate_cohort, write_plink, write_tables
from gwasflow.simulate_biobank import ArrayFaults, genotyping_array
from gwasflow.spec import load
from gwasflow.validate import validate

QC_FLAGS = ["--maf", "0.01", "--geno", "0.05", "--hwe", "1e-06", "--engine", "builtin"]


def _columns(cohort: Cohort, cols: np.ndarray) -> Cohort:
    return dataclasses.replace(cohort, genotypes=cohort.genotypes[:, cols], chrom=cohort.chrom[cols],
                               pos=cohort.pos[cols], variant_ids=cohort.variant_ids[cols],
                               allele1=cohort.allele1[cols], allele2=cohort.allele2[cols])


def _files(root: Path) -> tuple[dict[str, Any], ArrayFaults, int]:
    """Step 1 on a clean .bed; step 2 on per-chromosome .bed files with missing-call and HWE faults."""
    cohort = simulate_cohort(n_samples=300, n_variants=600, n_chrom=2, n_causal=4, h2_per_causal=0.05, seed=21)
    write_plink(cohort, root / "array" / "all")
    faulty, faults = genotyping_array(cohort, fraction=1.0, n_bad_samples=0, n_bad_variants=4, n_hwe_outliers=4,
                                      seed=3)
    for c in ("1", "2"):
        write_plink(_columns(faulty, np.flatnonzero(faulty.chrom == c)), root / "geno" / f"chr{c}")
    write_tables(cohort, root / "cohort")
    spec = {
        "name": "dsqc",
        "step1": {"genotypes": {"bed": "array/all"}, "bsize": 100},
        "datasets": [{"bed": "geno/chr{chrom}", "chromosomes": "1-2", "label": "g",
                      "qc": {"maf": 0.01, "geno": 0.05, "hwe": 1e-6, "engine": "builtin"}}],
        "step2": {"variants_per_job": 120, "bsize": 100},
        "phenotypes": {"file": "cohort.pheno.txt", "columns": ["Y1", "Y2"]},
        "covariates": {"file": "cohort.covar.txt", "columns": ["age", "sex", "pc1"]},
        "workdir": "work",
        "outdir": "out",
    }
    return spec, faults, 600


def _call(argv: list[str], cwd: Path) -> str:
    proc = subprocess.run([sys.executable, "-m", "gwasflow", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def _by_hand(root: Path) -> dict[str, str]:
    """gwasflow qc on each file, step 1 on the array, step 2 per file with its list as --extract, concatenated."""
    common = ["--phenoFile", "cohort.pheno.txt", "--phenoColList", "Y1,Y2", "--covarFile", "cohort.covar.txt",
              "--covarColList", "age,sex,pc1"]
    _call(["regenie", "--step", "1", "--bed", "array/all", *common, "--bsize", "100", "--out", "hand/s1"], root)
    merged: dict[str, list[str]] = {"Y1": [], "Y2": []}
    for c in ("1", "2"):
        _call(["qc", "--bed", f"geno/chr{c}", *QC_FLAGS, "--out", f"hand/qc{c}"], root)
        _call(["regenie", "--step", "2", "--bed", f"geno/chr{c}", *common, "--extract", f"hand/qc{c}.snplist",
               "--bsize", "100", "--pred", "hand/s1_pred.list", "--out", f"hand/c{c}"], root)
        for pheno, lines in merged.items():
            text = (root / "hand" / f"c{c}_{pheno}.regenie").read_text().replace(" ", "\t").splitlines(keepends=True)
            lines += text if not lines else text[1:]
    return {f"{p}.regenie.gz": "".join(lines) for p, lines in merged.items()}


def test_run__dataset_qc_jobs_filter_each_file_as_gwasflow_qc_by_hand(tmp_path: Path) -> None:
    spec, faults, n_variants = _files(tmp_path)
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    graph = json.loads(_call(["plan", "spec.yaml", "--json"], tmp_path))
    jobs = {job["id"]: job for job in graph["jobs"]}
    assert {"qc-g_1", "qc-g_2"} <= set(jobs)
    step2 = [job for job in jobs.values() if job["step"] == "step2"]
    assert len(step2) == 6  # 2 files x 3 chunks of up to 120 variants, both traits in one group
    for job in step2:
        qc_job = f"qc-{job['id'].split('-')[1]}"
        assert qc_job in job["deps"] and "step1" in job["deps"]
        assert job["argv"][job["argv"].index("--extract") + 1] == jobs[qc_job]["outputs"][0]
    _call(["run", "spec.yaml", "--quiet"], tmp_path)
    results = {p.name: gzip.decompress(p.read_bytes()).decode() for p in sorted((tmp_path / "out" / "results").glob(
        "*.regenie.gz"))}
    (tmp_path / "hand").mkdir()
    assert results == _by_hand(tmp_path)
    removed = set(faults.bad_variants) | set(faults.hwe_outliers)
    for text in results.values():
        ids = {line.split("\t")[2] for line in text.splitlines()[1:]}
        assert len(ids) == n_variants - len(removed) and not ids & removed
    tables = {label: read_qc_table(tmp_path / "out" / "qc" / f"{label}.tsv") for label in ("g_1", "g_2")}
    assert sum(rows[-1].left for rows in tables.values()) == n_variants - len(removed)
    assert all(rows[0].step == "variants_in" and sum(r.removed for r in rows[2:]) == rows[0].left - rows[-1].left
               for rows in tables.values())  # fmt: skip
    events = [json.loads(line) for line in (tmp_path / "out" / ".gwasflow" / "events.jsonl").read_text().splitlines()]
    counted = {e["dataset"]: e["variants_kept"] for e in events if e["event"] == "dataset_qc_counts"}
    assert counted == {label: rows[-1].left for label, rows in tables.items()}
    report = (tmp_path / "out" / "report.html").read_text()
    assert 'id="dataset-qc"' in report and "<h3>g_1</h3>" in report and "<h3>g_2</h3>" in report


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"datasets": [{"bgen": "x_chr{chrom}.bgen", "chromosomes": "1-2", "qc": {"maf": 0.01}}]}, "datasets[0]",
     "qc reads .bed or .pgen hard calls; this dataset is BGEN"),
    ({"variants": {"extract": "keep.snps"}}, "spec",
     "datasets[0].qc cannot be combined with variants.extract: step 2 reads one variant list"),
])
def test_load__dataset_qc_refusals_name_the_field(tmp_path: Path, change: dict[str, Any], field: str,
                                                  message: str) -> None:
    spec, _, _ = _files(tmp_path)
    spec |= change
    (tmp_path / "keep.snps").write_text("rs1_1\n")
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(SpecError) as info:
        validate(load(tmp_path / "spec.yaml"))
    problems: list[Problem] = info.value.problems
    assert len(problems) == 1 and problems[0].field == field and message in problems[0].message, problems


def test_export_stepfunctions__a_plan_with_dataset_qc_is_refused_naming_the_dataset(tmp_path: Path) -> None:
    spec, _, _ = _files(tmp_path)
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    proc = subprocess.run([sys.executable, "-m", "gwasflow", "export", "spec.yaml", "--format", "stepfunctions",
                           "--out", "m.json", "--failure-table", "t",
                           "--manifest", "s3://bucket/run"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "datasets[0].qc: the Step Functions export has no per-dataset QC state" in proc.stderr
    assert not (tmp_path / "m.json").exists()
