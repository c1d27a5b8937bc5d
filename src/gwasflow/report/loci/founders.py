"""Which samples of a genotype file are founders: the samples plink2 computes LD over.

plink2 takes a sample as a founder when its father and mother IDs are both ``0`` (its .psam/.fam
loader); LD-based commands, ``--clump`` among them, use founders only. A .fam has the parents in
columns 3 and 4; a .psam in its ``PAT`` and ``MAT`` columns (no such columns: every sample is a
founder); a .bgen's samples carry no parents, so all are founders. The flags come from the QC
stage's reader (:func:`gwasflow.qc.source.read_founders`), which applies the same rule.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gwasflow.qc.source import read_founders
from gwasflow.regenie.io.remote import localize
from gwasflow.spec.genotypes import GenoFormat

__all__ = ["founder_index"]


def founder_index(fmt: GenoFormat, source: str) -> NDArray[np.intp] | None:
    """Indices (file order) of the founders of a .bed prefix or .pgen prefix; None when all samples are founders."""
    if fmt is GenoFormat.BGEN:
        return None
    suffix = "fam" if fmt is GenoFormat.BED else "psam"
    local = localize(f"{source}.{suffix}", flag=f"{suffix} file")
    founders = read_founders(Path(local or f"{source}.{suffix}"))
    if founders.all():
        return None
    return np.flatnonzero(founders).astype(np.intp)
