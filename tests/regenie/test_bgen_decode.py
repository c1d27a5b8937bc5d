"""The BGEN reader's own decoder against cbgen (the limix/bgen C library), bit for bit.

Files are written here with every layout-2 feature the reader claims: bit depths 1 to 32, phased and
unphased probabilities, missing calls, no compression, zlib and zstd; read back through
:class:`gwasflow.regenie.io.bgen.BgenFile` (dosages and per-call variances, all samples or a subset, either
allele tested) and compared with the moments of cbgen's probabilities computed as the reader documents them.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import zstandard
from numpy.typing import NDArray

from gwasflow.errors import EngineInputError
from gwasflow.regenie.io.bgen import open_bgen_file


def _pack(values: NDArray[np.int64], bits: int) -> bytes:
    """Little-endian bit packing of ``values`` at ``bits`` bits each (the BGEN v1.2 spec's order)."""
    acc = 0
    for k, value in enumerate(values.tolist()):
        acc |= int(value) << (k * bits)
    return acc.to_bytes((len(values) * bits + 7) // 8, "little")


def _block(rng: np.random.Generator, n: int, bits: int, phased: bool, missing: NDArray[np.bool_]) -> bytes:
    scale = (1 << bits) - 1
    if phased:
        values = rng.integers(0, scale + 1, size=2 * n)
    else:
        first = rng.integers(0, scale + 1, size=n)
        second = np.array([rng.integers(0, scale - f + 1) for f in first.tolist()])
        values = np.empty(2 * n, dtype=np.int64)
        values[0::2], values[1::2] = first, second
    pairs = values.reshape(n, 2)
    pairs[missing] = 0  # the spec stores missing calls as zero probabilities
    ploidy = bytes(130 if m else 2 for m in missing.tolist())
    return struct.pack("<IHBB", n, 2, 2, 2) + ploidy + struct.pack("<BB", int(phased), bits) + _pack(values, bits)


def _write(path: Path, n: int, m: int, *, compression: int, seed: int, phased: bool = True) -> None:
    """A BGEN v1.2 file of ``m`` variants with a mix of bit depths, phasing (unless not ``phased``) and missing
    calls."""
    rng = np.random.default_rng(seed)
    body = bytearray()
    for j in range(m):
        vid = f"v{j}".encode()
        body += struct.pack("<H", len(vid)) + vid + struct.pack("<H", len(vid)) + vid
        body += struct.pack("<H", 1) + b"1" + struct.pack("<IH", 1000 * (j + 1), 2)
        body += struct.pack("<I", 1) + b"A" + struct.pack("<I", 1) + b"G"
        bits = (1, 3, 8, 16, 10, 24, 32, 8, 16, 5)[j % 10]
        raw = _block(rng, n, bits, phased=phased and j % 3 == 1, missing=rng.random(n) < 0.1)
        if compression == 0:
            body += struct.pack("<I", len(raw)) + raw
        else:
            packed = zlib.compress(raw) if compression == 1 else zstandard.ZstdCompressor().compress(raw)
            body += struct.pack("<II", len(packed) + 4, len(raw)) + packed
    header = struct.pack("<IIII", 20, m, n, 0x6E656762) + struct.pack("<I", compression | (2 << 2))
    path.write_bytes(struct.pack("<I", 20) + header + bytes(body))
    sample = "ID_1 ID_2 missing\n0 0 0\n" + "".join(f"F{i} S{i} 0\n" for i in range(n))
    path.with_suffix(".sample").write_text(sample)


def _cbgen_moments(path: Path, tested_first: bool) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """E[g] and E[g^2] - E[g]^2 of the tested allele from cbgen's probabilities, variant by variant."""
    from cbgen import bgen_file, bgen_metafile

    dosages, variances = [], []
    with bgen_file(path) as reader:
        meta_path = path.with_suffix(".metafile")
        reader.create_metafile(meta_path)
        with bgen_metafile(meta_path) as meta:
            offsets = np.concatenate([meta.read_partition(p).variants.offset for p in range(meta.npartitions)])
        for offset in offsets.tolist():
            probs = reader.read_probability(int(offset))
            if probs.shape[1] == 3:
                hom, het = probs[:, 0 if tested_first else 2], probs[:, 1]
                mean, square = 2.0 * hom + het, 4.0 * hom + het
            else:
                col = 0 if tested_first else 1
                h1, h2 = probs[:, col], probs[:, col + 2]
                mean, square = h1 + h2, h1 + h2 + 2.0 * h1 * h2
            dosages.append(mean)
            variances.append(np.nan_to_num(square - mean * mean))  # the reader gives 0 for a missing call
    return np.column_stack(dosages), np.column_stack(variances)


@pytest.mark.parametrize("compression", [0, 1, 2])
@pytest.mark.parametrize("ref_first", [False, True])
def test_read_block_info__equals_cbgen_bit_for_bit(tmp_path: Path, compression: int, ref_first: bool) -> None:
    path = tmp_path / "g.bgen"
    seed = compression + 10 * ref_first
    _write(path, n=37, m=30, compression=compression, seed=seed)
    bgen = open_bgen_file(str(path), str(path.with_suffix(".sample")), ref_first=ref_first)
    # cbgen (0.1.x) misreads uncompressed layout-2 blocks (it fails on them), so an uncompressed file is checked
    # against cbgen's reading of its zlib twin: the same seed writes the same probabilities
    twin = path if compression else tmp_path / "twin.bgen"
    if not compression:
        _write(twin, n=37, m=30, compression=1, seed=seed)
    want_dosage, want_var = _cbgen_moments(twin, tested_first=not ref_first)
    variants = np.arange(30, dtype=np.intp)
    weights = np.random.default_rng(seed).random((37, 3))
    dosage, variance_sums = bgen.read_block_info(variants, None, weights)
    assert np.isnan(dosage).sum() > 0, "the file has missing calls"
    np.testing.assert_array_equal(dosage, want_dosage)
    np.testing.assert_allclose(variance_sums, want_var.T @ weights, rtol=1e-13, atol=1e-15)
    rows = np.array([36, 0, 5, 5, 17], dtype=np.intp)
    picked = np.array([29, 3, 11], dtype=np.intp)
    sub_dosage, sub_sums = bgen.read_block_info(picked, rows)
    np.testing.assert_array_equal(sub_dosage, want_dosage[np.ix_(rows, picked)])
    np.testing.assert_allclose(sub_sums[:, 0], want_var[np.ix_(rows, picked)].sum(axis=0), rtol=1e-13, atol=1e-15)
    assert sub_dosage.flags.f_contiguous and bgen.read_block(picked[:0]).shape == (37, 0)


def test_read_block_info__damaged_block_is_one_error_naming_the_variant(tmp_path: Path) -> None:
    path = tmp_path / "g.bgen"
    _write(path, n=20, m=4, compression=1, seed=3)
    bgen = open_bgen_file(str(path), str(path.with_suffix(".sample")))
    data = bytearray(path.read_bytes())
    at = int(bgen._offsets[2]) + 8
    data[at:at + 6] = b"\xff" * 6  # inside variant v2's zlib stream
    path.write_bytes(bytes(data))
    damaged = open_bgen_file(str(path), str(path.with_suffix(".sample")))
    with pytest.raises(EngineInputError, match="variant v2: cannot decompress"):
        damaged.read_block_info(np.arange(4, dtype=np.intp))


def test_read_block_info__triploid_block_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "g.bgen"
    _write(path, n=8, m=2, compression=0, seed=4)
    data = bytearray(path.read_bytes())
    bgen = open_bgen_file(str(path), str(path.with_suffix(".sample")))
    at = int(bgen._offsets[1]) + 4 + 6  # variant v1: u32 size, then N (u32), K (u16), Pmin, Pmax
    data[at + 1] = 3  # Pmax
    path.write_bytes(bytes(data))
    damaged = open_bgen_file(str(path), str(path.with_suffix(".sample")))
    with pytest.raises(EngineInputError, match="variant v1: only biallelic diploid"):
        damaged.read_block_info(np.arange(2, dtype=np.intp))


@pytest.mark.parametrize(("compression", "ref_first"), [(1, True), (1, False), (2, False)])
def test_step2__bgen_layout2_features_match_the_real_regenie(tmp_path: Path, compression: int,
                                                             ref_first: bool) -> None:
    """Unphased blocks of 1-32 bits with missing calls, as the real regenie reads them (every column).

    Phased blocks are left out: regenie v4.1.2's step 2 takes the dosage as sum_j j * probs[j] over the
    probabilities its BGEN library returns, which for a phased sample are two haplotypes' allele
    probabilities, not three genotype probabilities, so its dosages of phased data are not allele counts.
    Uncompressed files are left out too: regenie stops on the uncompressed twin of these files with
    ``ERROR: BGenError`` (and cbgen fails on it), so those are checked against their zlib twin above.
    """
    from tests.regenie.differential.compare import compare_step2, run_both

    n = 300
    path = tmp_path / "g.bgen"
    _write(path, n=n, m=40, compression=compression, seed=20 + compression, phased=False)
    rng = np.random.default_rng(compression)
    rows = "".join(f"F{i} S{i} {y:.6f}\n" for i, y in enumerate(rng.normal(170, 9, n)))
    (tmp_path / "pheno.txt").write_text("FID IID height\n" + rows)
    flags = ["--step", "2", "--bgen", str(path), "--sample", str(path.with_suffix(".sample")),
             "--phenoFile", str(tmp_path / "pheno.txt"), "--bsize", "7", "--ignore-pred", "--minMAC", "1"]
    ours, theirs = run_both([*flags, *(["--ref-first"] if ref_first else [])], tmp_path, "bgen")
    diff = compare_step2(ours, theirs, ["height"])
    assert not diff.mismatches, diff.mismatches[:5]
    assert diff.rows == 40 and diff.last_digit <= 2
    assert diff.beta_rel <= 1e-5 and diff.se_rel <= 1e-5 and diff.log10p_abs <= 1e-4


@pytest.mark.parametrize("seed", [2, 4])
def test_step2__min_info_drops_what_the_real_regenie_drops(tmp_path: Path, seed: int) -> None:
    """``--minINFO`` on a generated dosage cohort with per-trait missing phenotypes: the same variants are
    dropped (over all analysed samples and per trait) and the rest equal regenie's rows."""
    from tests.regenie.differential.cohort import Case, write_case
    from tests.regenie.differential.compare import compare_step2, run_both

    case = Case(seed=seed, n_samples=500, n_variants=400, bgen_bits=8, trait_missing=(0.08, 0.0, 0.04))
    files = write_case(case, tmp_path)
    flags = [*files.geno_flags, "--phenoFile", str(files.pheno), "--covarFile", str(files.covar),
             "--catCovarList", "site", "--bsize", "50", "--ignore-pred", "--minINFO", "0.85"]
    ours, theirs = run_both(["--step", "2", *flags], tmp_path, "info")
    diff = compare_step2(ours, theirs, files.pheno_names)
    assert not diff.mismatches, diff.mismatches[:5]
    assert diff.beta_rel <= 1e-5 and diff.se_rel <= 1e-5 and diff.log10p_abs <= 1e-4 and diff.last_digit <= 2
    # the cohort's INFO scores run from about 0.76 to 0.93: 0.85 drops about half
    kept = len(Path(f"{theirs}_{files.pheno_names[0]}.regenie").read_text().splitlines()) - 1
    assert 100 < kept < 300, f"--minINFO 0.85 should drop some variants and keep others (kept {kept} of 400)"
    assert "using minimum imputation info score of 0.85" in Path(f"{ours}.log").read_text()
