"""BGEN block decompression into buffers (:mod:`gwasflow.regenie.io.inflate`) and the reader's chunked reads."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest
import zstandard

from gwasflow.errors import EngineInputError
from gwasflow.regenie.io import bgen as bgen_module
from gwasflow.regenie.io.bgen import open_bgen_file
from gwasflow.regenie.io.inflate import InflateError, Inflater
from tests.regenie.test_bgen_decode import _write

_COMPRESS = {1: zlib.compress, 2: zstandard.ZstdCompressor().compress}


@pytest.mark.parametrize("compression", [1, 2])
@pytest.mark.parametrize("native", [True, False])
def test_inflate__writes_the_block_at_its_place_in_the_buffer(compression: int, native: bool) -> None:
    payload = np.random.default_rng(compression).integers(0, 4, 5000).astype(np.uint8).tobytes()
    packed = _COMPRESS[compression](payload)
    src = np.frombuffer(b"xyz" + packed + b"tail", dtype=np.uint8).copy()
    dst = np.full(len(payload) + 20, 7, dtype=np.uint8)
    inflater = Inflater(compression, native=native)
    assert inflater.native is native
    inflater.inflate(src, 3, 3 + len(packed), dst, 10, len(payload))
    assert dst[10:10 + len(payload)].tobytes() == payload
    assert (dst[:10] == 7).all() and (dst[10 + len(payload):] == 7).all()


@pytest.mark.parametrize("compression", [1, 2])
@pytest.mark.parametrize("native", [True, False])
def test_inflate__wrong_length_or_damaged_data_is_an_error(compression: int, native: bool) -> None:
    payload = bytes(range(256)) * 20
    packed = np.frombuffer(_COMPRESS[compression](payload), dtype=np.uint8).copy()
    dst = np.zeros(len(payload) + 10, dtype=np.uint8)
    inflater = Inflater(compression, native=native)
    for size in (len(payload) - 1, len(payload) + 1):
        with pytest.raises(InflateError):
            inflater.inflate(packed, 0, packed.size, dst, 0, size)
    damaged = packed.copy()
    damaged[packed.size // 2:] ^= 0x5A
    with pytest.raises(InflateError):
        inflater.inflate(damaged, 0, damaged.size, dst, 0, len(payload))
    inflater.inflate(packed, 0, packed.size, dst, 0, len(payload))  # still usable after an error
    assert dst[:len(payload)].tobytes() == payload


def test_read_block_info__small_chunks_read_the_same_dosages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "g.bgen"
    _write(path, n=50, m=24, compression=1, seed=8)
    bgen = open_bgen_file(str(path), str(path.with_suffix(".sample")))
    variants = np.arange(24, dtype=np.intp)
    weights = np.random.default_rng(1).random((50, 2))
    whole, whole_sums = bgen.read_block_info(variants, None, weights)
    assert len(bgen._chunks(variants)) == 1
    monkeypatch.setattr(bgen_module, "_CHUNK_BYTES", 120)  # about one variant of 50 samples per read
    assert len(bgen._chunks(variants)) > 10
    out = np.full((50, 30), 9.0, order="F")
    dosage, sums = bgen.read_block_info(variants, None, weights, out=out)
    np.testing.assert_array_equal(dosage, whole)
    np.testing.assert_array_equal(sums, whole_sums)
    assert np.shares_memory(dosage, out) and (out[:, 24:] == 9.0).all()
    with pytest.raises(ValueError, match="Fortran-ordered"):
        bgen.read_block_info(variants, None, weights, out=np.empty((50, 30)))


def test_read_block_info__truncated_file_names_the_variant(tmp_path: Path) -> None:
    path = tmp_path / "g.bgen"
    _write(path, n=40, m=6, compression=1, seed=5)
    bgen = open_bgen_file(str(path), str(path.with_suffix(".sample")))
    cut = int(bgen._offsets[4]) + 30  # inside variant v4's genotype block
    whole = bgen.read_block(np.arange(4, dtype=np.intp))
    # cut short after opening (cbgen's metafile, built when opening a file without .bgi, needs a whole file)
    path.write_bytes(path.read_bytes()[:cut])
    np.testing.assert_array_equal(bgen.read_block(np.arange(4, dtype=np.intp)), whole)
    with pytest.raises(EngineInputError, match=r"variant v4: the file ends inside its genotype block"):
        bgen.read_block(np.arange(6, dtype=np.intp))


@pytest.mark.parametrize("compression", [1, 2])
def test_inflate_all__the_compiled_loop_gives_ctypes_bytes_and_names_the_bad_block(compression: int) -> None:
    rng = np.random.default_rng(7)
    payloads = [rng.integers(0, 3, int(size)).astype(np.uint8).tobytes() for size in rng.integers(1, 4000, 40)]
    packed = [_COMPRESS[compression](p) for p in payloads]
    src = np.frombuffer(b"".join(packed), dtype=np.uint8).copy()
    src_stops = np.cumsum([len(p) for p in packed]).astype(np.int64)
    src_starts = src_stops - np.array([len(p) for p in packed], dtype=np.int64)
    sizes = np.array([len(p) for p in payloads], dtype=np.int64)
    dst_starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    out = {}
    for compiled in (True, False):
        inflater = Inflater(compression, compiled=compiled)
        dst = np.zeros(int(sizes.sum()), dtype=np.uint8)
        inflater.inflate_all(src, src_starts, src_stops, dst, dst_starts, sizes)
        out[compiled] = dst.tobytes()
    assert out[True] == out[False] == b"".join(payloads)
    wrong = sizes.copy()
    wrong[23] += 1  # block 23 says one byte more than it holds
    dst = np.zeros(int(wrong.sum()) + 1, dtype=np.uint8)
    with pytest.raises(InflateError) as caught:
        Inflater(compression).inflate_all(src, src_starts, src_stops, dst, dst_starts, wrong)
    assert caught.value.index == 23
