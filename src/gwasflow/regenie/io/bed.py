"""PLINK 1 ``.bed/.bim/.fam`` access for the built-in engine.

Genotypes are read in blocks of variants counting the .bim's 5th-column
allele (A1), which regenie calls ALLELE1 and tests. With ``--ref-first`` the
5th column is the reference (ALLELE0) and the 6th is tested instead (regenie
docs, ``--ref-first``). Missing calls come back as NaN (float64 dosages, read
through bed-reader for step 1) or negative (int8 hard calls, step 2's form,
decoded here by a table of the 256 bytes: no bed-reader, and so no scipy, to
import). The prefix may be an fsspec URI.
"""

from __future__ import annotations

import os
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gwasflow.errors import EngineInputError
from gwasflow.regenie.io.remote import localize

__all__ = ["MISSING_CALL", "BedFile", "VariantInfo", "byte_calls", "chrom_code", "open_bed_file"]

_CHROM_ALIASES = {"X": 23, "Y": 24, "XY": 25, "PAR1": 25, "PAR2": 25, "MT": 26, "M": 26}
_MAGIC = b"\x6c\x1b\x01"  # a .bed in variant-major order
MISSING_CALL = -127


def byte_calls(*, count_first: bool) -> NDArray[np.uint32]:
    """For each of the 256 bytes of a .bed, its 4 samples' calls as int8, packed in a uint32 (memory order).

    A sample's 2 bits (lowest first) are 00 for two copies of the first
    allele, 01 missing, 10 one copy, 11 none (PLINK 1.9 ".bed" format).
    """
    values = (2, MISSING_CALL, 1, 0) if count_first else (0, MISSING_CALL, 1, 2)
    table = np.array([[values[(byte >> (2 * k)) & 3] for k in range(4)] for byte in range(256)], dtype=np.int8)
    packed: NDArray[np.uint32] = table.view(np.uint32).ravel()
    return packed


def chrom_code(name: str) -> int:
    """Map a chromosome name to regenie's integer code (1-22, X=23, Y=24, XY=25, MT=26).

    Raises ``ValueError`` for a name regenie would not accept.
    """
    text = name.strip()
    if text.lower().startswith("chr"):
        text = text[3:]
    if text.upper() in _CHROM_ALIASES:
        return _CHROM_ALIASES[text.upper()]
    code = int(text)
    if code < 1:
        raise ValueError(name)
    return code


@dataclass(frozen=True)
class VariantInfo:
    """Per-variant metadata from the .bim, all arrays of length ``n_variants``."""

    chrom: NDArray[np.int64]
    pos: NDArray[np.int64]
    ids: NDArray[np.str_]
    allele1: NDArray[np.str_]
    allele0: NDArray[np.str_]


class BedFile:
    """An open .bed with its .bim/.fam metadata; genotypes are read per block."""

    has_info = False

    def __init__(self, prefix: str, path: Path, variants: VariantInfo, fid: list[str], iid: list[str], *,
                 count_first: bool = True):
        self.prefix = prefix
        self.label = f"bed : [{prefix}.bed]"
        self._path = path
        self._count_first = count_first
        self._lock = threading.Lock()
        self._opened: object | None = None  # bed-reader's reader, opened by the first read_block
        self.variants = variants
        self.fid = fid
        self.iid = iid
        self.num_threads = 1
        self.compiled = False  # True (step 2): read_raw decodes the bytes by a compiled loop, without the GIL
        self._n_bytes = (len(iid) + 3) // 4
        self._fd = os.open(path, os.O_RDONLY)  # read with pread: no shared file position between threads
        weakref.finalize(self, os.close, self._fd)
        self._calls = byte_calls(count_first=count_first)

    @property
    def _reader(self) -> object:
        with self._lock:
            if self._opened is None:
                from bed_reader import open_bed

                self._opened = open_bed(self._path, iid_count=self.n_samples, sid_count=self.n_variants,
                                        count_A1=self._count_first, properties={"fid": self.fid, "iid": self.iid})
            return self._opened

    @property
    def n_samples(self) -> int:
        return len(self.iid)

    @property
    def n_variants(self) -> int:
        return int(self.variants.chrom.shape[0])

    def read_block(self, variant_index: NDArray[np.intp], sample_index: NDArray[np.intp] | None = None,
                   ) -> NDArray[np.float64]:
        """Dosages of A1 for the chosen variants, shape (n_samples, n_block), NaN where missing."""
        index = (slice(None) if sample_index is None else sample_index, variant_index)
        block: NDArray[np.float64] = self._reader.read(  # type: ignore[attr-defined]
            index, dtype="float64", order="F", num_threads=self.num_threads
        )
        return block

    def read_raw(self, variant_index: NDArray[np.intp], sample_index: NDArray[np.intp] | None = None,
                 ) -> NDArray[np.int8]:
        """Hard calls of A1 as int8 (0, 1, 2; -127 where missing), shape (n_samples, n_block), Fortran order.

        Each variant's bytes become its calls through :func:`byte_calls` (one
        gather of 4 calls a byte); the (n_block, n_samples) rows of calls are
        the Fortran-ordered block, transposed.
        """
        packed = self._packed(np.asarray(variant_index, dtype=np.intp))
        if self.compiled:
            return self._compiled_calls(packed, sample_index)
        words: NDArray[np.uint32] = np.empty(packed.shape, dtype=np.uint32)  # each byte's 4 calls
        for lo in range(0, packed.shape[0], 16):  # np.take reads intp indices at twice the speed of the bytes:
            index = packed[lo:lo + 16].astype(np.intp)  # made for 16 variants at a time (8 bytes a byte: 3 MiB
            np.take(self._calls, index, out=words[lo:lo + 16])  # at 100,000 samples)
        calls = words.view(np.int8)  # (n_block, 4 * n_bytes)
        if sample_index is not None:
            calls = np.take(calls, sample_index, axis=1)
        elif calls.shape[1] != self.n_samples:
            calls = np.ascontiguousarray(calls[:, :self.n_samples])
        block: NDArray[np.int8] = calls.T
        return block

    def _compiled_calls(self, packed: NDArray[np.uint8], sample_index: NDArray[np.intp] | None) -> NDArray[np.int8]:
        """:meth:`read_raw`'s calls by one compiled loop (no GIL, no temporaries: the calls are written once)."""
        from gwasflow.regenie.kernels.calls import bed_calls_kernel

        everyone = sample_index is None
        rows = np.empty(0, dtype=np.intp) if sample_index is None else np.ascontiguousarray(sample_index, dtype=np.intp)
        block = np.empty((self.n_samples if everyone else rows.shape[0], packed.shape[0]), dtype=np.int8, order="F")
        bed_calls_kernel(packed, self._calls.view(np.int8).reshape(256, 4), everyone, rows, block)
        return block

    def _packed(self, variant_index: NDArray[np.intp]) -> NDArray[np.uint8]:
        """The variants' bytes, (n_block, bytes per variant): one read per run of consecutive variants (not a
        memory map, whose pages would count in the process's resident memory)."""
        packed = np.empty((variant_index.shape[0], self._n_bytes), dtype=np.uint8)
        breaks = np.flatnonzero(np.diff(variant_index) != 1) + 1
        for lo, hi in zip([0, *breaks.tolist()], [*breaks.tolist(), variant_index.shape[0]], strict=True):
            if hi > lo:
                start = len(_MAGIC) + int(variant_index[lo]) * self._n_bytes
                got = os.preadv(self._fd, [packed[lo:hi].data], start)
                if got != (hi - lo) * self._n_bytes:
                    raise EngineInputError(f"{self._path}: the file ends early (truncated?)")
        return packed

    def read_block_info(self, variant_index: NDArray[np.intp], sample_index: NDArray[np.intp] | None = None,
                        weights: NDArray[np.float64] | None = None, *, out: NDArray[np.float64] | None = None,
                        ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Dosages as :meth:`read_block`; hard calls have no uncertainty (variance sums 0)."""
        dosage = self.read_block(variant_index, sample_index)
        if out is not None:
            np.copyto(out[:, :dosage.shape[1]], dosage)
            dosage = out[:, :dosage.shape[1]]
        return dosage, np.zeros((dosage.shape[1], 1 if weights is None else weights.shape[1]))

    @staticmethod
    def info_score(variance_sums: NDArray[np.float64], dosage_sums: NDArray[np.float64],
                   n_called: NDArray[np.float64] | NDArray[np.int64]) -> NDArray[np.float64]:
        """Hard calls are certain: 1 where a sample is called (regenie prints no INFO for .bed input)."""
        return np.where(np.asarray(n_called) > 0, 1.0, np.nan)


def _read_fam(path: Path) -> tuple[list[str], list[str]]:
    fid: list[str] = []
    iid: list[str] = []
    with path.open() as handle:
        for line_no, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 2:
                raise EngineInputError(f"{path}: line {line_no}: expected at least FID and IID")
            fid.append(fields[0])
            iid.append(fields[1])
    return fid, iid


def _read_bim(path: Path) -> VariantInfo:
    chrom: list[int] = []
    pos: list[int] = []
    ids: list[str] = []
    a1: list[str] = []
    a0: list[str] = []
    with path.open() as handle:
        for line_no, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 6:
                raise EngineInputError(f"{path}: line {line_no}: expected 6 columns, found {len(fields)}")
            try:
                chrom.append(chrom_code(fields[0]))
                pos.append(int(fields[3]))
            except ValueError:
                raise EngineInputError(
                    f"{path}: line {line_no}: bad chromosome or position '{fields[0]} {fields[3]}'"
                ) from None
            ids.append(fields[1])
            a1.append(fields[4])
            a0.append(fields[5])
    return VariantInfo(
        chrom=np.asarray(chrom, dtype=np.int64),
        pos=np.asarray(pos, dtype=np.int64),
        ids=np.asarray(ids, dtype=np.str_),
        allele1=np.asarray(a1, dtype=np.str_),
        allele0=np.asarray(a0, dtype=np.str_),
    )


def open_bed_file(prefix: str, *, ref_first: bool = False) -> BedFile:
    """Open ``PREFIX.bed`` with its .bim and .fam; raise :class:`EngineInputError` if unusable."""
    local = {ext: localize(f"{prefix}.{ext}", flag="--bed", required=False) for ext in ("bed", "bim", "fam")}
    paths = {ext: Path(path or f"{prefix}.{ext}") for ext, path in local.items()}
    for ext, path in paths.items():
        if not path.is_file():
            raise EngineInputError(f"--bed: {ext} file not found: {prefix}.{ext}")
    fid, iid = _read_fam(paths["fam"])
    variants = _read_bim(paths["bim"])
    if ref_first:
        variants = VariantInfo(variants.chrom, variants.pos, variants.ids, allele1=variants.allele0,
                               allele0=variants.allele1)
    n_variants = int(variants.chrom.shape[0])
    expected = 3 + n_variants * ((len(iid) + 3) // 4)
    size = paths["bed"].stat().st_size
    if size != expected:
        raise EngineInputError(
            f"{paths['bed']}: size {size} bytes does not match {len(iid)} samples x {n_variants} variants"
        )
    with paths["bed"].open("rb") as handle:
        if handle.read(len(_MAGIC)) != _MAGIC:
            raise EngineInputError(f"{paths['bed']}: not a variant-major PLINK .bed (its first 3 bytes must be "
                                   "6c 1b 01)")
    return BedFile(prefix, paths["bed"], variants, fid, iid, count_first=not ref_first)
