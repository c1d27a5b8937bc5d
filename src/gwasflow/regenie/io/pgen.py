"""PLINK 2 ``.pgen/.pvar/.psam`` access through pgenlib (the PLINK 2 team's reader).

regenie tests the ALT allele of a .pgen: ALLELE0 is the .pvar's REF and
ALLELE1 its ALT, and the dosage read is the ALT dosage (pgenlib
``read_dosages_list`` with ``allele_idx=1``; -9 marks a missing call, returned
as NaN). ``.psam`` files with a ``#FID IID`` or ``#IID`` header are read (FID
defaults to IID), as are header-less .fam-style files; ``.pvar`` files need
their ``#CHROM`` header (or a header-less .bim-style layout).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gwasflow.errors import EngineInputError
from gwasflow.regenie.io.bed import VariantInfo, chrom_code
from gwasflow.regenie.io.remote import localize

__all__ = ["PgenFile", "open_pgen_file", "read_psam", "read_pvar"]

_MISSING_DOSAGE = -9.0


def read_psam(path: Path) -> tuple[list[str], list[str]]:
    """FIDs and IIDs of a .psam (or .fam-style) file, in file order."""
    fid: list[str] = []
    iid: list[str] = []
    fid_col, iid_col = 0, 1
    with path.open() as handle:
        for line_no, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if fields[0].startswith("#"):
                header = [fields[0][1:], *fields[1:]]
                if "IID" not in header:
                    raise EngineInputError(f"{path}: line {line_no}: header has no IID column")
                iid_col = header.index("IID")
                fid_col = header.index("FID") if "FID" in header else iid_col
                continue
            if len(fields) <= max(fid_col, iid_col):
                raise EngineInputError(f"{path}: line {line_no}: too few columns")
            fid.append(fields[fid_col])
            iid.append(fields[iid_col])
    return fid, iid


def _pvar_columns(fields: list[str], path: Path, line_no: int) -> tuple[int, int, int, int, int]:
    header = [fields[0][1:], *fields[1:]]
    try:
        return tuple(header.index(name) for name in ("CHROM", "POS", "ID", "REF", "ALT"))  # type: ignore[return-value]
    except ValueError:
        raise EngineInputError(f"{path}: line {line_no}: header needs CHROM POS ID REF ALT") from None


def read_pvar(path: Path) -> VariantInfo:
    """Variant metadata of a .pvar: ALLELE0 = REF, ALLELE1 = ALT."""
    chrom: list[int] = []
    pos: list[int] = []
    ids: list[str] = []
    ref: list[str] = []
    alt: list[str] = []
    cols = (0, 3, 1, 5, 4)  # header-less: .bim layout (chrom, id, cm, pos, alt, ref)
    with path.open() as handle:
        for line_no, line in enumerate(handle, start=1):
            if line.startswith("##") or not line.strip():
                continue
            fields = line.split()
            if fields[0].startswith("#"):
                cols = _pvar_columns(fields, path, line_no)
                continue
            c, p, i, r, a = cols
            try:
                chrom.append(chrom_code(fields[c]))
                pos.append(int(fields[p]))
                ids.append(fields[i])
                ref.append(fields[r])
                alt.append(fields[a])
            except (ValueError, IndexError):
                raise EngineInputError(f"{path}: line {line_no}: bad variant line") from None
    return VariantInfo(chrom=np.asarray(chrom, dtype=np.int64), pos=np.asarray(pos, dtype=np.int64),
                       ids=np.asarray(ids, dtype=np.str_), allele1=np.asarray(alt, dtype=np.str_),
                       allele0=np.asarray(ref, dtype=np.str_))


class PgenFile:
    """An open .pgen with its .pvar/.psam metadata; dosages are read per block."""

    has_info = False

    def __init__(self, prefix: str, path: Path, variants: VariantInfo, fid: list[str], iid: list[str]):
        self.label = f"pgen : [{prefix}.pgen]"
        self._path = path
        self.variants = variants
        self.fid = fid
        self.iid = iid
        self.num_threads = 1
        self._local = threading.local()

    @property
    def n_samples(self) -> int:
        return len(self.iid)

    @property
    def n_variants(self) -> int:
        return int(self.variants.chrom.shape[0])

    def _reader_for(self, sample_index: NDArray[np.intp] | None) -> object:
        """This thread's pgenlib reader for the sample subset (a reader is not safe for concurrent reads,
        so each thread has its own, and ``--threads`` blocks are read at once)."""
        import pgenlib  # type: ignore[import-untyped,import-not-found,unused-ignore]

        key = b"" if sample_index is None else np.asarray(sample_index, dtype=np.uint32).tobytes()
        readers: dict[bytes, object] = self._local.__dict__.setdefault("readers", {})
        if key not in readers:
            subset = None if sample_index is None else np.asarray(sample_index, dtype=np.uint32)
            if subset is not None and subset.size > 1 and not bool(np.all(np.diff(subset.astype(np.int64)) > 0)):
                raise ValueError("sample_index must be strictly increasing")
            for reader in readers.values():
                reader.close()  # type: ignore[attr-defined]
            readers.clear()
            readers[key] = pgenlib.PgenReader(bytes(self._path), raw_sample_ct=self.n_samples,
                                              variant_ct=self.n_variants, sample_subset=subset)
        return readers[key]

    def read_block(self, variant_index: NDArray[np.intp], sample_index: NDArray[np.intp] | None = None,
                   *, out: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
        """ALT dosages, shape (n_samples, n_block) (Fortran order), NaN where missing; decoded into the first
        columns of ``out`` (Fortran-ordered) when given.

        pgenlib writes variant after variant, which is the column-major layout
        of the block: it decodes straight into the block, with no copy.
        """
        n_rows = self.n_samples if sample_index is None else int(sample_index.shape[0])
        n_block = variant_index.shape[0]
        if out is None:
            block: NDArray[np.float64] = np.empty((n_rows, n_block), dtype=np.float64, order="F")
        elif out.shape[0] != n_rows or out.shape[1] < n_block or not out.flags.f_contiguous:
            raise ValueError(f"out must be a Fortran-ordered float64 array of {n_rows} rows and >= {n_block} columns")
        else:
            block = out[:, :n_block]
        reader = self._reader_for(sample_index)
        reader.read_dosages_list(np.asarray(variant_index, dtype=np.uint32), block.T)  # type: ignore[attr-defined]
        for lo in range(0, n_block, 64):  # a few variants at a time: no temporary of the block's size
            part = block[:, lo:lo + 64]
            part[part == _MISSING_DOSAGE] = np.nan
        return block

    def read_raw(self, variant_index: NDArray[np.intp], sample_index: NDArray[np.intp] | None = None,
                 ) -> NDArray[np.float64]:
        return self.read_block(variant_index, sample_index)

    def read_block_info(self, variant_index: NDArray[np.intp], sample_index: NDArray[np.intp] | None = None,
                        weights: NDArray[np.float64] | None = None, *, out: NDArray[np.float64] | None = None,
                        ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        dosage = self.read_block(variant_index, sample_index, out=out)
        return dosage, np.zeros((dosage.shape[1], 1 if weights is None else weights.shape[1]))


def open_pgen_file(prefix: str) -> PgenFile:
    """Open ``PREFIX.pgen`` with its .pvar and .psam; raise :class:`EngineInputError` if unusable."""
    paths: dict[str, Path] = {}
    for ext in ("pgen", "pvar", "psam"):
        local = localize(f"{prefix}.{ext}", flag="--pgen", required=False)
        path = Path(local or f"{prefix}.{ext}")
        if not path.is_file():
            raise EngineInputError(f"--pgen: {ext} file not found: {prefix}.{ext}")
        paths[ext] = path
    fid, iid = read_psam(paths["psam"])
    variants = read_pvar(paths["pvar"])
    source = PgenFile(prefix, paths["pgen"], variants, fid, iid)
    try:
        source._reader_for(None)
    except RuntimeError as exc:
        raise EngineInputError(f"{paths['pgen']}: cannot read: {exc}") from None
    return source
