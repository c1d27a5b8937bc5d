"""Covariate projections shared by step 1 and step 2.

regenie regresses covariates out of phenotypes and genotypes before any fit
(Mbatchou et al., Nat Genet 2021, Methods; regenie docs, "Overview"): with Q an
orthonormal basis of the covariate matrix X, a residual is ``A - Q (Q' A)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gwasflow.errors import EngineInputError

__all__ = ["PhenoGroup", "check_scales", "covariate_basis", "group_by_mask", "masked_residuals", "residualize"]


def covariate_basis(covariates: NDArray[np.float64]) -> NDArray[np.float64]:
    """Orthonormal basis Q (n_samples, rank) of the covariate columns, as regenie builds it.

    regenie (Pheno.cpp ``getBasis``) takes the eigenvectors V and eigenvalues
    D of X'X and uses ``Q = X V D^-1/2`` over the eigenvalues above 1e-15 times
    the largest (so exactly collinear covariates add nothing). The same
    basis here matters beyond the projection it spans: regenie's logistic
    fits stop on scores in this basis. Raises :class:`EngineInputError` if
    there are no more samples than basis columns.
    """
    n_samples = covariates.shape[0]
    values, vectors = np.linalg.eigh(covariates.T @ covariates)
    keep = values > values[-1] * 1e-15
    q = (covariates @ vectors[:, keep]) / np.sqrt(values[keep])
    if n_samples <= q.shape[1]:
        raise EngineInputError(f"only {n_samples} samples for {q.shape[1]} covariates (intercept included)")
    return np.ascontiguousarray(q)


def residualize(q: NDArray[np.float64], values: NDArray[np.float64]) -> NDArray[np.float64]:
    """``values`` minus their projection on the span of ``q``."""
    return values - q @ (q.T @ values)


def masked_residuals(q: NDArray[np.float64], phenotypes: NDArray[np.float64]) -> tuple[NDArray[np.float64],
                                                                                     NDArray[np.float64]]:
    """Residuals of phenotypes with missing values (NaN) as regenie forms them, and their scale.

    regenie (Pheno.cpp ``residualize_phenotypes``) sets a missing value to 0,
    removes the projection ``Q Q'y`` at the observed samples only and scales
    each trait to ``r'r = n_observed - n_covariates``; a trait's residual is 0
    where it is missing. Returns the scaled residuals and the scales (NaN
    where a trait has too few observed samples).
    """
    observed = ~np.isnan(phenotypes)
    y0 = np.where(observed, phenotypes, 0.0)
    resid = y0 - observed * (q @ (q.T @ y0))
    dof = observed.sum(axis=0).astype(np.float64) - q.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(dof > 0, np.sqrt(np.einsum("ij,ij->j", resid, resid) / np.maximum(dof, 1)), np.nan)
        scaled: NDArray[np.float64] = resid / scale
    return scaled, scale


def check_scales(scale: NDArray[np.float64], names: list[str]) -> None:
    """Raise, naming the trait, when a phenotype has too few samples or no variance left after the covariates."""
    for name, value in zip(names, scale.tolist(), strict=True):
        if np.isnan(value):
            raise EngineInputError(f"--phenoFile: phenotype '{name}' has too few observed samples for the "
                                   "covariates")
        if not value > 1e-8:
            raise EngineInputError(f"--phenoFile: phenotype '{name}' is constant after removing covariates")


@dataclass(frozen=True)
class PhenoGroup:
    """Phenotypes sharing one pattern of observed samples.

    ``rows`` indexes the analysed samples observed for every phenotype in
    ``columns``; ``None`` when all samples are observed (no copy needed).
    """

    rows: NDArray[np.intp] | None
    columns: list[int]

    def n_rows(self, n_samples: int) -> int:
        return n_samples if self.rows is None else int(self.rows.shape[0])


def group_by_mask(observed: NDArray[np.bool_]) -> list[PhenoGroup]:
    """Group phenotype columns by identical observed-sample masks, in column order."""
    groups: dict[bytes, list[int]] = {}
    for column in range(observed.shape[1]):
        groups.setdefault(np.packbits(observed[:, column]).tobytes(), []).append(column)
    result = []
    for columns in groups.values():
        mask = observed[:, columns[0]]
        rows = None if mask.all() else np.flatnonzero(mask).astype(np.intp)
        result.append(PhenoGroup(rows=rows, columns=columns))
    return result
