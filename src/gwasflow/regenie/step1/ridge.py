"""Array-level ridge regressions of regenie step 1 (quantitative traits).

Mbatchou et al., Nat Genet 2021 (Methods, "Step 1") and the regenie docs
("Overview / Step 1: whole genome model"):

* level 0: in each block of standardized genotypes X (n_samples, n_block),
  ridge fits ``beta_j = (X'X + lambda_j I)^-1 X'y`` for a grid of shrinkage
  values; cross-validation gives out-of-fold predictions ``X beta_j`` that
  become the columns of W;
* level 1: the columns of W are scaled to unit mean square (divisor
  n - 1), then y is ridge-regressed on W with its own grid ``tau``; the value
  with the smallest cross-validated mean squared error is kept;
* LOCO: each sample's prediction uses the level 1 weights fitted without its
  fold, dropping W's columns from the left-out chromosome.

The shrinkage grids come from a heritability grid h2 (default 0.01, 0.25, 0.5,
0.75, 0.99): ``lambda = M (1 - h2) / h2`` with M the number of step 1
variants, and ``tau = C (1 - h2) / h2`` with C the number of columns of W.
Folds are consecutive runs of samples; leave-one-out CV (``--loocv``) uses
the closed form of the ridge hat matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import cho_factor, cho_solve
from scipy.linalg.blas import dsyrk

__all__ = [
    "H2_GRID",
    "Level1Fit",
    "fold_slices",
    "level0_kfold",
    "level0_loo",
    "level1_kfold",
    "level1_loo",
    "loco_sums",
    "scale_columns",
    "shrinkage_grid",
]

F64 = NDArray[np.float64]
H2_GRID: tuple[float, ...] = (0.01, 0.25, 0.5, 0.75, 0.99)


def shrinkage_grid(n_predictors: int, h2: tuple[float, ...] = H2_GRID) -> F64:
    """``n_predictors * (1 - h2) / h2`` for each heritability value."""
    grid = np.asarray(h2, dtype=np.float64)
    return n_predictors * (1.0 - grid) / grid


def fold_slices(n_samples: int, n_folds: int) -> list[slice]:
    """Consecutive folds of ``n_samples // n_folds`` samples, the last taking the remainder."""
    size = n_samples // n_folds
    if size < 1:
        raise ValueError(f"{n_samples} samples cannot be split into {n_folds} folds")
    bounds = [i * size for i in range(n_folds)] + [n_samples]
    return [slice(bounds[i], bounds[i + 1]) for i in range(n_folds)]


def scale_columns(w: F64) -> F64:
    """``w`` with each column centred and scaled to sample variance 1 (n - 1 divisor); constant columns are 0.

    regenie centres and scales the level 0 predictions over the whole sample
    before level 1 (Step1_Models.cpp ``ridge_level_0``: ``p_mean``, ``p_invsd``).
    """
    n = w.shape[0]
    mean = w.mean(axis=0)
    spread = np.einsum("ij,ij->j", w, w) - n * mean**2
    norm = np.sqrt(np.maximum(spread, 0.0) / (n - 1))
    result: F64 = (w - mean) / np.where(norm > 0, norm, np.inf)
    return result


def _ridge_solutions(gram: F64, xty: F64, shrink: F64) -> F64:
    """``(gram + s I)^-1 xty`` for each s: shape (n_shrink, n_features, n_targets).

    Only the upper triangle of ``gram`` is read. One Cholesky factorization
    per shrinkage value: for a few values this is several times faster than
    an eigendecomposition of ``gram``.
    """
    out = np.empty((shrink.shape[0], *xty.shape))
    diag = np.diag_indices_from(gram)
    base = gram[diag].copy()
    system = gram.copy()
    for i, value in enumerate(shrink.tolist()):
        system[diag] = base + value
        out[i] = cho_solve(cho_factor(system, lower=False, overwrite_a=False, check_finite=False), xty,
                           check_finite=False)
    return out


def _upper_gram(x: F64) -> F64:
    """Upper triangle of ``x'x`` (BLAS syrk, half the work of a full product); lower part is zero."""
    result: F64 = dsyrk(1.0, x, trans=1, lower=0)
    return result


def level0_kfold(x: F64, y: F64, folds: list[slice], shrink: F64) -> F64:
    """Out-of-fold level 0 predictions, shape (n_samples, n_shrink, n_phenotypes)."""
    fold_grams = [_upper_gram(x[fold]) for fold in folds]
    fold_xty = [x[fold].T @ y[fold] for fold in folds]
    gram = np.sum(fold_grams, axis=0)
    xty = np.sum(fold_xty, axis=0)
    out = np.empty((x.shape[0], shrink.shape[0], y.shape[1]))
    for fold, fold_gram, fold_y in zip(folds, fold_grams, fold_xty, strict=True):
        betas = _ridge_solutions(gram - fold_gram, xty - fold_y, shrink)
        out[fold] = np.matmul(x[fold], betas).transpose(1, 0, 2)
    return out


def _loo_parts(x: F64, shrink: F64) -> tuple[F64, F64, F64]:
    """Eigen pieces for leave-one-out ridge: XV, eigenvalues, hat diagonals (n_shrink, n)."""
    values, vectors = np.linalg.eigh(x.T @ x)
    xv = x @ vectors
    hat = np.einsum("ij,sj->si", xv * xv, 1.0 / (values[None, :] + shrink[:, None]))
    return xv, values, hat


def level0_loo(x: F64, y: F64, shrink: F64) -> F64:
    """Leave-one-out level 0 predictions, shape (n_samples, n_shrink, n_phenotypes).

    With ``H = X (X'X + s I)^-1 X'`` the left-out prediction is
    ``y_i - (y_i - (Hy)_i) / (1 - H_ii)``.
    """
    xv, values, hat = _loo_parts(x, shrink)
    rotated = xv.T @ y
    fitted = np.einsum("ij,sjp->sip", xv, rotated[None] / (values[None, :, None] + shrink[:, None, None]))
    loo = y[None] - (y[None] - fitted) / (1.0 - hat[:, :, None])
    return np.ascontiguousarray(loo.transpose(1, 0, 2))


@dataclass(frozen=True)
class Level1Fit:
    """Level 1 result for one phenotype: chosen shrinkage and per-sample weights."""

    best: int  # index in the tau grid
    mse: F64  # cross-validated mean squared error per tau
    r2: F64  # squared correlation of CV predictions with y, per tau
    predictions: F64  # (n_samples, n_chroms + 1): LOCO per chromosome, then the full prediction


def _cv_summary(y: F64, cv_pred: F64) -> tuple[F64, F64]:
    """MSE and squared correlation of CV predictions (n_samples, n_tau) with y (n_samples,)."""
    mse = np.mean((cv_pred - y[:, None]) ** 2, axis=0)
    yc = y - y.mean()
    pc = cv_pred - cv_pred.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = (yc @ pc) ** 2 / ((yc @ yc) * np.einsum("ij,ij->j", pc, pc))
    return mse, r2


def loco_sums(w: F64, alpha: F64, chrom_of_column: NDArray[np.int64], chroms: list[int]) -> F64:
    """Per-row predictions ``w[:, not chrom] @ alpha`` for each chrom, then the full one.

    ``alpha`` is (n_rows, n_columns) (row-specific weights) or (n_columns,).
    """
    contrib = w * alpha
    out = np.empty((w.shape[0], len(chroms) + 1))
    total = contrib.sum(axis=1)
    for i, chrom in enumerate(chroms):
        out[:, i] = total - contrib[:, chrom_of_column == chrom].sum(axis=1)
    out[:, -1] = total
    return out


def level1_kfold(w: F64, y: F64, folds: list[slice], shrink: F64, chrom_of_column: NDArray[np.int64],
                 chroms: list[int]) -> Level1Fit:
    """Level 1 ridge of ``y`` (n_samples,) on ``w`` (n_samples, n_columns) with K-fold CV."""
    gram = w.T @ w
    wty = w.T @ y
    cv_pred = np.empty((w.shape[0], shrink.shape[0]))
    alphas = []
    for fold in folds:
        wf = w[fold]
        sol = _ridge_solutions(gram - wf.T @ wf, (wty - wf.T @ y[fold])[:, None], shrink)[:, :, 0]
        cv_pred[fold] = wf @ sol.T
        alphas.append(sol)
    mse, r2 = _cv_summary(y, cv_pred)
    best = int(np.argmin(mse))
    preds = np.empty((w.shape[0], len(chroms) + 1))
    for fold, sol in zip(folds, alphas, strict=True):
        preds[fold] = loco_sums(w[fold], sol[best], chrom_of_column, chroms)
    return Level1Fit(best=best, mse=mse, r2=r2, predictions=preds)


def level1_loo(w: F64, y: F64, shrink: F64, chrom_of_column: NDArray[np.int64],
               chroms: list[int]) -> Level1Fit:
    """Level 1 ridge with leave-one-out CV; each sample's weights exclude that sample.

    Sherman-Morrison: ``alpha_(-i) = alpha - A^-1 w_i r_i / (1 - h_ii)`` with
    ``A = W'W + tau I`` and ``r_i`` the in-sample residual.
    """
    values, vectors = np.linalg.eigh(w.T @ w)
    wv = w @ vectors
    cv_pred = np.empty((w.shape[0], shrink.shape[0]))
    for s, tau in enumerate(shrink.tolist()):
        inv = 1.0 / (values + tau)
        hat = (wv * wv) @ inv
        fitted = wv @ (inv * (wv.T @ y))
        cv_pred[:, s] = y - (y - fitted) / (1.0 - hat)
    mse, r2 = _cv_summary(y, cv_pred)
    best = int(np.argmin(mse))
    inv = 1.0 / (values + shrink[best])
    alpha = vectors @ (inv * (wv.T @ y))
    hat = (wv * wv) @ inv
    step = ((y - w @ alpha) / (1.0 - hat))[:, None] * ((wv * inv) @ vectors.T)  # rows: A^-1 w_i r_i/(1-h_ii)
    preds = loco_sums(w, alpha[None, :] - step, chrom_of_column, chroms)
    return Level1Fit(best=best, mse=mse, r2=r2, predictions=preds)
