"""Options users rely on, each against an independent computation (statsmodels/numpy) or regenie's outputs.

The independent model for ``--ignore-pred``: BETA is the OLS coefficient of g in
``y ~ X + g`` on the analysed samples; SE uses the null residual variance,
``sqrt(s2_null / g_r'g_r)`` (regenie docs, "Overview / Step 2"; see
``test_assoc.py``).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.stats import chi2

from gwasflow.errors import EngineInputError
from gwasflow.regenie import cli
from gwasflow.regenie.cli import main
from gwasflow.regenie.options import parse_args

from .conftest import INPUTS, OUTPUTS, read_results, write_bed, write_table

BED = str(INPUTS / "example_3chr")
BASE = ["--step", "2", "--bed", BED, "--phenoFile", str(INPUTS / "phenotype.txt"), "--bsize", "200", "--ignore-pred"]


def _table(path: Path) -> tuple[list[str], dict[str, list[str]]]:
    lines = [line.split() for line in path.read_text().splitlines()]
    ids = [f"{f[0]}_{f[1]}" for f in lines[1:]]
    return ids, {name: [f[i] for f in lines[1:]] for i, name in enumerate(lines[0]) if i >= 2}


def _genotypes(prefix: str, sample_ids: list[str], variants: list[int]) -> np.ndarray:
    from bed_reader import open_bed

    with open_bed(f"{prefix}.bed", count_A1=True) as bed:
        fam = [f"{f}_{i}" for f, i in zip(bed.fid, bed.iid, strict=True)]
        rows = [fam.index(s) for s in sample_ids]
        return np.asarray(bed.read(index=(rows, variants), dtype="float64"))


def expected_stats(y: np.ndarray, covariates: np.ndarray, geno: np.ndarray) -> np.ndarray:
    """(n_variants, 3): BETA, SE, LOG10P from statsmodels OLS, independent of the engine."""
    null = sm.OLS(y, covariates).fit()
    out = []
    for g in geno.T:
        full = sm.OLS(y, np.column_stack([covariates, g])).fit()
        g_resid = sm.OLS(g, covariates).fit().resid
        beta = full.params[-1]
        se = np.sqrt(null.scale / (g_resid @ g_resid))
        out.append([beta, se, -chi2.logsf((beta / se) ** 2, 1) / np.log(10)])
    return np.asarray(out)


def _check_against_ols(result: Path, y: np.ndarray, covariates: np.ndarray, geno: np.ndarray, n: int) -> None:
    _, rows = read_results(result)
    got = np.array([[float(r[8]), float(r[9]), float(r[11])] for r in rows[: geno.shape[1]]])
    want = expected_stats(y, covariates, geno)
    np.testing.assert_allclose(got[:, :2], want[:, :2], rtol=1e-4)
    np.testing.assert_allclose(got[:, 2], want[:, 2], atol=1e-3)
    assert {r[6] for r in rows} == {str(n)}


def test_main__cat_covar_list_expands_levels_to_dummies(reference: Path, tmp_path: Path) -> None:
    covar = INPUTS / "covariates_wBin.txt"
    argv = [*BASE, "--covarFile", str(covar), "--catCovarList", "V5", "--out", str(tmp_path / "cat")]
    assert main(argv) == 0
    ids, cols = _table(covar)
    _, pheno = _table(INPUTS / "phenotype.txt")
    numeric = np.array([[float(v) for v in cols[c]] for c in ("V1", "V2", "V3", "V4")]).T
    levels = np.array(cols["V5"])
    dummies = np.column_stack([(levels == lev).astype(float) for lev in ("rural", "urban")])
    x = np.column_stack([np.ones(len(ids)), numeric, dummies])
    geno = _genotypes(BED, ids, list(range(12)))
    _check_against_ols(tmp_path / "cat_Y1.regenie", np.array(pheno["Y1"], dtype=float), x, geno, 500)
    assert "n_cov = 6" in (tmp_path / "cat.log").read_text()


def test_main__cat_covar_list_with_covar_col_list(reference: Path, tmp_path: Path) -> None:
    covar = str(INPUTS / "covariates_wBin.txt")
    argv = [*BASE, "--covarFile", covar, "--covarColList", "V1,V3", "--catCovarList", "V5",
            "--out", str(tmp_path / "c")]
    assert main(argv) == 0
    ids, cols = _table(INPUTS / "covariates_wBin.txt")
    _, pheno = _table(INPUTS / "phenotype.txt")
    levels = np.array(cols["V5"])
    x = np.column_stack([np.ones(len(ids)), np.array(cols["V1"], dtype=float), np.array(cols["V3"], dtype=float),
                         levels == "other", levels == "urban"]).astype(float)  # any baseline gives the same fit
    _check_against_ols(tmp_path / "c_Y2.regenie", np.array(pheno["Y2"], dtype=float), x,
                       _genotypes(BED, ids, list(range(8))), 500)


def test_main__non_numeric_covariate_without_cat_covar_list_is_an_error(reference: Path, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*BASE, "--covarFile", str(INPUTS / "covariates_wBin.txt"), "--out", str(tmp_path / "x")]) == 2
    assert "column 'V5' value 'urban' is not numeric" in capsys.readouterr().err


@pytest.mark.parametrize("mode", ["remove", "keep"])
def test_main__keep_and_remove_sample_lists(reference: Path, tmp_path: Path, mode: str) -> None:
    ids, pheno = _table(INPUTS / "phenotype.txt")
    _, cov = _table(INPUTS / "covariates.txt")
    listed = {f"{f[0]}_{f[1]}" for f in (line.split() for line in (INPUTS / "fid_iid_to_remove.txt").read_text()
                                          .splitlines() if line.strip())}
    sample_list = INPUTS / "fid_iid_to_remove.txt"
    if mode == "keep":
        sample_list = tmp_path / "keep.txt"
        kept_ids = ids[::3]
        sample_list.write_text("".join(f"{s.replace('_', ' ')}\n" for s in kept_ids))
        chosen = set(kept_ids)
    else:
        chosen = set(ids) - listed
    argv = [*BASE, "--covarFile", str(INPUTS / "covariates.txt"), f"--{mode}", str(sample_list),
            "--out", str(tmp_path / mode)]
    assert main(argv) == 0
    rows = [i for i, s in enumerate(ids) if s in chosen]
    x = np.column_stack([np.ones(len(rows)), *(np.array(cov[c], dtype=float)[rows] for c in ("V1", "V2", "V3"))])
    geno = _genotypes(BED, [ids[i] for i in rows], list(range(10)))
    _check_against_ols(tmp_path / f"{mode}_Y1.regenie", np.array(pheno["Y1"], dtype=float)[rows], x, geno,
                       len(rows))


def test_main__missing_covariate_drops_the_sample(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n, m = 150, 6
    ids = [str(i + 1) for i in range(n)]
    geno = rng.binomial(2, 0.3, size=(n, m)).astype(float)
    write_bed(tmp_path / "g", geno, ["1"] * m, list(range(1, m + 1)))
    cov = rng.normal(size=(n, 2))
    cov[[4, 9, 33], 1] = np.nan
    y = cov[:, 0] + rng.normal(size=n)
    write_table(tmp_path / "p.txt", ids, {"Y": y})
    write_table(tmp_path / "c.txt", ids, {"A": cov[:, 0], "B": cov[:, 1]})
    argv = ["--step", "2", "--bed", str(tmp_path / "g"), "--phenoFile", str(tmp_path / "p.txt"), "--covarFile",
            str(tmp_path / "c.txt"), "--bsize", "4", "--ignore-pred", "--minMAC", "1", "--out", str(tmp_path / "o")]
    assert main(argv) == 0
    keep = ~np.isnan(cov).any(axis=1)
    x = np.column_stack([np.ones(keep.sum()), cov[keep]])
    _check_against_ols(tmp_path / "o_Y.regenie", y[keep], x, geno[keep], n - 3)


def _nopred_rows(pheno: str) -> list[list[str]]:
    return read_results(OUTPUTS / f"qt_step2_nopred_{pheno}.regenie")[1]


@pytest.mark.parametrize("mode", ["extract", "exclude"])
def test_main__extract_and_exclude_variant_lists(reference: Path, tmp_path: Path, mode: str) -> None:
    listed = tmp_path / "snps.txt"
    names = ["mog_3", "mog_40", "inf_250", "null_49", "not_in_file"]
    listed.write_text("\n".join(names) + "\n")
    argv = [*BASE, "--covarFile", str(INPUTS / "covariates.txt"), f"--{mode}", str(listed),
            "--out", str(tmp_path / mode)]
    assert main(argv) == 0
    _, rows = read_results(tmp_path / f"{mode}_Y2.regenie")
    inside = mode == "extract"
    expected = [r for r in _nopred_rows("Y2") if (r[2] in names) == inside]
    assert rows == expected
    assert len(rows) == (4 if inside else 496)


def test_main__exclude_with_regenie_example_snp_list(reference: Path, tmp_path: Path) -> None:
    base = ["--step", "2", "--bed", str(INPUTS / "example"), "--phenoFile", str(INPUTS / "phenotype.txt"),
            "--covarFile", str(INPUTS / "covariates.txt"), "--bsize", "200", "--ignore-pred"]
    assert main([*base, "--out", str(tmp_path / "all")]) == 0
    assert main([*base, "--exclude", str(INPUTS / "snplist_rm.txt"), "--out", str(tmp_path / "ex")]) == 0
    removed = set((INPUTS / "snplist_rm.txt").read_text().split())
    _, full = read_results(tmp_path / "all_Y1.regenie")
    _, rows = read_results(tmp_path / "ex_Y1.regenie")
    assert rows == [r for r in full if r[2] not in removed] and len(rows) == len(full) - len(removed)


def test_main__chr_list_keeps_listed_chromosomes(reference: Path, tmp_path: Path) -> None:
    argv = [*BASE, "--covarFile", str(INPUTS / "covariates.txt"), "--chrList", "3,1", "--out", str(tmp_path / "c")]
    assert main(argv) == 0
    assert read_results(tmp_path / "c_Y1.regenie")[1] == [r for r in _nopred_rows("Y1") if r[0] in ("1", "3")]


def test_main__min_mac_default_is_5_and_filters_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    n = 100
    ids = [str(i + 1) for i in range(n)]
    geno = rng.binomial(2, 0.3, size=(n, 4)).astype(float)
    geno[:, 1] = 0.0
    geno[:4, 1] = 1.0  # MAC 4: dropped by the default
    geno[:, 2] = 0.0
    geno[:5, 2] = 1.0  # MAC 5: kept
    write_bed(tmp_path / "g", geno, ["1"] * 4, [1, 2, 3, 4])
    write_table(tmp_path / "p.txt", ids, {"Y": rng.normal(size=n)})
    common = ["--step", "2", "--bed", str(tmp_path / "g"), "--phenoFile", str(tmp_path / "p.txt"), "--bsize", "4",
              "--ignore-pred"]
    assert main([*common, "--out", str(tmp_path / "d")]) == 0
    assert [r[2] for r in read_results(tmp_path / "d_Y.regenie")[1]] == ["v0", "v2", "v3"]
    assert main([*common, "--minMAC", "6", "--gz", "--out", str(tmp_path / "m")]) == 0
    with gzip.open(tmp_path / "m_Y.regenie.gz", "rt") as handle:
        assert [line.split()[2] for line in handle.read().splitlines()[1:]] == ["v0", "v3"]


@pytest.mark.parametrize(("step", "threads", "blas"), [(1, 1, 1), (1, 2, 2), (2, 2, 1)])
def test_main__threads_caps_blas_pools_in_process(reference: Path, tmp_path: Path, step: int, threads: int,
                                                  blas: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Step 1 gives BLAS ``--threads``; step 2 runs ``--threads`` blocks at once with single-threaded BLAS."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from gwasflow.regenie import step1, step2

    module = step1 if step == 1 else step2
    name = "run_step1" if step == 1 else "run_step2"
    seen: list[int] = []

    def spy(opts: object, log: object) -> None:
        seen.extend(pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas")

    monkeypatch.setattr(module, name, spy)
    argv = ["--step", "1", *[a for a in BASE[2:] if a != "--ignore-pred"]] if step == 1 else BASE
    assert cli.main([*argv, "--threads", str(threads), "--out", str(tmp_path / "t")]) == 0
    assert seen and set(seen) == {blas}


def test_main__step2_threads_give_identical_files(reference: Path, tmp_path: Path) -> None:
    argv = [*BASE, "--covarFile", str(INPUTS / "covariates.txt"), "--bsize", "30"]
    assert main([*argv, "--threads", "1", "--out", str(tmp_path / "one")]) == 0
    assert main([*argv, "--threads", "2", "--out", str(tmp_path / "two")]) == 0
    for pheno in ("Y1", "Y2"):
        assert (tmp_path / f"one_{pheno}.regenie").read_bytes() == (tmp_path / f"two_{pheno}.regenie").read_bytes()


def test_parse_args__new_flags_and_conflicts() -> None:
    opts = parse_args(["--step", "2", "--bgen", "f.bgen", "--sample", "f.sample", "--ref-first", "--phenoFile", "p",
                       "--bsize", "10", "--ignore-pred", "--out", "o", "--chrList", "1,X", "--chr", "2",
                       "--catCovarList", "V5", "--keep", "k.txt", "--exclude", "e.txt"])
    assert opts.bgen == "f.bgen" and opts.sample == "f.sample" and opts.ref_first
    assert opts.chrs == [1, 23, 2] and opts.cat_covar_cols == ["V5"] and opts.keep == ["k.txt"]
    base = ["--step", "2", "--phenoFile", "p", "--bsize", "10", "--ignore-pred", "--out", "o"]
    for extra, needle in ((["--bed", "a", "--pgen", "b"], "exactly one"), ([], "exactly one"),
                          (["--bed", "a", "--sample", "s"], "--sample"),
                          (["--bed", "a", "--keep", "k", "--remove", "r"], "--keep/--remove"),
                          (["--bed", "a", "--extract", "k", "--exclude", "r"], "--extract/--exclude")):
        with pytest.raises(EngineInputError, match=needle):
            parse_args([*base, *extra])
