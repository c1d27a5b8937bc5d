"""Issue 12: genotype sources in the spec (bed/pgen/bgen, {chrom} templates, step1.genotypes) and their checks."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from gwasflow.core.states import Step
from gwasflow.errors import Problem, SpecError
from gwasflow.plan import genofiles
from gwasflow.plan.build import build_graph
from gwasflow.plan.meta import FileIssue
from gwasflow.spec import load
from gwasflow.spec.genotypes import DatasetSpec, GenoFormat, expand_chromosomes
from gwasflow.validate import validate
from tests.biobank_files import make_biobank, write_bgen
from tests.regenie.differential.compare import require_regenie


@pytest.fixture(scope="module")
def biobank(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("biobank")
    return root, make_biobank(root)


def _problems(root: Path, spec: dict[str, Any], name: str = "spec.yaml") -> list[Problem]:
    path = root / name
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(SpecError) as info:
        validate(load(path))
    return info.value.problems


def _spec(biobank: tuple[Path, dict[str, Any]]) -> dict[str, Any]:
    return copy.deepcopy(biobank[1]["spec"])


def test_expand_chromosomes__ranges_lists_and_names() -> None:
    assert expand_chromosomes("1-3") == ["1", "2", "3"]
    assert expand_chromosomes([1, 2, "X"]) == ["1", "2", "X"]
    assert expand_chromosomes("20-22,X") == ["20", "21", "22", "X"]
    assert expand_chromosomes(23) == ["23"]
    for bad in ("3-1", "1-2,2", "1;2"):
        with pytest.raises(ValueError):
            expand_chromosomes(bad)


def test_dataset_spec__files_expand_templates_with_chrom_prefix() -> None:
    ds = DatasetSpec(bgen="imp/{chrom}.bgen", sample="imp/{chrom}.sample", chromosomes=[1, "X"], chrom_prefix="chr")
    assert ds.files() == [("1", "imp/chr1.bgen", "imp/chr1.sample"), ("X", "imp/chrX.bgen", "imp/chrX.sample")]
    assert ds.fmt is GenoFormat.BGEN
    with pytest.raises(ValueError, match="needs chromosomes"):
        DatasetSpec(bgen="imp/{chrom}.bgen")
    with pytest.raises(ValueError, match="exactly one of bed, pgen or bgen"):
        DatasetSpec(bed="a", bgen="b.bgen")


def test_validate__biobank_spec_passes_and_plans_per_chromosome_file(biobank: tuple[Path, dict[str, Any]]) -> None:
    root, _ = biobank
    path = root / "ok.yaml"
    path.write_text(yaml.safe_dump(_spec(biobank)))
    spec = load(path)
    metas = validate(spec)
    assert [(m.label, m.fmt, m.step1_only) for m in metas] == [
        ("step1", GenoFormat.BED, True), ("imp_1", GenoFormat.BGEN, False), ("imp_2", GenoFormat.BGEN, False)]
    graph = build_graph(spec, metas)
    step1 = graph["step1"].argv
    assert step1[step1.index("--bed") + 1] == str(root / "array" / "ukb_cal_allchr")
    assert "--bgen" not in step1 and "--minINFO" not in step1 and "--keep" in step1
    shards = graph.by_step(Step.STEP2)
    assert {s.meta["dataset"] for s in shards} == {"imp_1", "imp_2"}
    argv = shards[-1].argv
    assert argv[argv.index("--bgen") + 1] == str(root / "imputed" / "ukb_imp_chr2.bgen")
    assert argv[argv.index("--sample") + 1] == str(root / "imputed" / "ukb_imp.sample")
    assert argv[argv.index("--minINFO") + 1] == "0.8" and argv[argv.index("--minMAC") + 1] == "5"
    assert argv[argv.index("--catCovarList") + 1] == "batch"


def test_validate__missing_chromosome_file_names_dataset_chromosome_and_path(
    biobank: tuple[Path, dict[str, Any]]
) -> None:
    root, _ = biobank
    spec = _spec(biobank)
    spec["datasets"][0]["chromosomes"] = "1-3"
    problems = _problems(root, spec)
    assert [(p.field, p.message, p.file) for p in problems] == [
        ("datasets[0].bgen", "dataset imp, chromosome 3: file not found", str(root / "imputed" / "ukb_imp_chr3.bgen"))]


def _sample_file(root: Path, name: str, ids: list[tuple[str, str]]) -> str:
    (root / name).write_text("ID_1 ID_2 missing\n0 0 0\n" + "".join(f"{f} {i} 0\n" for f, i in ids))
    return name


def test_validate__bgen_samples_not_overlapping_the_phenotypes(biobank: tuple[Path, dict[str, Any]]) -> None:
    root, cohort = biobank
    spec = _spec(biobank)
    spec["datasets"][0]["sample"] = _sample_file(root, "other.sample", [(f"X{s}", f"X{s}") for s in cohort["ids"]])
    spec["samples"] = {}
    messages = {(p.field, p.message) for p in _problems(root, spec)}
    n = len(cohort["ids"])
    assert ("phenotypes.file", f"no sample (FID IID) in common with {root / 'other.sample'} ({n} samples)") in messages


def test_validate__fid_iid_mismatch_says_which_file_uses_which_ids(biobank: tuple[Path, dict[str, Any]]) -> None:
    root, cohort = biobank
    spec = _spec(biobank)
    spec["datasets"][0]["sample"] = _sample_file(root, "fam.sample", [(f"F{s}", s) for s in cohort["ids"]])
    spec["samples"] = {}
    problems = [p for p in _problems(root, spec) if p.field == "phenotypes.file"]
    assert len(problems) == 1
    message = problems[0].message
    assert message.startswith(f"FID/IID mismatch: {len(cohort['ids'])} IIDs are in both files but no FID IID pair is")
    assert "uses the IID in both columns (FID = IID), e.g. 'S000001 S000001'" in message
    assert f"{root / 'fam.sample'} uses FIDs that differ from the IIDs, e.g. 'FS000001 S000001'" in message


def test_load__min_info_on_a_bed_dataset_is_refused(biobank: tuple[Path, dict[str, Any]]) -> None:
    root, _ = biobank
    spec = _spec(biobank)
    spec["datasets"] = [{"bed": "array/ukb_cal_allchr", "min_info": 0.8}]
    problems = _problems(root, spec)
    assert [(p.field, p.message) for p in problems] == [
        ("datasets[0]", "min_info needs imputed dosages (bgen or pgen); a .bed dataset has no INFO score")]


def test_validate__flag_the_requested_regenie_version_lacks(biobank: tuple[Path, dict[str, Any]]) -> None:
    root, _ = biobank
    spec = _spec(biobank)
    spec["engine"] = {"kind": "regenie", "binary": str(require_regenie()), "version": "1.0.6.3"}
    messages = [p.message for p in _problems(root, spec) if p.field == "engine.version"]
    assert "the plan needs --minINFO, introduced in regenie 1.0.6.4; this regenie is 1.0.6.3" in messages
    assert "the plan needs --catCovarList, introduced in regenie 2.0.1; this regenie is 1.0.6.3" in messages


def test_validate__test_dominant_needs_engine_regenie(biobank: tuple[Path, dict[str, Any]]) -> None:
    root, _ = biobank
    spec = _spec(biobank) | {"test": "dominant"}
    assert [(p.field, p.message) for p in _problems(root, spec)] == [
        ("test", "test: dominant needs engine: regenie (the built-in engine runs the additive test only)")]
    path = root / "dominant.yaml"
    path.write_text(yaml.safe_dump(spec | {"engine": {"kind": "regenie", "binary": str(require_regenie())}}))
    loaded = load(path)
    graph = build_graph(loaded, validate(loaded))
    argv = graph.by_step(Step.STEP2)[0].argv
    assert argv[argv.index("--test") + 1] == "dominant"


def test_validate__keep_list_without_genotyped_samples(biobank: tuple[Path, dict[str, Any]]) -> None:
    root, _ = biobank
    (root / "lists" / "nobody.txt").write_text("A B\nC D\n")
    spec = _spec(biobank)
    spec["samples"] = {"keep": "lists/nobody.txt"}
    spec["variants"] = {"extract": "lists/absent.txt"}
    found = {(p.field, p.message.split(" (e.g.")[0]) for p in _problems(root, spec)}
    assert found == {("samples.keep", "no sample (FID IID) in common with the genotype files"),
                     ("variants.extract", "file not found")}


def test_cli_validate__bad_input_is_one_line_and_exit_2(biobank: tuple[Path, dict[str, Any]]) -> None:
    root, _ = biobank
    spec = _spec(biobank)
    spec["datasets"][0]["chromosomes"] = [1, 2, 5]
    (root / "cli.yaml").write_text(yaml.safe_dump(spec))
    proc = subprocess.run([sys.executable, "-m", "gwasflow", "validate", "cli.yaml"], cwd=root, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if "chromosome 5" in line]
    assert len(lines) == 1 and "ukb_imp_chr5.bgen" in lines[0] and "datasets[0].bgen" in lines[0]


def test_scan_bgen__variant_headers_walked_equal_the_bgi_index(biobank: tuple[Path, dict[str, Any]]) -> None:
    root, _ = biobank
    bgen = root / "imputed" / "ukb_imp_chr1.bgen"
    indexed = genofiles.scan_bgen("a", str(bgen), str(root / "imputed" / "ukb_imp.sample"))
    copy_path = root / "noindex.bgen"
    copy_path.write_bytes(bgen.read_bytes())
    walked = genofiles.scan_bgen("a", str(copy_path), None)
    assert indexed.meta is not None and walked.meta is not None and not indexed.issues
    assert walked.issues == [FileIssue(str(copy_path), "the file stores no sample ids; give sample: <file.sample>")]
    assert indexed.meta.n_variants == walked.meta.n_variants > 0
    assert np.array_equal(indexed.meta.pos, walked.meta.pos) and np.array_equal(indexed.meta.chrom, walked.meta.chrom)


def test_scan_pgen__pvar_header_and_psam_ids(tmp_path: Path) -> None:
    prefix = tmp_path / "g"
    (tmp_path / "g.pgen").write_bytes(b"\x6c\x1b\x10")
    (tmp_path / "g.pvar").write_text("##fileformat=PVCFv1.0\n#CHROM\tPOS\tID\tREF\tALT\n"
                                     "1\t10\ta\tA\tG\n1\t20\tb\tC\tT\n2\t5\tc\tG\tA\n")
    (tmp_path / "g.psam").write_text("#FID\tIID\tSEX\nF1\tI1\t1\nF2\tI2\t2\n")
    scan = genofiles.scan_pgen("p", str(prefix))
    assert scan.issues == [] and scan.meta is not None
    assert scan.sample_ids == [("F1", "I1"), ("F2", "I2")]
    assert scan.meta.chrom.tolist() == ["1", "1", "2"] and scan.meta.pos.tolist() == [10, 20, 5]
    (tmp_path / "g.pvar").write_text("#CHROM\tPOS\tID\tREF\tALT\n1\t20\ta\tA\tG\n1\t10\tb\tC\tT\n")
    assert [i.message for i in genofiles.scan_pgen("p", str(prefix)).issues] == [
        "position 10 after 20 on chromosome 1: not sorted"]


def test_run_spec__step1_on_a_dataset_split_by_chromosome_is_refused(biobank: tuple[Path, dict[str, Any]]) -> None:
    root, _ = biobank
    spec = _spec(biobank)
    del spec["step1"]["genotypes"]
    assert [(p.field, p.message.split(":")[0]) for p in _problems(root, spec)] == [
        ("spec", "step 1 would run on dataset 'imp', which is split by chromosome")]


def test_scan_bgen__truncated_file_without_index_is_one_issue(biobank: tuple[Path, dict[str, Any]]) -> None:
    root, _ = biobank
    data = (root / "imputed" / "ukb_imp_chr2.bgen").read_bytes()
    cut = root / "cut.bgen"
    cut.write_bytes(data[: len(data) // 2])
    scan = genofiles.scan_bgen("a", str(cut), str(root / "imputed" / "ukb_imp.sample"))
    assert scan.meta is None
    assert [i.message.split(":")[0] for i in scan.issues] == ["cannot read the variant headers (truncated file?)"]


def test_validate__trait_counts_use_the_bgen_sample_file_and_the_keep_list(
    biobank: tuple[Path, dict[str, Any]]
) -> None:
    root, cohort = biobank
    spec = _spec(biobank)
    kept = int(0.9 * len(cohort["ids"]))
    spec["phenotypes"]["min_samples"] = kept + 1  # above what keep leaves, below the whole cohort
    spec["step1"]["genotypes"] = {"bgen": "imputed/ukb_imp_chr1.bgen", "sample": "imputed/ukb_imp.sample"}
    problems = [p for p in _problems(root, spec) if p.field.startswith("phenotypes.columns")]
    assert len(problems) == 2
    sample = root / "imputed" / "ukb_imp.sample"
    for problem in problems:
        assert f"samples analysed (in {sample}, samples.keep applied, with a value" in problem.message
        analysed = int(problem.message.split(": ")[1].split(" ")[0])
        assert kept - 5 <= analysed <= kept


def test_scan_bgen__ids_stored_in_the_file_split_into_fid_and_iid(tmp_path: Path) -> None:
    variants = {"chrom": ["1", "1"], "pos": [5, 9], "ids": ["a", "b"], "a1": ["A", "C"], "a2": ["G", "T"]}
    path = tmp_path / "ids.bgen"
    write_bgen(path, np.ones((3, 2)), variants, stored_ids=["F1_I1", "F2_I2", "solo"])
    scan = genofiles.scan_bgen("x", str(path), None)
    assert scan.issues == [] and scan.meta is not None and scan.meta.n_samples == 3
    assert scan.sample_ids == [("F1", "I1"), ("F2", "I2"), ("solo", "solo")]
    assert scan.meta.pos.tolist() == [5, 9]
