"""Hard calls for the QC filters from a PLINK 1 ``.bed`` or a hard-call PLINK 2 ``.pgen``, with founder flags.

A .pgen is read through pgenlib's dosages, which equal the hard calls when the file stores no dosages;
a fractional dosage or a multi-allelic variant is refused (plink2 counts dosages in --maf/--mac and
tests multi-allelic variants allele by allele, which the built-in filters do not model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from gwasflow.errors import EngineInputError
from gwasflow.qc.model import GenotypeFormat
from gwasflow.regenie.io.bed import VariantInfo, open_bed_file

__all__ = ["CallSource", "open_call_source", "read_founders"]

MISSING_CALL = -127


class CallSource(Protocol):
    """Hard calls of ALLELE1 (0, 1, 2; negative = missing) per block of variants, as int8."""

    prefix: str
    variants: VariantInfo
    fid: list[str]
    iid: list[str]

    @property
    def n_samples(self) -> int: ...

    @property
    def n_variants(self) -> int: ...

    def read_raw(self, variant_index: NDArray[np.intp], sample_index: NDArray[np.intp] | None = None,
                 ) -> NDArray[np.int8]: ...


class PgenCalls:
    """A hard-call .pgen as a :class:`CallSource`."""

    def __init__(self, prefix: str):
        from gwasflow.regenie.io.pgen import open_pgen_file

        self.prefix = prefix
        self._pgen = open_pgen_file(prefix)
        self.variants = self._pgen.variants
        self.fid = self._pgen.fid
        self.iid = self._pgen.iid
        multi = np.flatnonzero(np.char.find(self.variants.allele1.astype(str), ",") >= 0)
        if multi.size:
            raise EngineInputError(f"{prefix}.pvar: variant {self.variants.ids[multi[0]]} is multi-allelic; "
                                   "the built-in QC handles biallelic variants only (use --engine plink2)")

    @property
    def n_samples(self) -> int:
        return self._pgen.n_samples

    @property
    def n_variants(self) -> int:
        return self._pgen.n_variants

    def read_raw(self, variant_index: NDArray[np.intp], sample_index: NDArray[np.intp] | None = None,
                 ) -> NDArray[np.int8]:
        dosage = self._pgen.read_block(variant_index, sample_index)
        missing = np.isnan(dosage)
        calls = np.where(missing, 0.0, dosage)
        if not np.array_equal(calls, np.rint(calls)):
            column = int(np.flatnonzero((calls != np.rint(calls)).any(axis=0))[0])
            raise EngineInputError(f"{self.prefix}.pgen: variant {self.variants.ids[variant_index[column]]} has "
                                   "dosages; the built-in QC reads hard calls only (use --engine plink2)")
        out = calls.astype(np.int8)
        out[missing] = MISSING_CALL
        return out


def open_call_source(prefix: str, kind: GenotypeFormat) -> tuple[CallSource, NDArray[np.bool_]]:
    """The genotypes and the founder flags (both parents ``0``, or no parent columns) of ``prefix``."""
    if kind is GenotypeFormat.PGEN:
        pgen = PgenCalls(prefix)
        return pgen, read_founders(Path(f"{prefix}.psam"))
    return open_bed_file(prefix), read_founders(Path(f"{prefix}.fam"))


def read_founders(path: Path) -> NDArray[np.bool_]:
    """Founder flags of a .fam or .psam: PAT and MAT both exactly ``0`` (plink2's rule); no such columns: all."""
    flags: list[bool] = []
    pat_col: int | None = 2
    mat_col: int | None = 3
    with path.open() as handle:
        for line_no, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                continue
            if fields[0].startswith("#"):
                header = [fields[0][1:], *fields[1:]]
                pat_col = header.index("PAT") if "PAT" in header else None
                mat_col = header.index("MAT") if "MAT" in header else None
                continue
            if max(pat_col or 0, mat_col or 0) >= len(fields):
                raise EngineInputError(f"{path}: line {line_no}: expected FID IID PAT MAT (SEX PHENO)")
            flags.append((pat_col is None or fields[pat_col] == "0") and (mat_col is None or fields[mat_col] == "0"))
    return np.asarray(flags, dtype=bool)
