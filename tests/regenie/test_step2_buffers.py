"""Step 2's block preparation in place and in column chunks equals the whole-array computation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from gwasflow.regenie.step2.assoc import (
    association_block,
    fit_null,
    genotype_block,
    make_offsets,
    observed_sums,
    sparse_variants,
)
from tests.regenie.test_pgen_dosages import dosage_pgen

__all__ = ["dosage_pgen"]


def _dosages(n: int, m: int, seed: int) -> NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    values = np.asfortranarray(rng.choice([0.0, 0.0, 0.4, 1.0, 1.7, 2.0], size=(n, m)))
    values[rng.random((n, m)) < 0.05] = np.nan
    values[:, 3] = np.nan  # a variant with no call
    return values


def test_genotype_block__in_place_equals_the_copy() -> None:
    raw = _dosages(300, 150, seed=1)  # more than one 64-column chunk
    copied = genotype_block(raw.copy(order="F"), out=np.empty((300, 200), order="F"))
    buffer = np.empty((300, 200), order="F")
    view = buffer[:, :150]
    view[...] = raw
    in_place = genotype_block(view, out=buffer)
    assert np.shares_memory(in_place.values, buffer)
    np.testing.assert_array_equal(in_place.values, copied.values)
    np.testing.assert_array_equal(in_place.miss_rows, copied.miss_rows)
    np.testing.assert_array_equal(in_place.miss_cols, copied.miss_cols)
    np.testing.assert_array_equal(in_place.sumsq, copied.sumsq)
    want_rows, want_cols = np.nonzero(np.isnan(raw.T))
    np.testing.assert_array_equal(in_place.miss_cols, want_rows)
    np.testing.assert_array_equal(in_place.miss_rows, want_cols)
    assert not np.isnan(buffer[:, :150]).any(), "missing calls become 0 in place"
    zeroed = np.where(np.isnan(raw), 0.0, raw)
    np.testing.assert_array_equal(in_place.sumsq, np.einsum("ij,ij->j", zeroed, zeroed))


def test_genotype_block__copy_leaves_raw_alone() -> None:
    raw = _dosages(50, 70, seed=2)
    before = raw.copy()
    genotype_block(raw, out=np.empty((50, 80), order="F"))
    np.testing.assert_array_equal(raw, before)


def test_observed_sums__counts_and_sums_the_calls() -> None:
    raw = _dosages(200, 130, seed=3)
    n_called, total = observed_sums(raw)
    np.testing.assert_array_equal(n_called, (~np.isnan(raw)).sum(axis=0))
    np.testing.assert_array_equal(total, np.where(np.isnan(raw), 0.0, raw).sum(axis=0))
    calls = np.asfortranarray(np.random.default_rng(4).integers(-1, 3, size=(90, 70)).astype(np.int8))
    n_called, total = observed_sums(calls)
    np.testing.assert_array_equal(n_called, (calls >= 0).sum(axis=0))
    np.testing.assert_array_equal(total, np.where(calls >= 0, calls, 0).sum(axis=0))


def test_sparse_variants__chunked_counts_match_the_rule() -> None:
    raw = _dosages(120, 140, seed=5)
    raw[:, 10:20] = 0.0  # all zero: sparse
    raw[:, 20:30] = 2.0  # all two: dense, and sparse once flipped for binary traits
    missing = np.isnan(raw)
    values = np.where(missing, 0.0, raw)
    n_seen = (~missing).sum(axis=0)
    mean = values.sum(axis=0) / np.maximum(n_seen, 1)
    zeros_seen = (values == 0.0).sum(axis=0) - missing.sum(axis=0)
    nonzero = n_seen - zeros_seen + np.where(mean == 0.0, 0, missing.sum(axis=0))
    np.testing.assert_array_equal(sparse_variants(raw, 120), nonzero <= 60)
    np.testing.assert_array_equal(sparse_variants(raw, 120, count_zeros=True), zeros_seen >= 60)
    flipped = sparse_variants(raw, 120, flip=True)
    assert flipped[20:30].all() and not sparse_variants(raw, 120)[20:30].any() and flipped[10:20].all()


def test_association_block__compiled_products_equal_blas() -> None:
    """G'W by the compiled loop (step 2's, GIL-free) agrees with BLAS's to rounding, missing calls and one-column
    blocks included."""
    rng = np.random.default_rng(12)
    n = 400
    null = fit_null(np.column_stack([np.ones(n), rng.normal(size=(n, 2))]), rng.normal(size=(n, 3)),
                    ["a", "b", "c"])
    offsets = make_offsets(null, None)
    for n_variants in (37, 1):
        raw = np.asfortranarray(rng.choice([0.0, 0.4, 1.0, 1.7, 2.0], size=(n, n_variants)))
        raw[rng.random((n, n_variants)) < 0.05] = np.nan
        assert np.isnan(raw).any()
        blas = association_block(genotype_block(raw), null, offsets)
        compiled = association_block(genotype_block(raw), null, offsets, compiled=True)
        for name in ("beta", "se", "chisq", "log10p", "dosage_sum"):
            want, got = getattr(blas, name), getattr(compiled, name)
            assert np.isfinite(want).all()
            np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-13, err_msg=name)
        np.testing.assert_array_equal(compiled.n_obs, blas.n_obs)


def test_compiled_loops__all_but_one_thread_quantitative_pgen(tmp_path: Path) -> None:
    """Step 2 loads numba except where nothing else needs it: quantitative traits on a .pgen, one thread."""
    from gwasflow.regenie.options import parse_args
    from gwasflow.regenie.step2.startup import compiled_loops

    base = ["--step", "2", "--phenoFile", "p.txt", "--out", str(tmp_path / "o"), "--ignore-pred", "--bsize", "10"]
    assert not compiled_loops(parse_args([*base, "--pgen", "g"]))
    assert compiled_loops(parse_args([*base, "--pgen", "g", "--threads", "2"]))
    assert compiled_loops(parse_args([*base, "--pgen", "g", "--bt"]))
    assert compiled_loops(parse_args([*base, "--bed", "g"]))
    assert compiled_loops(parse_args([*base, "--bgen", "g.bgen"]))


@pytest.mark.parametrize("fmt", ["pgen", "bgen"])
def test_run_step2__same_bytes_at_one_and_two_threads(dosage_pgen: Path, tmp_path: Path, fmt: str) -> None:
    """--threads changes nothing in the printed results (on a .pgen, one thread takes BLAS's products and the
    others the compiled loop's, which agree to rounding)."""
    from gwasflow.regenie.cli import main

    genotypes = ["--pgen", str(dosage_pgen / "g")] if fmt == "pgen" else \
        ["--bgen", str(dosage_pgen / "g.bgen"), "--sample", str(dosage_pgen / "g.sample")]
    texts = []
    for threads in ("1", "2"):
        out = tmp_path / f"t{threads}"
        assert main(["--step", "2", *genotypes, "--phenoFile", str(dosage_pgen / "pheno.txt"), "--bsize", "7",
                     "--ignore-pred", "--minMAC", "1", "--threads", threads, "--out", str(out)]) == 0
        texts.append([Path(f"{out}_{trait}.regenie").read_bytes() for trait in ("y1", "y2")])
    assert texts[0][0].count(b"\n") > 50
    assert texts[0] == texts[1]


@pytest.mark.parametrize("case", ["bed", "bed_bt_missing", "bgen"])
def test_block_width__results_do_not_depend_on_it(reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  case: str) -> None:
    """Blocks narrower than --bsize (step 2's memory cap) give the same bytes: each variant is tested alone."""
    from gwasflow.regenie.cli import main
    from gwasflow.regenie.options import parse_args
    from gwasflow.regenie.step2 import run as step2_run

    inputs = reference / "inputs"
    genotypes = ["--bgen", str(inputs / "example_3chr.bgen"), "--sample", str(inputs / "example_3chr.sample")] \
        if case == "bgen" else ["--bed", str(inputs / "example_3chr")]
    traits = ["--phenoFile", str(inputs / "phenotype_bin_wNA.txt"), "--bt", "--spa"] if case == "bed_bt_missing" \
        else ["--phenoFile", str(inputs / "phenotype.txt")]
    outputs = []
    for cap in (None, 1):
        if cap is not None:
            monkeypatch.setattr(step2_run, "_BLOCK_BYTES", cap)
        out = tmp_path / f"cap{cap}"
        assert main(["--step", "2", *genotypes, *traits, "--covarFile", str(inputs / "covariates.txt"),
                     "--ignore-pred", "--bsize", "100", "--minMAC", "1", "--out", str(out)]) == 0
        outputs.append(sorted((path.name.removeprefix(out.name), path.read_bytes())
                              for path in tmp_path.glob(f"{out.name}_*.regenie")))
    opts = parse_args([*genotypes, *traits, "--step", "2", "--out", "o", "--bsize", "100", "--ignore-pred"])
    assert step2_run.block_width(opts, 500) == (100 if case == "bed" else 16)  # a cap of 1 byte: the smallest
    assert len(outputs[0]) >= 2 and outputs[0][0][1].count(b"\n") > 100
    assert outputs[0] == outputs[1]
