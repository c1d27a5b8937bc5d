"""Hardy-Weinberg exact test (Wigginton, Cutler and Abecasis, Am J Hum Genet 2005;76:887-893), vectorized.

For ``n`` genotypes with ``n_rare`` copies of the rarer allele, the probability
of ``h`` heterozygotes under equilibrium is

    P(h) = n! / (hom_r! h! hom_c!) * 2^h * n_rare! (2n - n_rare)! / (2n)!

with ``hom_r = (n_rare - h) / 2`` and ``hom_c = n - h - hom_r`` (h has the
parity of ``n_rare``). The p-value is the sum of P(h) over every ``h`` no
more likely than the observed count, as plink2 ``--hwe`` computes it by
default (no mid-p adjustment): a variant with no observed genotype gets 1.

Log-probabilities come from ``gammaln``; two configurations whose
log-probabilities agree to 1e-8 are treated as ties and both counted.

Only a band of heterozygote counts around the expected one is evaluated: P
is log-concave in h, so once both ends of the band are e^-800 below the
most likely count, everything outside adds less than double precision can
hold (an observed count outside the band gives p = 0). A variant whose band
ends are not that far down is evaluated over every count.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import gammaln

__all__ = ["hwe_exact_p"]

_TIE_LOG_TOLERANCE = 1e-8
_NEGLIGIBLE_LOG = 800.0
_BAND_SDS = 45.0
_CHUNK = 512


def hwe_exact_p(n_het: NDArray[np.int64], n_hom1: NDArray[np.int64], n_hom2: NDArray[np.int64],
                ) -> NDArray[np.float64]:
    """Exact HWE p-values, one per variant, from genotype counts (three arrays of equal length)."""
    het = np.asarray(n_het, dtype=np.int64)
    hom1 = np.asarray(n_hom1, dtype=np.int64)
    hom2 = np.asarray(n_hom2, dtype=np.int64)
    if not het.shape == hom1.shape == hom2.shape or het.ndim != 1:
        raise ValueError("hwe_exact_p: genotype counts must be 1-d arrays of one length")
    if (het < 0).any() or (hom1 < 0).any() or (hom2 < 0).any():
        raise ValueError("hwe_exact_p: genotype counts must be non-negative")
    out = np.ones(het.shape[0], dtype=np.float64)
    for start in range(0, het.shape[0], _CHUNK):
        part = slice(start, min(start + _CHUNK, het.shape[0]))
        p, settled = _chunk_p(het[part], hom1[part], hom2[part], band=True)
        if not settled.all():
            redo = np.flatnonzero(~settled)
            p[redo] = _chunk_p(het[part][redo], hom1[part][redo], hom2[part][redo], band=False)[0]
        out[part] = p
    return out


def _chunk_p(het: NDArray[np.int64], hom1: NDArray[np.int64], hom2: NDArray[np.int64], *, band: bool,
             ) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """p-values for one chunk, every evaluated heterozygote count of each variant on one padded grid; and
    whether each p is final (always, without ``band``)."""
    homr = np.minimum(hom1, hom2)
    n = het + hom1 + hom2
    rare = 2 * homr + het
    n_states = rare // 2 + 1  # state k: h = rare % 2 + 2k, k = 0 .. rare // 2
    lo, hi = np.zeros_like(n_states), n_states - 1
    if band:
        expected = rare * (2 * n - rare) / np.maximum(2 * n - 1, 1)
        centre = np.rint((expected - rare % 2) / 2).astype(np.int64)
        half = np.ceil(_BAND_SDS * np.sqrt(expected + 1) / 2).astype(np.int64) + 4
        lo, hi = np.clip(centre - half, 0, hi), np.clip(centre + half, 0, hi)
    width = int((hi - lo).max()) + 1 if n_states.size else 1
    k = lo[:, None] + np.arange(width, dtype=np.int64)[None, :]
    valid = k <= hi[:, None]
    h = np.where(valid, (rare % 2)[:, None] + 2 * k, 0)
    hom_r = (rare[:, None] - h) // 2
    hom_c = np.where(valid, n[:, None] - h - hom_r, 0)
    log_p = h * np.log(2.0) - gammaln(h + 1.0) - gammaln(hom_r + 1.0) - gammaln(hom_c + 1.0)
    log_p = np.where(valid, log_p, -np.inf)
    top = log_p.max(axis=1, keepdims=True)
    rows = np.arange(het.size)
    settled = ((lo == 0) | (log_p[rows, 0] < top[:, 0] - _NEGLIGIBLE_LOG)) & (
        (hi == n_states - 1) | (log_p[rows, hi - lo] < top[:, 0] - _NEGLIGIBLE_LOG))
    k_obs = (het - rare % 2) // 2
    inside = (k_obs >= lo) & (k_obs <= hi)
    observed = log_p[rows, np.clip(k_obs - lo, 0, width - 1)][:, None]
    weight = np.exp(log_p - top)
    tail = np.where(log_p <= observed + _TIE_LOG_TOLERANCE, weight, 0.0)
    p: NDArray[np.float64] = np.where(inside, np.minimum(tail.sum(axis=1) / weight.sum(axis=1), 1.0), 0.0)
    p[n == 0] = 1.0
    return p, settled
