"""Step 1 split across jobs (``--split-l0``, ``--run-l0``, ``--run-l1``): the same LOCO files as one job, regenie's
files in both directions, and one-line refusals of bad input.

Cohorts come from :mod:`.differential.cohort`: per-trait missing phenotypes,
samples missing covariates or absent from a table, a categorical covariate and
a ``--keep`` list, so the level 0 files carry rows outside the analysis.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from gwasflow.regenie.cli import main
from gwasflow.regenie.step1.l0files import partition_blocks, read_l0

from .differential.cohort import Case, write_case
from .differential.compare import compare_loco, require_regenie

N_JOBS = 3
BSIZE = "100"


def _flags(folder: Path, *, binary: bool) -> list[str]:
    files = write_case(Case(seed=3, n_samples=500, n_variants=600, binary=binary, keep_list=True,
                            trait_missing=(0.05, 0.09, 0.0)), folder)
    assert files.keep is not None
    flags = ["--step", "1", *files.geno_flags, "--phenoFile", str(files.pheno), "--covarFile", str(files.covar),
             "--catCovarList", "site", "--keep", str(files.keep), "--extract", str(files.step1_extract),
             "--bsize", BSIZE]
    return [*flags, "--bt"] if binary else flags


def _ours(argv: list[str]) -> None:
    assert main(argv) == 0, argv


def _theirs(argv: list[str], cwd: Path) -> None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([str(require_regenie()), *argv], capture_output=True, text=True, env=env, cwd=cwd,
                          check=False)
    assert done.returncode == 0, f"regenie failed on {argv}:\n{done.stdout[-2000:]}"


def _split_run(flags: list[str], folder: Path, name: str, *, level1: list[list[str]] | None = None) -> None:
    """Our split run in ``folder``: split, every level 0 job, then level 1 (one job per ``level1`` entry)."""
    prefix = str(folder / f"{name}_split")
    _ours([*flags, "--split-l0", f"{prefix},{N_JOBS}", "--out", str(folder / f"{name}_s")])
    for k in range(1, N_JOBS + 1):
        _ours([*flags, "--run-l0", f"{prefix}.master,{k}", "--out", str(folder / f"{name}_l0_{k}")])
    for extra in level1 or [[]]:
        _ours([*flags, "--run-l1", f"{prefix}.master", "--keep-l0", *extra, "--out", str(folder / name)])


@pytest.mark.parametrize("binary", [False, True], ids=["qt", "bt"])
def test_run_split_job__loco_files_equal_the_single_job(tmp_path: Path, binary: bool) -> None:
    flags = _flags(tmp_path, binary=binary)
    _ours([*flags, "--out", str(tmp_path / "single")])
    _split_run(flags, tmp_path, "split")
    for k in (1, 2, 3):
        single = (tmp_path / f"single_{k}.loco").read_text()
        assert (tmp_path / f"split_{k}.loco").read_text() == single, k
    single_list = (tmp_path / "single_pred.list").read_text().replace("single_", "split_")
    assert (tmp_path / "split_pred.list").read_text() == single_list
    loco = (tmp_path / "single_1.loco").read_text().splitlines()
    assert len(loco) == 24  # header and chromosomes 1 to 23
    assert ("NA" in loco[1].split()) == binary  # binary traits: samples missing the trait are NA


def test_run_split_job__level1_per_phenotype_group(tmp_path: Path) -> None:
    """``--l1-phenoList`` jobs write only their traits, numbered as in the single job, with the same values."""
    flags = _flags(tmp_path, binary=False)
    _ours([*flags, "--out", str(tmp_path / "single")])
    prefix = str(tmp_path / "g_split")
    _ours([*flags, "--split-l0", f"{prefix},{N_JOBS}", "--out", str(tmp_path / "g_s")])
    for k in range(1, N_JOBS + 1):
        _ours([*flags, "--run-l0", f"{prefix}.master,{k}", "--out", str(tmp_path / f"g_l0_{k}")])
    _ours([*flags, "--run-l1", f"{prefix}.master", "--keep-l0", "--l1-phenoList", "T3,T2", "--out",
           str(tmp_path / "g23")])
    assert sorted(p.name for p in tmp_path.glob("g23_*.loco")) == ["g23_2.loco", "g23_3.loco"]
    assert [line.split()[0] for line in (tmp_path / "g23_pred.list").read_text().splitlines()] == ["T2", "T3"]
    for k in (2, 3):
        assert (tmp_path / f"g23_{k}.loco").read_text() == (tmp_path / f"single_{k}.loco").read_text()
    assert (tmp_path / "g_split_job1_l0_Y1").is_file()  # --keep-l0
    _ours([*flags, "--run-l1", f"{prefix}.master", "--l1-phenoList", "T1", "--out", str(tmp_path / "g1")])
    assert (tmp_path / "g1_1.loco").read_text() == (tmp_path / "single_1.loco").read_text()
    assert not (tmp_path / "g_split_job1_l0_Y1").exists() and not (tmp_path / "g_split_job2.snplist").exists()
    assert (tmp_path / "g_split_job1_l0_Y2").is_file()  # other traits' files are left to their own job


def test_run_split_job__master_and_snplists_are_regenies(tmp_path: Path) -> None:
    flags = _flags(tmp_path, binary=False)
    _theirs([*flags, "--split-l0", "theirs,3", "--out", "t_s"], tmp_path)
    _ours([*flags, "--split-l0", f"{tmp_path / 'ours'},3", "--out", str(tmp_path / "o_s")])
    theirs = (tmp_path / "theirs.master").read_text().splitlines()
    ours = (tmp_path / "ours.master").read_text().splitlines()
    assert ours[0] == theirs[0] and len(ours) == len(theirs) == 4
    for mine, ref in zip(ours[1:], theirs[1:], strict=True):
        assert mine.split()[1:] == ref.split()[1:]
        assert Path(mine.split()[0]).name == "ours" + ref.split()[0].removeprefix("theirs")
    for k in (1, 2, 3):
        assert (tmp_path / f"ours_job{k}.snplist").read_text() == (tmp_path / f"theirs_job{k}.snplist").read_text()


@pytest.mark.parametrize("binary", [False, True], ids=["qt", "bt"])
def test_run_split_job__level0_files_cross_with_regenie(tmp_path: Path, binary: bool,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """regenie's level 1 reads our level 0 files and ours reads regenie's: LOCO as regenie's single job."""
    monkeypatch.chdir(tmp_path)  # regenie's master file names its jobs relative to where it ran
    flags = _flags(tmp_path, binary=binary)
    _theirs([*flags, "--out", "t_single"], tmp_path)
    _theirs([*flags, "--split-l0", "theirs,3", "--out", "t_s"], tmp_path)
    for k in (1, 2, 3):
        _theirs([*flags, "--run-l0", f"theirs.master,{k}", "--out", f"t_l0_{k}"], tmp_path)
    _split_run(flags, tmp_path, "ours")
    n_rows = 444  # genotyped samples left by --keep: the rows of every level 0 file
    for k in (1, 2, 3):
        for trait in (1, 2, 3):
            n_columns = (tmp_path / f"theirs_job{k}_l0_Y{trait}").stat().st_size // (8 * n_rows)
            ref = read_l0(str(tmp_path / f"theirs_job{k}_l0_Y{trait}"), n_rows, n_columns, flag="test")
            got = read_l0(str(tmp_path / f"ours_split_job{k}_l0_Y{trait}"), n_rows, n_columns, flag="test")
            assert np.abs(got - ref).max() < 1e-9, (k, trait)
    _theirs([*flags, "--run-l1", "ours_split.master", "--out", "t_on_ours"], tmp_path)
    _ours([*flags, "--run-l1", str(tmp_path / "theirs.master"), "--out", str(tmp_path / "o_on_theirs")])
    for prefix in ("t_on_ours", "o_on_theirs", "ours"):
        diff = compare_loco(tmp_path / prefix, tmp_path / "t_single")
        assert not diff.mismatches and diff.loco_r_min >= 0.9999, (prefix, diff)
    assert not (tmp_path / "theirs_job1_l0_Y1").exists()  # level 1 without --keep-l0 deletes what it read


@pytest.mark.parametrize(("n_blocks", "n_jobs", "sizes"), [(6, 3, [2, 2, 2]), (7, 3, [3, 2, 2]), (5, 5, [1] * 5)])
def test_partition_blocks__as_regenie(n_blocks: int, n_jobs: int, sizes: list[int]) -> None:
    assert partition_blocks(n_blocks, n_jobs) == sizes


def _error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1] == "gwasflow-error: bad_input"
    return lines[0]


def test_parse_args__split_flags_refused_with_a_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flags = _flags(tmp_path, binary=False)
    out = ["--out", str(tmp_path / "x")]
    assert "at least 2" in _error([*flags, "--split-l0", "p,1", *out], capsys)
    assert "expected FILE,INT" in _error([*flags, "--split-l0", "p", *out], capsys)
    assert "one at a time" in _error([*flags, "--split-l0", "p,2", "--run-l1", "m", *out], capsys)
    assert "only used with --run-l1" in _error([*flags, "--l1-phenoList", "T1", *out], capsys)
    step2 = [f if f != "1" else "2" for f in flags]
    assert "only used in step 1" in _error([*step2, "--ignore-pred", "--run-l1", "m", *out], capsys)


def test_run_split_job__bad_master_and_level0_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    flags = _flags(tmp_path, binary=False)
    prefix = tmp_path / "p"
    out = ["--out", str(tmp_path / "x")]
    _ours([*flags, "--split-l0", f"{prefix},2", *out])
    master = f"{prefix}.master"
    assert "lists 2 jobs" in _error([*flags, "--run-l0", f"{master},3", *out], capsys)
    bsize = [f if f != BSIZE else "50" for f in flags]
    assert "line 1: written with --bsize 100" in _error([*bsize, "--run-l0", f"{master},1", *out], capsys)
    assert "not found" in _error([*flags, "--run-l1", str(tmp_path / "none.master"), *out], capsys)
    _ours([*flags, "--run-l0", f"{master},1", *out])
    _ours([*flags, "--run-l0", f"{master},2", *out])
    level0 = tmp_path / "p_job2_l0_Y2"
    level0.write_bytes(level0.read_bytes()[:-8])
    message = _error([*flags, "--run-l1", master, *out], capsys)
    assert str(level0) in message and "bytes" in message
    assert "'T9' is not an analysed phenotype" in _error([*flags, "--run-l1", master, "--l1-phenoList", "T9", *out],
                                                         capsys)
    (tmp_path / "bad.master").write_text("535 100\np_job1 x 3\n")
    assert "line 2: expected integers" in _error([*flags, "--run-l1", str(tmp_path / "bad.master"), *out], capsys)
