"""Pairwise r2 between variants, as ``plink2 --clump`` computes it by default.

plink2 (2.00a4 on; ``--clump`` is not in 2.00a3.5) uses *phased* r2 unless
``--clump-unphased`` is given, and dosages when the file has them. On
unphased genotypes the haplotype frequencies are the maximum-likelihood
estimate from the two-locus genotype table (Hill 1974, "Estimation of
linkage disequilibrium in randomly mating populations"): every sample whose
phase is known contributes its haplotypes, the double heterozygotes are split
between the two possible phases by the root of a cubic equation that
maximizes the likelihood. For dosages ``d`` in [0, 2] (hard calls are the
integer case) per sample, over the samples observed at both variants:

* known 1-1 haplotype mass: ``max(0, d0 + d1 - 2)``;
* unknown double-heterozygote mass: ``min(h0, h1)`` with ``h = min(d, 2 - d)``.

Each variant is counted along its minor allele, as plink2 does (it matters for
fractional dosages only). Samples are those given (plink2 uses the founders
of the file: every sample when the .fam/.psam has no parents). chrX is treated
like an autosome (plink2 halves male weights there).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["orient_minor", "phased_r2", "r2_with"]

_MONOMORPHIC = 2.0**-47  # plink2's "frequency too small" cut
_ROOT_SLACK = 2.0**-32  # how far outside [0, K] a cubic root may fall and still count


def orient_minor(dosage: NDArray[np.float64]) -> NDArray[np.float64]:
    """Flip each column (variant) of ``dosage`` (n_samples, n_variants; NaN = missing) to count its minor allele."""
    observed = ~np.isnan(dosage)
    total = np.where(observed, dosage, 0.0).sum(axis=0)
    flip = total > observed.sum(axis=0)  # the allele counted has frequency > 1/2
    out = dosage.copy()
    out[:, flip] = 2.0 - out[:, flip]
    return out


def r2_with(index: NDArray[np.float64], others: NDArray[np.float64]) -> NDArray[np.float64]:
    """Phased r2 between one variant (n_samples,) and each column of ``others`` (n_samples, n_variants).

    Both must already be oriented (:func:`orient_minor`). NaN where r2 is undefined
    (no sample observed at both, or one variant monomorphic among them).
    """
    n_variants = others.shape[1]
    out = np.full(n_variants, np.nan)
    seen0 = ~np.isnan(index)
    d0 = np.where(seen0, index, 0.0)
    h0 = np.minimum(d0, 2.0 - d0)
    for j in range(n_variants):
        column = others[:, j]
        both = seen0 & ~np.isnan(column)
        n_obs = int(both.sum())
        if n_obs == 0:
            continue
        a = d0[both]
        b = column[both]
        known = float(np.maximum(0.0, a + b - 2.0).sum())
        hethet = float(np.minimum(h0[both], np.minimum(b, 2.0 - b)).sum())
        out[j] = phased_r2(float(a.sum()), float(b.sum()), known, hethet, n_obs)
    return out


def phased_r2(sum0: float, sum1: float, known: float, hethet: float, n_obs: int) -> float:
    """r2 from allele sums, the known 1-1 haplotype mass and the double-heterozygote mass over ``n_obs`` samples.

    NaN when either variant is monomorphic. The haplotype frequencies (f11 f12 f21 f22 over
    ``2 * n_obs`` haplotypes, "1" the counted allele) are the known ones plus the share ``x`` of
    the double heterozygotes given the 1-1/2-2 phase, ``x`` the likelihood-maximizing root.
    """
    scale = 0.5 / n_obs
    f22 = max(1.0 - (sum0 + sum1 - known) * scale, 0.0)  # not-counted at both
    f21 = (sum1 - known - hethet) * scale  # only the second counted
    f12 = (sum0 - known - hethet) * scale  # only the first counted
    f11 = known * scale
    half = hethet * scale
    p0 = f22 + f21 + half  # first variant: frequency of the other allele
    p1 = f22 + f12 + half
    if min(p0, 1.0 - p0, p1, 1.0 - p1) < _MONOMORPHIC:
        return math.nan
    x = _best_share(f22, f21, f12, f11, half) if half else 0.0
    d = f22 + x - p0 * p1
    if abs(d) < 2.0**-44:
        d = 0.0
    return d * d / (p0 * p1 * (1.0 - p0) * (1.0 - p1))


def _best_share(f11: float, f12: float, f21: float, f22: float, half: float) -> float:
    """The share ``x`` in [0, half] of double heterozygotes on the 11/22 phase that maximizes the likelihood.

    Stationary points solve ``(f11 + x)(f22 + x)(K - x) = x (f12 + K - x)(f21 + K - x)`` with ``K = half``.
    """
    if f11 * f22 == 0.0 and f12 * f21 == 0.0:
        return _degenerate_share(f11, f12, f21, f22, half)
    # expanded: 2x^3 + (f11 + f22 - f12 - f21 - 3K) x^2 + (f11 f22 + f12 f21 + K (f12 + f21 - f11 - f22 + K)) x
    #           - K f11 f22 = 0
    coeffs = [2.0, f11 + f22 - f12 - f21 - 3.0 * half,
              f11 * f22 + f12 * f21 + half * (f12 + f21 - f11 - f22 + half), -half * f11 * f22]
    roots = np.roots(coeffs)
    real = sorted(float(r.real) for r in roots if abs(r.imag) <= 1e-9 * max(1.0, abs(r.real)))
    candidates = [min(max(r, 0.0), half) for r in real if -_ROOT_SLACK <= r <= half + _ROOT_SLACK]
    if not candidates:
        candidates = [min(max(real[0], 0.0), half)] if real else [0.0]
    return max(candidates, key=lambda x: _log_likelihood(f11, f12, f21, f22, half, x))


def _degenerate_share(f11: float, f12: float, f21: float, f22: float, half: float) -> float:
    """One of f11/f22 and one of f12/f21 is zero: roots 0, K and (K + xy - xx) / 2 when inside (0, K)."""
    same, cross = f11 + f22, f12 + f21
    candidates = [0.0, half]
    if same + 2.0**-35 < half + cross and cross + 2.0**-35 < half + same:
        candidates.insert(1, (half + cross - same) * 0.5)
    return max(candidates, key=lambda x: _log_likelihood(f11, f12, f21, f22, half, x))


def _log_likelihood(f11: float, f12: float, f21: float, f22: float, half: float, x: float) -> float:
    """Log-likelihood (per haplotype, up to a constant) of the phase split ``x``, as plink2 scores it.

    plink2 (``EmPhaseUnscaledLnlike``) counts the double-heterozygote term twice when the 11
    haplotype has some frequency; the score is reproduced as is, since it decides between roots.
    """
    a11, a22 = f11 + x, f22 + x
    a12, a21 = f12 + half - x, f21 + half - x
    total = 0.0
    cross = a11 * a22 + a12 * a21
    if cross > 0.0:
        total = half * math.log(cross)
    if a11 > 0.0:
        total = 2.0 * total + f11 * math.log(a11)
    for freq, adjusted in ((f12, a12), (f21, a21), (f22, a22)):
        if adjusted > 0.0:
            total += freq * math.log(adjusted)
    return total
