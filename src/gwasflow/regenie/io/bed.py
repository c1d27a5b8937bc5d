"""PLINK 1 ``.bed/.bim/.fam`` access for the built-in engine, through bed-reader.

Genotypes are read in blocks of variants with ``count_A1=True``: the value is
the number of copies of the .bim's 5th-column allele (A1), which regenie calls
ALLELE1 and tests. With ``--ref-first`` the 5th column is the reference
(ALLELE0) and the 6th is tested instead (regenie docs, ``--ref-first``).
Missing calls come back as NaN. The prefix may be an fsspec URI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gwasflow.errors import EngineInputError
from gwasflow.regenie.io.remote import localize

__all__ = ["BedFile", "VariantInfo", "chrom_code", "open_bed_file"]

_CHROM_ALIASES = {"X": 23, "Y": 24, "XY": 25, "PAR1": 25, "PAR2": 25, "MT": 26, "M": 26}


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

    def __init__(self, prefix: str, reader: object, variants: VariantInfo, fid: list[str], iid: list[str]):
        self.prefix = prefix
        self.label = f"bed : [{prefix}.bed]"
        self._reader = reader
        self.variants = variants
        self.fid = fid
        self.iid = iid
        self.num_threads = 1

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
        """Hard calls of A1 as int8 (0, 1, 2; -127 where missing), shape (n_samples, n_block), Fortran order."""
        index = (slice(None) if sample_index is None else sample_index, variant_index)
        block: NDArray[np.int8] = self._reader.read(  # type: ignore[attr-defined]
            index, dtype="int8", order="F", num_threads=self.num_threads
        )
        return block

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
    from bed_reader import open_bed

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
    try:
        reader = open_bed(paths["bed"], iid_count=len(iid), sid_count=n_variants, count_A1=not ref_first,
                          properties={"fid": fid, "iid": iid})
    except (ValueError, OSError) as exc:
        raise EngineInputError(f"{paths['bed']}: cannot read: {exc}") from None
    return BedFile(prefix, reader, variants, fid, iid)
