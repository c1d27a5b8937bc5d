"""Which samples of a genotype file are founders: the samples plink2 computes LD over.

plink2 takes a sample as a founder when its father and mother IDs are both ``0`` (its .psam/.fam
loader); LD-based commands, ``--clump`` among them, use founders only. A .fam has the parents in
columns 3 and 4; a .psam in its ``PAT`` and ``MAT`` columns (no such columns: every sample is a
founder); a .bgen's samples carry no parents, so all are founders.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gwasflow.regenie.io.remote import localize
from gwasflow.spec.genotypes import GenoFormat

__all__ = ["founder_index"]


def founder_index(fmt: GenoFormat, source: str) -> NDArray[np.intp] | None:
    """Indices (file order) of the founders of a .bed prefix or .pgen prefix; None when all samples are founders."""
    if fmt is GenoFormat.BGEN:
        return None
    suffix = "fam" if fmt is GenoFormat.BED else "psam"
    local = localize(f"{source}.{suffix}", flag=f"{suffix} file")
    founders = _founders(Path(local or f"{source}.{suffix}"))
    if founders.all():
        return None
    return np.flatnonzero(founders).astype(np.intp)


def _founders(path: Path) -> NDArray[np.bool_]:
    """Per sample line: both parents ``0`` (or the file has no parent columns)."""
    pat, mat = 2, 3  # .fam layout, and a header-less .psam
    flags: list[bool] = []
    with path.open() as handle:
        for line in handle:
            fields = line.split()
            if not fields:
                continue
            if fields[0].startswith("#"):
                header = [fields[0][1:], *fields[1:]]
                if "PAT" not in header or "MAT" not in header:
                    pat = mat = -1
                else:
                    pat, mat = header.index("PAT"), header.index("MAT")
                continue
            flags.append(pat < 0 or (len(fields) > max(pat, mat) and fields[pat] == "0" and fields[mat] == "0"))
    return np.array(flags, dtype=bool)
