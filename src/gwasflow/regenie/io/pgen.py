"""PLINK 2 ``.pgen/.pvar/.psam`` access through pgenlib (the PLINK 2 team's reader).

regenie tests the ALT allele of a .pgen: ALLELE0 is the .pvar's REF and
ALLELE1 its ALT, and the dosage read is the ALT dosage (pgenlib
``read_dosages_list`` with ``allele_idx=1``; -9 marks a missing call, returned
as NaN). When the file stores dosages (its header says so, as pgenlib's
``DosagePresent`` reads it), regenie v4.1.2 prints an INFO column: MaCH's Rsq,
``(sum g^2 / n - (2f)^2) / (2f (1 - f))`` over each trait's called samples
(Geno.cpp ``compute_aaf_info``); so does this reader's :meth:`PgenFile.info_score`.
``.psam`` files with a ``#FID IID`` or ``#IID`` header are read (FID
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

__all__ = ["PgenFile", "open_pgen_file", "pgen_has_dosages", "read_psam", "read_pvar"]

_MISSING_DOSAGE = -9.0
_PART_BYTES = 1 << 20  # of the block decoded and finished at a time (in the cache)
_VARIANT_BLOCK = 1 << 16  # a .pgen header lists its variants' record types in blocks of 2^16


def pgen_has_dosages(path: Path) -> bool:
    """Whether the .pgen at ``path`` stores dosages (PLINK 2's .pgen layout, "Header" section).

    Storage modes 0x02 and 0x03 are fixed-width dosage files, 0x01 hard calls.
    Mode 0x10 lists a record type per variant after a 12-byte header and one
    8-byte offset per block of 2^16 variants; byte 11's low 4 bits are 0-3
    when the types take 4 bits (no dosage bit), else the types take a byte
    and are followed, per block, by the record lengths ((low bits) - 3 bytes
    each), the allele counts ((bits 4-5) bytes each) and, when bits 6-7 are
    3, a bit per variant of provisional-reference flags. A variant carries
    dosages when its type has bit 5 or 6 set.
    """
    with path.open("rb") as handle:
        head = handle.read(12)
        if len(head) < 3 or head[:2] != b"\x6c\x1b":
            raise EngineInputError(f"{path}: not a .pgen file (bad magic number)")
        if head[2] in (0x02, 0x03):
            return True
        if head[2] != 0x10 or len(head) < 12 or head[11] & 15 < 4:
            return False
        n_variants = int.from_bytes(head[3:7], "little")
        n_blocks = -(-n_variants // _VARIANT_BLOCK)
        widths = 1 + (head[11] & 15) - 3 + ((head[11] >> 4) & 3)
        flags = (head[11] >> 6) == 3
        position = 12 + 8 * n_blocks
        for block in range(n_blocks):
            count = min(_VARIANT_BLOCK, n_variants - block * _VARIANT_BLOCK)
            handle.seek(position)
            types = np.frombuffer(handle.read(count), dtype=np.uint8)
            if types.size < count:
                raise EngineInputError(f"{path}: the header ends early (truncated file?)")
            if (types & 0x60).any():
                return True
            position += count * widths + (-(-count // 8) if flags else 0)
    return False


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
    """An open .pgen with its .pvar/.psam metadata; dosages are read per block.

    ``has_info`` when the file stores dosages: :meth:`read_block_info` then sums
    the squares of the called dosages (MaCH's Rsq needs them), else zeros.
    """

    def __init__(self, prefix: str, path: Path, variants: VariantInfo, fid: list[str], iid: list[str], *,
                 has_info: bool = False):
        self.has_info = has_info
        self.label = f"pgen : [{prefix}.pgen]"
        self._path = path
        self.variants = variants
        self.fid = fid
        self.iid = iid
        self.num_threads = 1
        self.compiled = False  # missing calls and squares by numpy; True: by a compiled loop (see _decode)
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
        block = self._block_for(variant_index, sample_index, out)
        self._decode(variant_index, sample_index, block)
        return block

    def _block_for(self, variant_index: NDArray[np.intp], sample_index: NDArray[np.intp] | None,
                   out: NDArray[np.float64] | None) -> NDArray[np.float64]:
        n_rows = self.n_samples if sample_index is None else int(sample_index.shape[0])
        n_block = variant_index.shape[0]
        if out is None:
            return np.empty((n_rows, n_block), dtype=np.float64, order="F")
        if out.shape[0] != n_rows or out.shape[1] < n_block or not out.flags.f_contiguous:
            raise ValueError(f"out must be a Fortran-ordered float64 array of {n_rows} rows and >= {n_block} columns")
        return out[:, :n_block]

    def _decode(self, variant_index: NDArray[np.intp], sample_index: NDArray[np.intp] | None,
                block: NDArray[np.float64], weights: NDArray[np.float64] | None = None,
                squares: NDArray[np.float64] | None = None) -> None:
        """Decode into ``block``, missing calls NaN; with ``weights``, ``squares[j, p]`` gets the sum of the
        squared called dosages of variant j times ``weights[:, p]``.

        A few variants at a time (about 1 MiB of the block): each part is decoded, its missing calls set and
        its squares summed while it is still in the cache, in this thread's reused buffers (a new temporary
        per part cost page faults, which the kernel serializes between threads). pgenlib and every numpy
        call here run without the GIL, so ``--threads`` blocks decode at once; but the squares' product is
        BLAS's, whose calls from several threads ran one at a time, so with ``compiled`` (step 2 sets it
        when numba is loaded anyway) the missing calls and the squares are done by one compiled loop
        instead (:func:`gwasflow.regenie.kernels.products.missing_squares_kernel`).
        """
        reader = self._reader_for(sample_index)
        indices = np.asarray(variant_index, dtype=np.uint32)
        n_rows = block.shape[0]
        width = max(1, _PART_BYTES // (8 * max(n_rows, 1)))
        missing_buffer, square_buffer = self._part_buffers(n_rows, width)
        for lo in range(0, block.shape[1], width):
            hi = min(lo + width, block.shape[1])
            part = block[:, lo:hi]
            reader.read_dosages_list(indices[lo:hi], part.T)  # type: ignore[attr-defined]
            if self.compiled and weights is not None and squares is not None:
                from gwasflow.regenie.kernels.products import missing_squares_kernel

                missing_squares_kernel(part, _MISSING_DOSAGE, weights, square_buffer[:, 0], squares[lo:hi])
                continue
            missing = missing_buffer[:, :hi - lo]
            np.equal(part, _MISSING_DOSAGE, out=missing)
            np.copyto(part, np.nan, where=missing)
            if weights is not None and squares is not None:
                square = square_buffer[:, :hi - lo]
                np.multiply(part, part, out=square)
                np.copyto(square, 0.0, where=missing)
                np.matmul(square.T, weights, out=squares[lo:hi])

    def _part_buffers(self, n_rows: int, width: int) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
        """This thread's reused (n_rows, width) buffers of :meth:`_decode`: a part's missing calls, its squares."""
        buffers: tuple[NDArray[np.bool_], NDArray[np.float64]] | None = getattr(self._local, "parts", None)
        if buffers is None or buffers[0].shape != (n_rows, width):
            buffers = (np.empty((n_rows, width), dtype=np.bool_, order="F"),
                       np.empty((n_rows, width), dtype=np.float64, order="F"))
            self._local.parts = buffers
        return buffers

    def read_raw(self, variant_index: NDArray[np.intp], sample_index: NDArray[np.intp] | None = None,
                 ) -> NDArray[np.float64]:
        return self.read_block(variant_index, sample_index)

    def read_block_info(self, variant_index: NDArray[np.intp], sample_index: NDArray[np.intp] | None = None,
                        weights: NDArray[np.float64] | None = None, *, out: NDArray[np.float64] | None = None,
                        ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Dosages as :meth:`read_block`; with dosages in the file, the sums of squares of the called dosages
        per column of ``weights`` (default one of ones), which :meth:`info_score` reads; else zeros."""
        if not self.has_info:
            dosage = self.read_block(variant_index, sample_index, out=out)
            return dosage, np.zeros((dosage.shape[1], 1 if weights is None else weights.shape[1]))
        block = self._block_for(variant_index, sample_index, out)
        weights = np.ones((block.shape[0], 1)) if weights is None else np.asfortranarray(weights, dtype=np.float64)
        squares = np.zeros((variant_index.shape[0], weights.shape[1]))
        self._decode(variant_index, sample_index, block, weights, squares)
        return block, squares

    @staticmethod
    def info_score(square_sums: NDArray[np.float64], dosage_sums: NDArray[np.float64],
                   n_called: NDArray[np.float64] | NDArray[np.int64]) -> NDArray[np.float64]:
        """MaCH's Rsq ``(sum g^2 / n - (2f)^2) / (2f (1 - f))``, ``f = sum g / 2n``, as regenie v4.1.2 prints
        it for PGEN dosages (Geno.cpp ``compute_aaf_info``): 1 where f is 0 or 1, NaN with no call."""
        with np.errstate(invalid="ignore", divide="ignore"):
            freq = dosage_sums / (2.0 * n_called)
            result = (square_sums / n_called - 4.0 * freq * freq) / (2.0 * freq * (1.0 - freq))
        result = np.where((freq == 0.0) | (freq == 1.0), 1.0, result)
        scores: NDArray[np.float64] = np.where(n_called > 0, result, np.nan)
        return scores


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
    source = PgenFile(prefix, paths["pgen"], variants, fid, iid, has_info=pgen_has_dosages(paths["pgen"]))
    try:
        source._reader_for(None)
    except RuntimeError as exc:
        raise EngineInputError(f"{paths['pgen']}: cannot read: {exc}") from None
    return source
