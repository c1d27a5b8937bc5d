"""The stages of step 1 shared by the single job and the split jobs (``--split-l0``/``--run-l0``/``--run-l1``).

``prepare`` reads the inputs and fits what level 0 needs (the trait
residuals, and for binary traits the null models); ``fit_level1`` fits one
trait's level 1 model on its level 0 predictions. Quantitative and binary
traits fill these in :mod:`.quantitative` and :mod:`.binary`.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from gwasflow.regenie.options import Options
from gwasflow.regenie.runlog import RunLog
from gwasflow.regenie.step1.prepared import Prepared
from gwasflow.regenie.step1.ridge import Level1Fit

__all__ = ["Prepared", "fit_level1", "prepare"]

F64 = NDArray[np.float64]


def prepare(opts: Options, log: RunLog) -> Prepared:
    """Open the genotypes, align the tables and fit what level 0 needs, for the trait kind of ``opts``."""
    if opts.bt:
        from gwasflow.regenie.step1.binary import prepare_bt

        return prepare_bt(opts, log)
    from gwasflow.regenie.step1.quantitative import prepare_qt

    return prepare_qt(opts, log)


def fit_level1(prep: Prepared, trait: int, w: F64, chrom_of_column: NDArray[np.int64], log: RunLog) -> Level1Fit:
    """Level 1 of trait ``trait`` (0-based) on its scaled level 0 predictions ``w`` (n_samples, n_columns)."""
    if prep.eta0 is not None:
        from gwasflow.regenie.step1.binary import fit_level1_bt

        return fit_level1_bt(prep, trait, w, chrom_of_column, log)
    from gwasflow.regenie.step1.quantitative import fit_level1_qt

    return fit_level1_qt(prep, trait, w, chrom_of_column, log)
