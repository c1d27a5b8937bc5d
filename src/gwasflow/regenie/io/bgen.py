"""BGEN v1.2 access: dosages decoded by our compiled loop, variants from the ``.bgi`` index.

* Layout 2 files, zlib or zstd compressed (or not), biallelic, ploidy 2, any
  bit depth from 1 to 32, phased or not, with missing calls (the genotype
  blocks are decompressed by python-isal (zlib's format) or zstandard and decoded by
  :func:`gwasflow.regenie.kernels.bgen_dosages_kernel`; cbgen, the limix/bgen
  C library, reads the sample IDs stored in the file and lists the variants
  when there is no ``.bgi``).
* Variant metadata and file offsets come from ``<file>.bgi`` (bgenix's SQLite
  index, read with :mod:`sqlite3`) when present; otherwise cbgen builds its
  metafile in a temporary folder.
* Samples come from ``--sample`` (Oxford .sample: two header lines, then
  ``ID_1 ID_2 ...`` taken as FID, IID), else from the IDs stored in the file,
  split at the first ``_`` into FID and IID (``FID_IID``).
* Allele order (regenie docs, ``--ref-first``): by default the first allele
  is the tested one (ALLELE1) and the second ALLELE0; with ``--ref-first`` the
  first allele is the reference (ALLELE0) and the second is tested.
* Dosage of the tested allele ``A``: ``2 P(AA) + P(AB)`` (unphased) or the sum
  of the two haplotype probabilities (phased); a missing call is NaN.
* INFO is the IMPUTE-style information score over the analysed samples with a
  call: ``1 - sum_i (E[g_i^2] - E[g_i]^2) / (2 n f (1 - f))``, ``f`` the
  tested allele's frequency; 1 when ``f`` is 0 or 1.
"""

from __future__ import annotations

import os
import sqlite3
import struct
import tempfile
import threading
import weakref
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gwasflow.errors import EngineInputError
from gwasflow.regenie.io.bed import VariantInfo, chrom_code
from gwasflow.regenie.io.inflate import InflateError, Inflater
from gwasflow.regenie.io.remote import localize

__all__ = ["BgenFile", "BgenHeader", "info_scores", "open_bgen_file", "read_bgen_header", "read_sample_file"]

_COMPRESSION = {0: "uncompressed", 1: "zlib compressed", 2: "zstd compressed"}


class BgenHeader:
    """The fields of a BGEN header block the engine checks and logs."""

    def __init__(self, n_variants: int, n_samples: int, compression: int, layout: int, has_ids: bool):
        self.n_variants = n_variants
        self.n_samples = n_samples
        self.compression = compression
        self.layout = layout
        self.has_ids = has_ids

    def summary(self) -> str:
        kind = _COMPRESSION.get(self.compression, f"compression {self.compression}")
        names = "named" if self.has_ids else "anonymous"
        return f"bgen file (v1.{self.layout} layout, {kind}) with {self.n_samples} {names} samples and " \
               f"{self.n_variants} variants"


def read_bgen_header(path: Path) -> BgenHeader:
    """Read the header block (spec: https://www.well.ox.ac.uk/~gav/bgen_format/spec/latest.html)."""
    with path.open("rb") as handle:
        head = handle.read(24)
    if len(head) < 24 or head[16:20] not in (b"bgen", b"\0\0\0\0"):
        raise EngineInputError(f"--bgen: {path} is not a BGEN file")
    _, _, n_variants, n_samples = struct.unpack("<IIII", head[:16])
    (flags,) = struct.unpack("<I", head[20:24])
    return BgenHeader(n_variants, n_samples, flags & 3, (flags >> 2) & 15, bool(flags >> 31))


def read_sample_file(path: Path) -> tuple[list[str], list[str]]:
    """FID (ID_1) and IID (ID_2) of an Oxford .sample file."""
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    if len(lines) < 2 or lines[0][:2] != ["ID_1", "ID_2"]:
        raise EngineInputError(f"--sample: {path}: line 1: header must start with 'ID_1 ID_2'")
    body = lines[2:]
    for line_no, fields in enumerate(body, start=3):
        if len(fields) < 2:
            raise EngineInputError(f"--sample: {path}: line {line_no}: expected ID_1 and ID_2")
    return [f[0] for f in body], [f[1] for f in body]


def _bgi_variants(bgi: Path, data: Path) -> tuple[list[tuple[str, int, str, str, str]], NDArray[np.int64]]:
    """Variants in file order and their genotype-block offsets, from a bgenix index."""
    con = sqlite3.connect(f"file:{bgi}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT chromosome, position, rsid, number_of_alleles, allele1, allele2, file_start_position "
            "FROM Variant ORDER BY file_start_position").fetchall()
    except sqlite3.DatabaseError as exc:
        raise EngineInputError(f"--bgen: {bgi}: not a bgenix index ({exc})") from None
    finally:
        con.close()
    offsets = np.empty(len(rows), dtype=np.int64)
    with data.open("rb") as handle:
        for i, (chrom, _, rsid, n_alleles, a1, a2, start) in enumerate(rows):
            if n_alleles != 2:
                raise EngineInputError(f"--bgen: variant {rsid} has {n_alleles} alleles; only biallelic supported")
            handle.seek(start)
            (id_len,) = struct.unpack("<H", handle.read(2))
            # identifying block: id, rsid, chrom (each u16 length + bytes), u32 position, u16 K, K x (u32 + bytes)
            offsets[i] = start + 2 + id_len + 2 + len(rsid.encode()) + 2 + len(chrom.encode()) + 4 + 2 \
                + 4 + len(a1.encode()) + 4 + len(a2.encode())
    return [(r[0], r[1], r[2], r[4], r[5]) for r in rows], offsets


def _metafile_variants(data: Path, reader: object) -> tuple[list[tuple[str, int, str, str, str]], NDArray[np.int64]]:
    """Variants and offsets through cbgen's own metafile, built in a temporary folder."""
    from cbgen import bgen_metafile  # type: ignore[import-untyped,import-not-found,unused-ignore]

    with tempfile.TemporaryDirectory(prefix="gwasflow_bgen_") as folder:
        path = os.path.join(folder, "meta")
        reader.create_metafile(path)  # type: ignore[attr-defined]
        rows: list[tuple[str, int, str, str, str]] = []
        offsets: list[NDArray[np.int64]] = []
        with bgen_metafile(path) as meta:
            for part in range(meta.npartitions):
                variants = meta.read_partition(part).variants
                offsets.append(np.asarray(variants.offset, dtype=np.int64))
                for chrom, pos, rsid, alleles in zip(variants.chromosome, variants.position, variants.rsid,
                                                     variants.allele_ids, strict=True):
                    names = alleles.decode().split(",")
                    if len(names) != 2:
                        raise EngineInputError(f"--bgen: variant {rsid.decode()} is not biallelic")
                    rows.append((chrom.decode(), int(pos), rsid.decode(), names[0], names[1]))
    return rows, np.concatenate(offsets) if offsets else np.empty(0, dtype=np.int64)


def _variant_info(rows: list[tuple[str, int, str, str, str]], ref_first: bool) -> VariantInfo:
    try:
        chrom = np.asarray([chrom_code(r[0]) for r in rows], dtype=np.int64)
    except ValueError as exc:
        raise EngineInputError(f"--bgen: bad chromosome '{exc}'") from None
    first = np.asarray([r[3] for r in rows], dtype=np.str_)
    second = np.asarray([r[4] for r in rows], dtype=np.str_)
    return VariantInfo(chrom=chrom, pos=np.asarray([r[1] for r in rows], dtype=np.int64),
                       ids=np.asarray([r[2] for r in rows], dtype=np.str_),
                       allele1=second if ref_first else first, allele0=first if ref_first else second)


class BgenFile:
    """An open BGEN file; dosages and INFO scores are read per block of variants.

    Genotype blocks are read with ``pread`` (no shared file position, and no
    file pages mapped into the process, so its resident memory stays the
    blocks' own), decompressed
    (zlib or zstd, whose C code runs without the GIL) and decoded by one
    compiled loop per block (:func:`gwasflow.regenie.kernels.bgen_dosages_kernel`)
    straight into the float64 arrays step 2 reads: no per-sample Python work,
    and no lock, so ``--threads`` blocks decode at once.
    """

    has_info = True

    def __init__(self, path: str, data: Path, header: BgenHeader, variants: VariantInfo,
                 offsets: NDArray[np.int64], fid: list[str], iid: list[str], *, ref_first: bool):
        self.label = f"bgen : [{path}]"
        self.header = header
        self.variants = variants
        self._offsets = offsets
        self.fid = fid
        self.iid = iid
        self.num_threads = 1
        self.compiled = True  # the blocks are always decoded by a compiled loop
        self._tested_first = not ref_first
        self._path = path
        self._fd = os.open(data, os.O_RDONLY)  # read with pread: no shared file position between threads
        weakref.finalize(self, os.close, self._fd)
        if offsets.size and np.any(np.diff(offsets) <= 0):
            raise EngineInputError(f"--bgen: {path}: the index does not list the variants in file order")
        # where each variant's stored block ends at the latest: the next variant's block, or the end of the file
        self._ends = np.append(offsets[1:], np.int64(os.fstat(self._fd).st_size))
        self._local = threading.local()

    @property
    def n_samples(self) -> int:
        return len(self.iid)

    @property
    def n_variants(self) -> int:
        return int(self.variants.chrom.shape[0])

    def _scratch(self) -> _Scratch:
        """This thread's buffers and decompressor (each thread decodes its own blocks)."""
        scratch: _Scratch | None = getattr(self._local, "scratch", None)
        if scratch is None:
            try:
                scratch = _Scratch(Inflater(self.header.compression))
            except ImportError:  # zstandard: a dependency of gwasflow; absent only in a broken installation
                raise EngineInputError("--bgen: zstd-compressed BGEN needs the zstandard package "
                                       "(pip install zstandard)") from None
            self._local.scratch = scratch
        return scratch

    def _chunks(self, variant_index: NDArray[np.intp]) -> list[tuple[int, int]]:
        """Runs ``[lo, hi)`` of positions in ``variant_index``: consecutive variants, at most ``_CHUNK_BYTES``
        of the file each (one read, then decoded while the bytes are still in the cache)."""
        chunks = []
        lo = 0
        index = variant_index.tolist()
        ends = self._ends[variant_index].tolist()
        starts = self._offsets[variant_index].tolist()
        for k in range(1, len(index) + 1):
            if k == len(index) or index[k] != index[k - 1] + 1 or ends[k] - starts[lo] > _CHUNK_BYTES:
                chunks.append((lo, k))
                lo = k
        return chunks

    def _load(self, scratch: _Scratch, variants: NDArray[np.intp]) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
        """The uncompressed genotype blocks of consecutive ``variants``, end to end, and where each starts.

        Each stored block is ``u32 size`` then (compressed) ``u32 uncompressed size`` and the stream; the
        sizes of all blocks of the read are taken at once with numpy.
        """
        first = int(self._offsets[variants[0]])
        span = int(self._ends[variants[-1]]) - first
        stored = scratch.stored(span + 8)
        got = os.preadv(self._fd, [stored[:span].data], first)
        stored[got:got + 8] = 0  # the size fields of a block cut short read as 0, caught below
        heads = self._offsets[variants] - first
        rooms = np.minimum(self._ends[variants] - first, got)
        compressed = self.header.compression != 0
        size = _u32_at(stored, heads)
        bad = (heads + 8 > rooms) | (size < 4 * compressed) | (heads + 4 + size > rooms)
        if bad.any():
            vid = self.variants.ids[variants[int(np.argmax(bad))]]
            raise EngineInputError(f"--bgen: {self._path}: variant {vid}: the file ends inside its genotype block "
                                   "(truncated file?)")
        sizes = _u32_at(stored, heads + 4) if compressed else size
        starts = np.zeros(variants.shape[0] + 1, dtype=np.int64)
        np.cumsum(sizes, out=starts[1:])
        data = scratch.data(int(starts[-1]))
        skip = 8 if compressed else 4
        try:
            scratch.inflater.inflate_all(stored, heads + skip, heads + 4 + size, data, starts[:-1], sizes)
        except InflateError as exc:
            raise EngineInputError(f"--bgen: {self._path}: variant {self.variants.ids[variants[exc.index]]}: cannot "
                                   f"decompress its genotype block ({exc})") from None
        return data, starts

    def read_raw(self, variant_index: NDArray[np.intp], sample_index: NDArray[np.intp] | None = None,
                 ) -> NDArray[np.float64]:
        return self.read_block(variant_index, sample_index)

    def read_block_info(self, variant_index: NDArray[np.intp], sample_index: NDArray[np.intp] | None = None,
                        weights: NDArray[np.float64] | None = None, *, out: NDArray[np.float64] | None = None,
                        ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        from gwasflow.regenie.kernels import bgen_dosages_kernel

        rows = np.arange(self.n_samples, dtype=np.intp) if sample_index is None \
            else np.ascontiguousarray(sample_index, dtype=np.intp)
        weights = np.ones((rows.shape[0], 1)) if weights is None else np.asfortranarray(weights, dtype=np.float64)
        dosage = _block_array(out, rows.shape[0], variant_index.shape[0])
        variance_sums = np.zeros((variant_index.shape[0], weights.shape[1]), dtype=np.float64)
        scratch = self._scratch()
        for lo, hi in self._chunks(variant_index):
            data, starts = self._load(scratch, variant_index[lo:hi])
            bad = bgen_dosages_kernel(data, starts, rows, self._tested_first, weights, dosage[:, lo:hi],
                                      variance_sums[lo:hi])
            if bad:
                vid = self.variants.ids[variant_index[lo + bad - 1]]
                raise EngineInputError(f"--bgen: {self._path}: variant {vid}: only biallelic diploid genotype "
                                       f"blocks with 1-32 bits per probability and {self.n_samples} samples are "
                                       "supported")
        return dosage, variance_sums

    def read_block(self, variant_index: NDArray[np.intp], sample_index: NDArray[np.intp] | None = None,
                   ) -> NDArray[np.float64]:
        return self.read_block_info(variant_index, sample_index)[0]

    @staticmethod
    def info_score(variance_sums: NDArray[np.float64], dosage_sums: NDArray[np.float64],
                   n_called: NDArray[np.float64] | NDArray[np.int64]) -> NDArray[np.float64]:
        """IMPUTE's information score (:func:`info_scores`)."""
        return info_scores(variance_sums, dosage_sums, n_called)




def _u32_at(data: NDArray[np.uint8], at: NDArray[np.int64]) -> NDArray[np.int64]:
    """The little-endian u32 values at byte positions ``at`` of ``data``."""
    result: NDArray[np.int64] = data[at].astype(np.int64) | (data[at + 1].astype(np.int64) << 8) \
        | (data[at + 2].astype(np.int64) << 16) | (data[at + 3].astype(np.int64) << 24)
    return result
_CHUNK_BYTES = 1 << 21  # of the file per read: about 200 variants of 10,000 samples (8-bit), 20 of 100,000


class _Scratch:
    """One thread's reusable buffers (the blocks as stored, the blocks uncompressed) and its decompressor."""

    def __init__(self, inflater: Inflater):
        self.inflater = inflater
        self._stored = np.empty(0, dtype=np.uint8)
        self._data = np.empty(0, dtype=np.uint8)

    def stored(self, size: int) -> NDArray[np.uint8]:
        if self._stored.shape[0] < size:
            self._stored = np.empty(size, dtype=np.uint8)
        return self._stored

    def data(self, size: int) -> NDArray[np.uint8]:
        if self._data.shape[0] < size:
            self._data = np.empty(size, dtype=np.uint8)
        return self._data


def _block_array(out: NDArray[np.float64] | None, n_rows: int, n_block: int) -> NDArray[np.float64]:
    """The first ``n_block`` columns of ``out`` (Fortran order, ``n_rows`` rows), or a new array."""
    if out is None:
        return np.empty((n_rows, n_block), dtype=np.float64, order="F")
    if out.shape[0] != n_rows or out.shape[1] < n_block or not out.flags.f_contiguous or out.dtype != np.float64:
        raise ValueError(f"out must be a Fortran-ordered float64 array of {n_rows} rows and >= {n_block} columns")
    return out[:, :n_block]


def info_scores(variance_sum: NDArray[np.float64], dosage_sum: NDArray[np.float64],
                n_called: NDArray[np.float64] | NDArray[np.int64]) -> NDArray[np.float64]:
    """IMPUTE's information score ``1 - sum var(g) / (2 n f (1 - f))`` from sums over the called samples.

    ``f = dosage_sum / 2n``; 1 where ``f`` is 0 or 1 (regenie's Geno.cpp
    ``compute_aaf_info``), NaN where no sample is called.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        freq = dosage_sum / (2.0 * n_called)
        result = 1.0 - variance_sum / (2.0 * n_called * freq * (1.0 - freq))
    result = np.where((freq <= 0.0) | (freq >= 1.0), 1.0, result)
    out: NDArray[np.float64] = np.where(n_called > 0, result, np.nan)
    return out


def _samples(header: BgenHeader, reader: object, sample: str | None) -> tuple[list[str], list[str]]:
    if sample is not None:
        local = localize(sample, flag="--sample")
        assert local is not None
        if not Path(local).is_file():
            raise EngineInputError(f"--sample: file not found: {sample}")
        fid, iid = read_sample_file(Path(local))
    elif header.has_ids:
        names = [s.decode() for s in reader.read_samples()]  # type: ignore[attr-defined]
        fid = [n.partition("_")[0] if "_" in n else n for n in names]
        iid = [n.partition("_")[2] if "_" in n else n for n in names]
    else:
        raise EngineInputError("--bgen: the file stores no sample IDs; give --sample FILE")
    if len(iid) != header.n_samples:
        raise EngineInputError(f"--sample: {len(iid)} samples but the BGEN file has {header.n_samples}")
    return fid, iid


def open_bgen_file(path: str, sample: str | None, *, ref_first: bool = False) -> BgenFile:
    """Open a BGEN v1.2 file (``path`` may be an fsspec URI) with its index and sample IDs."""
    from cbgen import bgen_file  # type: ignore[import-untyped,import-not-found,unused-ignore]

    local = localize(path, flag="--bgen")
    assert local is not None
    data = Path(local)
    if not data.is_file():
        raise EngineInputError(f"--bgen: file not found: {path}")
    header = read_bgen_header(data)
    if header.layout != 2:
        raise EngineInputError(f"--bgen: {path}: layout 1.{header.layout} is not supported (v1.2 needed)")
    reader = bgen_file(data)
    bgi = localize(f"{path}.bgi", flag="--bgen", required=False)
    if bgi is not None and Path(bgi).is_file():
        rows, offsets = _bgi_variants(Path(bgi), data)
    else:
        rows, offsets = _metafile_variants(data, reader)
    if len(rows) != header.n_variants:
        raise EngineInputError(f"--bgen: index lists {len(rows)} variants but the file has {header.n_variants}")
    fid, iid = _samples(header, reader, sample)
    bgen = BgenFile(path, data, header, _variant_info(rows, ref_first), offsets, fid, iid, ref_first=ref_first)
    bgen.label = f"bgen : [{path}] {header.summary()}"
    return bgen
