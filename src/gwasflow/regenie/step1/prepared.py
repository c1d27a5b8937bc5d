"""What one run of step 1 reads at level 0 and level 1, once prepared (:func:`.stages.prepare`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gwasflow.regenie.io.genotypes import GenotypeSource
from gwasflow.regenie.options import Options
from gwasflow.regenie.samples import Analysis

__all__ = ["Prepared"]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Prepared:
    """Everything level 0 and level 1 read, for one run of step 1."""

    source: GenotypeSource
    analysis: Analysis
    opts: Options  # as given, or with --loocv forced (binary traits below 5,000 samples)
    q: F64  # orthonormal covariate basis
    y: F64  # level 0 targets (n_samples, n_phenotypes)
    observed: NDArray[np.bool_]  # samples each trait's level 0 predictions are scaled over (and level 1 fits)
    eta0: F64 | None  # binary traits: the null linear predictors
