"""Step 2 on a .pgen with dosages (plink2's conversion of a BGEN file), decoded straight into the block buffer."""

from __future__ import annotations

import shutil
import struct
import subprocess
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest

from gwasflow.regenie.io.pgen import open_pgen_file
from tests.regenie.test_bgen_decode import _block


def _write_bgen(path: Path, n: int, m: int, seed: int) -> None:
    """An unphased zlib BGEN v1.2 file of 8- and 16-bit blocks (plink2 imports up to 28 bits) with missing calls."""
    rng = np.random.default_rng(seed)
    body = bytearray()
    for j in range(m):
        vid = f"v{j}".encode()
        body += struct.pack("<H", len(vid)) + vid + struct.pack("<H", len(vid)) + vid
        body += struct.pack("<H", 1) + b"1" + struct.pack("<IH", 1000 * (j + 1), 2)
        body += struct.pack("<I", 1) + b"A" + struct.pack("<I", 1) + b"G"
        raw = _block(rng, n, (8, 16)[j % 2], phased=False, missing=rng.random(n) < 0.05)
        packed = zlib.compress(raw)
        body += struct.pack("<II", len(packed) + 4, len(raw)) + packed
    header = struct.pack("<IIII", 20, m, n, 0x6E656762) + struct.pack("<I", 1 | (2 << 2))
    path.write_bytes(struct.pack("<I", 20) + header + bytes(body))
    path.with_suffix(".sample").write_text("ID_1 ID_2 missing\n0 0 0\n" + "".join(f"F{i} S{i} 0\n" for i in range(n)))


@pytest.fixture(scope="module")
def dosage_pgen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-sample, 60-variant .pgen with dosages and missing calls, from an unphased BGEN file."""
    plink2 = shutil.which("plink2")
    if plink2 is None:
        raise FileNotFoundError("plink2 not on PATH: .ci/run installs it (apt-get install plink2)")
    folder = tmp_path_factory.mktemp("pgen_dosages")
    bgen = folder / "g.bgen"
    _write_bgen(bgen, n=300, m=60, seed=31)
    subprocess.run([plink2, "--bgen", str(bgen), "ref-first", "--sample", str(bgen.with_suffix(".sample")),
                    "--make-pgen", "--out", str(folder / "g")], check=True, capture_output=True)
    rng = np.random.default_rng(3)
    rows = "".join(f"F{i} S{i} {a:.6f} {b:.6f}\n" for i, (a, b) in enumerate(rng.normal(0, 1, (300, 2))))
    (folder / "pheno.txt").write_text("FID IID y1 y2\n" + rows)
    return folder


def test_read_block__into_a_buffer_equals_a_fresh_block(dosage_pgen: Path) -> None:
    pgen = open_pgen_file(str(dosage_pgen / "g"))
    variants = np.arange(60, dtype=np.intp)
    fresh = pgen.read_block(variants)
    assert np.isnan(fresh).any() and not np.isin(fresh, [0.0, 1.0, 2.0, np.nan]).all(), "dosages, missing calls"
    buffer = np.full((300, 80), 5.0, order="F")
    into = pgen.read_block(variants, out=buffer)
    assert np.shares_memory(into, buffer) and (buffer[:, 60:] == 5.0).all()
    np.testing.assert_array_equal(into, fresh)
    rows = np.array([2, 7, 100, 299], dtype=np.intp)
    np.testing.assert_array_equal(pgen.read_block(variants[10:20], rows), fresh[np.ix_(rows, variants[10:20])])


def test_read_block__threads_read_at_once_with_their_own_readers(dosage_pgen: Path) -> None:
    pgen = open_pgen_file(str(dosage_pgen / "g"))
    want = pgen.read_block(np.arange(60, dtype=np.intp))
    got: dict[int, np.ndarray] = {}

    def read(part: int) -> None:
        for _ in range(20):
            got[part] = pgen.read_block(np.arange(part * 20, part * 20 + 20, dtype=np.intp))

    threads = [threading.Thread(target=read, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    np.testing.assert_array_equal(np.hstack([got[0], got[1], got[2]]), want)


@pytest.mark.parametrize("threads", ["1", "2"])
def test_step2__pgen_dosages_match_the_real_regenie(dosage_pgen: Path, tmp_path: Path, threads: str) -> None:
    from tests.regenie.differential.compare import compare_step2, run_both

    flags = ["--step", "2", "--pgen", str(dosage_pgen / "g"), "--phenoFile", str(dosage_pgen / "pheno.txt"),
             "--bsize", "16", "--ignore-pred", "--minMAC", "1", "--threads", threads]
    ours, theirs = run_both(flags, tmp_path, "pgen")
    diff = compare_step2(ours, theirs, ["y1", "y2"])
    assert not diff.mismatches, diff.mismatches[:5]
    assert diff.rows == 120 and diff.last_digit <= 2
    assert diff.beta_rel <= 1e-5 and diff.se_rel <= 1e-5 and diff.log10p_abs <= 1e-4


def test_step2__pgen_info_per_trait_and_min_info_match_the_real_regenie(dosage_pgen: Path, tmp_path: Path) -> None:
    """MaCH's Rsq over each trait's own samples (y2 misses a fifth of them) and ``--minINFO`` on it."""
    from tests.regenie.differential.compare import compare_step2, run_both

    rng = np.random.default_rng(5)
    values = rng.normal(0, 1, (300, 2))
    rows = "".join(f"F{i} S{i} {a:.6f} {'NA' if i % 5 == 2 else f'{b:.6f}'}\n" for i, (a, b) in enumerate(values))
    (tmp_path / "pheno.txt").write_text("FID IID y1 y2\n" + rows)
    flags = ["--step", "2", "--pgen", str(dosage_pgen / "g"), "--phenoFile", str(tmp_path / "pheno.txt"),
             "--bsize", "16", "--ignore-pred", "--minMAC", "1", "--minINFO", "0.455"]
    ours, theirs = run_both(flags, tmp_path, "pgen_info")
    diff = compare_step2(ours, theirs, ["y1", "y2"])
    assert not diff.mismatches, diff.mismatches[:5]
    assert 20 <= diff.rows < 120, "--minINFO 0.455 (about the median INFO) leaves some tests out, not all"
    assert diff.last_digit <= 2 and diff.beta_rel <= 1e-5 and diff.log10p_abs <= 1e-4
    header = Path(f"{ours}_y2.regenie").read_text().splitlines()[0].split()
    assert header[5:8] == ["A1FREQ", "INFO", "N"]


@pytest.mark.parametrize(("dosages", "want"), [("dosage-freq=0.3", True), ("", False)])
def test_pgen_has_dosages__reads_the_header_over_two_variant_blocks(tmp_path: Path, dosages: str,
                                                                    want: bool) -> None:
    """plink2's dummy files of 70,000 variants: the header lists record types in two blocks of 2^16."""
    from gwasflow.regenie.io.pgen import pgen_has_dosages

    plink2 = shutil.which("plink2")
    if plink2 is None:
        raise FileNotFoundError("plink2 not on PATH: .ci/run installs it (apt-get install plink2)")
    subprocess.run([plink2, "--dummy", "20", "70000", *([dosages] if dosages else []), "--make-pgen",
                    "--out", str(tmp_path / "d")], check=True, capture_output=True)
    assert pgen_has_dosages(tmp_path / "d.pgen") is want
    assert open_pgen_file(str(tmp_path / "d")).has_info is want


def test_step2__hard_call_pgen_has_no_info_column_as_in_regenie(tmp_path: Path) -> None:
    from tests.regenie.differential.compare import compare_step2, run_both

    plink2 = shutil.which("plink2")
    if plink2 is None:
        raise FileNotFoundError("plink2 not on PATH: .ci/run installs it (apt-get install plink2)")
    subprocess.run([plink2, "--dummy", "200", "40", "--make-pgen", "--out", str(tmp_path / "h")], check=True,
                   capture_output=True)
    ids = [line.split()[0] for line in (tmp_path / "h.psam").read_text().splitlines()[1:]]
    # regenie v4.1.2 wants a #FID column in the .psam
    (tmp_path / "h.psam").write_text("#FID\tIID\tSEX\n" + "".join(f"{s}\t{s}\tNA\n" for s in ids))
    rng = np.random.default_rng(8)
    (tmp_path / "pheno.txt").write_text("FID IID y1\n" + "".join(f"{s} {s} {v:.6f}\n" for s, v in
                                                                 zip(ids, rng.normal(size=len(ids)), strict=True)))
    flags = ["--step", "2", "--pgen", str(tmp_path / "h"), "--phenoFile", str(tmp_path / "pheno.txt"),
             "--bsize", "8", "--ignore-pred", "--minMAC", "1"]
    ours, theirs = run_both(flags, tmp_path, "pgen_hard")
    diff = compare_step2(ours, theirs, ["y1"])
    assert not diff.mismatches, diff.mismatches[:5]
    assert diff.rows > 0 and "INFO" not in Path(f"{ours}_y1.regenie").read_text().splitlines()[0].split()
