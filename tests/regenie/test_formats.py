"""Genotype formats: .bed, .pgen and BGEN (zlib, zstd, with and without .bgi) against regenie's outputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from gwasflow.regenie.cli import main
from gwasflow.regenie.io.bgen import info_scores, read_bgen_header
from gwasflow.regenie.io.remote import is_uri

from .conftest import INPUTS, OUTPUTS, read_results, write_bed, write_table

COMMON = ["--step", "2", "--covarFile", str(INPUTS / "covariates.txt"), "--phenoFile", str(INPUTS / "phenotype.txt"),
          "--bsize", "200", "--threads", "2"]
_NUMERIC = ("A1FREQ", "INFO", "BETA", "SE", "CHISQ", "LOG10P")


def compare_results(ours: Path, theirs: Path) -> dict[str, float]:
    """Identical non-numeric columns; worst A1FREQ/INFO/LOG10P absolute and BETA/SE relative differences."""
    header, rows = read_results(ours)
    ref_header, ref_rows = read_results(theirs)
    assert header == ref_header
    numeric = [header.index(c) for c in _NUMERIC if c in header]
    text = [i for i in range(len(header)) if i not in numeric]
    assert [[r[i] for i in text] for r in rows] == [[r[i] for i in text] for r in ref_rows]
    got = {header[i]: np.array([float(r[i]) for r in rows]) for i in numeric}
    ref = {header[i]: np.array([float(r[i]) for r in ref_rows]) for i in numeric}
    diff = {
        "a1freq_abs": float(np.max(np.abs(got["A1FREQ"] - ref["A1FREQ"]))),
        "beta_rel": float(np.max(np.abs(got["BETA"] / ref["BETA"] - 1))),
        "se_rel": float(np.max(np.abs(got["SE"] / ref["SE"] - 1))),
        "log10p_abs": float(np.max(np.abs(got["LOG10P"] - ref["LOG10P"]))),
    }
    if "INFO" in got:
        diff["info_abs"] = float(np.max(np.abs(got["INFO"] - ref["INFO"])))
    return diff


def assert_within_tolerance(diff: dict[str, float]) -> None:
    assert diff["a1freq_abs"] <= 1e-4 and diff.get("info_abs", 0.0) <= 1e-4, diff
    assert diff["beta_rel"] <= 1e-4 and diff["se_rel"] <= 1e-4, diff
    assert diff["log10p_abs"] <= 1e-3, diff


@pytest.mark.parametrize("bgen", ["example_3chr.bgen", "example_3chr_zstd.bgen"])
@pytest.mark.parametrize(("ref_first", "reference_run"), [(True, "qt_step2_bgen"), (False, "qt_step2_bgen_altfirst")])
def test_main__bgen_step2_matches_regenie(ref_workdir: Path, bgen: str, ref_first: bool, reference_run: str) -> None:
    argv = [*COMMON, "--bgen", str(INPUTS / bgen), "--sample", str(INPUTS / "example_3chr.sample"),
            "--pred", "qt_step1_pred.list", "--out", "ours", *(["--ref-first"] if ref_first else [])]
    assert main(argv) == 0
    for pheno in ("Y1", "Y2"):
        ours, theirs = ref_workdir / f"ours_{pheno}.regenie", OUTPUTS / f"{reference_run}_{pheno}.regenie"
        assert_within_tolerance(compare_results(ours, theirs))
        assert ours.read_bytes() == theirs.read_bytes()  # byte-identical when written


def test_main__bed_pgen_and_bgen_give_the_same_results(reference: Path, tmp_path: Path) -> None:
    for flag, path in (("--bed", "example"), ("--pgen", "example"), ("--bgen", "example.bgen")):
        assert main([*COMMON, flag, str(INPUTS / path), "--ignore-pred", "--out", str(tmp_path / flag[2:])]) == 0
    for pheno in ("Y1", "Y2"):
        bed = (tmp_path / f"bed_{pheno}.regenie").read_text()
        assert (tmp_path / f"pgen_{pheno}.regenie").read_text() == bed
        bgen_lines = [line.split(" ") for line in (tmp_path / f"bgen_{pheno}.regenie").read_text().splitlines()]
        assert {row[6] for row in bgen_lines[1:]} == {"1"}  # hard calls: INFO 1
        assert "\n".join(" ".join(row[:6] + row[7:]) for row in bgen_lines) + "\n" == bed
        assert len(bed.splitlines()) == 1001


def test_main__bgen_without_bgi_index_reads_the_same(ref_workdir: Path) -> None:
    shutil.copy(INPUTS / "example_3chr_zstd.bgen", ref_workdir / "plain.bgen")
    argv = [*COMMON, "--bgen", "plain.bgen", "--sample", str(INPUTS / "example_3chr.sample"), "--ref-first",
            "--pred", "qt_step1_pred.list", "--out", "noindex"]
    assert main(argv) == 0
    assert (ref_workdir / "noindex_Y1.regenie").read_bytes() == (OUTPUTS / "qt_step2_bgen_Y1.regenie").read_bytes()


def test_main__bed_ref_first_swaps_alleles_and_flips_beta(reference: Path, tmp_path: Path) -> None:
    base = [*COMMON, "--bed", str(INPUTS / "example_3chr"), "--ignore-pred"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    assert main([*base, "--ref-first", "--out", str(tmp_path / "b")]) == 0
    _, default = read_results(tmp_path / "a_Y1.regenie")
    _, flipped = read_results(tmp_path / "b_Y1.regenie")
    assert [r[3:5] for r in flipped] == [[r[4], r[3]] for r in default]
    np.testing.assert_allclose([float(r[8]) for r in flipped], [-float(r[8]) for r in default], rtol=1e-5)
    assert [r[9:12] for r in flipped] == [r[9:12] for r in default]


def test_main__pgen_missing_calls_match_bed(tmp_path: Path) -> None:
    import pgenlib

    rng = np.random.default_rng(5)
    n, m = 90, 12
    dosage = rng.binomial(2, 0.35, size=(n, m)).astype(float)
    dosage[rng.random((n, m)) < 0.05] = np.nan
    ids = [str(i + 1) for i in range(n)]
    write_bed(tmp_path / "g", dosage, ["1"] * m, list(range(1, m + 1)))
    writer = pgenlib.PgenWriter(bytes(tmp_path / "g.pgen"), n, m, False)
    for j in range(m):
        writer.append_biallelic(np.where(np.isnan(dosage[:, j]), -9, dosage[:, j]).astype(np.int8))
    writer.close()
    (tmp_path / "g.psam").write_text("#FID\tIID\n" + "".join(f"{i}\t{i}\n" for i in ids))
    (tmp_path / "g.pvar").write_text("##source=test\n#CHROM\tPOS\tID\tREF\tALT\n"
                                     + "".join(f"1\t{j + 1}\tv{j}\tG\tA\n" for j in range(m)))
    write_table(tmp_path / "p.txt", ids, {"Y": rng.normal(size=n)})
    common = ["--step", "2", "--phenoFile", str(tmp_path / "p.txt"), "--bsize", "5", "--ignore-pred", "--minMAC", "1"]
    assert main([*common, "--bed", str(tmp_path / "g"), "--out", str(tmp_path / "bed")]) == 0
    assert main([*common, "--pgen", str(tmp_path / "g"), "--out", str(tmp_path / "pgen")]) == 0
    assert (tmp_path / "pgen_Y.regenie").read_text() == (tmp_path / "bed_Y.regenie").read_text()
    assert any(int(r[6]) < n for r in read_results(tmp_path / "bed_Y.regenie")[1])


def test_main__genotypes_from_fsspec_uri(ref_workdir: Path) -> None:
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    for ext in ("bed", "bim", "fam"):
        fs.pipe(f"/gwasflow_test/example_3chr.{ext}", (INPUTS / f"example_3chr.{ext}").read_bytes())
    try:
        argv = [*COMMON, "--bed", "memory://gwasflow_test/example_3chr", "--pred", "qt_step1_pred.list",
                "--out", "uri"]
        assert main(argv) == 0
    finally:
        fs.rm("/gwasflow_test", recursive=True)
    assert (ref_workdir / "uri_Y2.regenie").read_bytes() == (OUTPUTS / "qt_step2_Y2.regenie").read_bytes()


def test_is_uri__local_paths_are_not_uris() -> None:
    assert is_uri("s3://bucket/key") and is_uri("memory://x")
    assert not is_uri("/data/x.bed") and not is_uri("file:///data/x") and not is_uri("C:\\data")


def test_read_bgen_header__reports_layout_and_compression(reference: Path) -> None:
    assert read_bgen_header(INPUTS / "example_3chr.bgen").summary().startswith("bgen file (v1.2 layout, zlib")
    header = read_bgen_header(INPUTS / "example_3chr_zstd.bgen")
    assert (header.compression, header.layout, header.n_samples, header.n_variants) == (2, 2, 500, 500)


def test_info_score__one_for_hard_calls_and_impute_formula_otherwise() -> None:
    hard = np.array([0.0, 1.0, 2.0, 1.0])
    assert info_scores(np.array([0.0]), np.array([hard.sum()]), np.array([4])).tolist() == [1.0]
    # two samples with P(AA, AB, BB) = (0.25, 0.5, 0.25): E[g] = 1, var 0.5; two hard calls 0 and 2
    got = info_scores(np.array([1.0, 0.0, 0.0]), np.array([4.0, 0.0, 0.0]), np.array([4, 3, 0]))
    assert got[0] == pytest.approx(1 - 1.0 / (2 * 4 * 0.5 * 0.5))
    assert got[1] == 1.0  # monomorphic
    assert np.isnan(got[2])  # nobody called


@pytest.mark.parametrize("compiled", [False, True])  # numpy's gather (qc), or step 2's compiled loop
@pytest.mark.parametrize("ref_first", [False, True])
@pytest.mark.parametrize("n_samples", [8, 13, 14, 15])  # whole bytes, and a last byte with 1, 2 or 3 samples
def test_read_raw__bed_calls_equal_bed_readers(tmp_path: Path, ref_first: bool, n_samples: int,
                                               compiled: bool) -> None:
    from bed_reader import open_bed

    from gwasflow.regenie.io.bed import open_bed_file

    rng = np.random.default_rng(n_samples)
    dosage = rng.integers(0, 3, (n_samples, 30)).astype(float)
    dosage[rng.random(dosage.shape) < 0.1] = np.nan
    write_bed(tmp_path / "g", dosage, ["1"] * 30, list(range(1, 31)))
    ours = open_bed_file(str(tmp_path / "g"), ref_first=ref_first)
    ours.compiled = compiled
    theirs = open_bed(tmp_path / "g.bed", count_A1=not ref_first)
    for variants, samples in [(np.arange(30), None), (np.array([29, 0, 4, 4]), np.array([1, 2, n_samples - 1])),
                              (np.array([7]), None), (np.arange(3, 9), np.array([n_samples - 1, 0, 5]))]:
        got = ours.read_raw(variants, samples)
        want = theirs.read((slice(None) if samples is None else samples, variants), dtype="int8", order="F")
        assert got.flags.f_contiguous and got.dtype == np.int8
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.where(got < 0, np.nan, got), ours.read_block(variants, samples))


def test_open_bed_file__refuses_a_sample_major_bed(tmp_path: Path) -> None:
    from gwasflow.errors import EngineInputError
    from gwasflow.regenie.io.bed import open_bed_file

    write_bed(tmp_path / "g", np.ones((4, 2)), ["1", "1"], [1, 2])
    data = bytearray((tmp_path / "g.bed").read_bytes())
    data[2] = 0  # PLINK 1's individual-major mode
    (tmp_path / "g.bed").write_bytes(bytes(data))
    with pytest.raises(EngineInputError, match=r"g\.bed: not a variant-major PLINK \.bed"):
        open_bed_file(str(tmp_path / "g"))
