"""Firth penalized logistic regression: the result type of the exact (``--firth``) and approximate tests.

Firth, "Bias reduction of maximum likelihood estimates", Biometrika 80, 27-38
(1993): the log-likelihood gains the Jeffreys-prior penalty,
``l*(b) = l(b) + 1/2 log |I(b)|`` with ``I(b) = Z'W(b)Z``, ``W = diag(p(1-p))``.
Its score is ``U*(b) = Z'(y - p + h (1/2 - p))`` with ``h`` the diagonal of the
hat matrix ``W^1/2 Z (Z'WZ)^-1 Z' W^1/2`` (Heinze and Schemper, Stat Med 2002,
as R's ``logistf``, which regenie's FAQ says it follows).

regenie docs ("Overview / Firth logistic regression"): the p-value is from the
penalized likelihood ratio test ``LRT = 2 (l*(b_hat) - l*(b_0))``, where the
null ``b_0`` keeps the variant's column in the penalty with its effect fixed
at 0 (the profile penalized likelihood); the SE is from the Hessian of the
*unpenalized* log-likelihood at ``b_hat``, ``sqrt([(Z'WZ)^-1]_jj)``.

Exact Firth (:mod:`gwasflow.regenie.binary.firth_exact`, a chunk of variants at a
time) refits ``[X g]`` for each variant, with the LOCO prediction as offset;
the approximation (``--approx``) is :mod:`gwasflow.regenie.binary.firth_approx`.
Both follow regenie v4.1.2's own iterations and stopping rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["FirthTests"]

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class FirthTests:
    """Firth test results, approximate or exact, for a set of variants (arrays of shape (n_variants,))."""

    beta: F64
    se: F64
    lrt: F64
    ok: NDArray[np.bool_]
