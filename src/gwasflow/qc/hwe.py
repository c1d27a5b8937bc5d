"""Hardy-Weinberg exact test (Wigginton, Cutler and Abecasis, Am J Hum Genet 2005;76:887-893), vectorized.

For ``n`` genotypes with ``n_rare`` copies of the rarer allele, the probability
of ``h`` heterozygotes under equilibrium is

    P(h) = n! / (hom_r! h! hom_c!) * 2^h * n_rare! (2n - n_rare)! / (2n)!

with ``hom_r = (n_rare - h) / 2`` and ``hom_c = n - h - hom_r`` (h has the
parity of ``n_rare``). The p-value is the sum of P(h) over every ``h`` no
more likely than the observed count, as plink2 ``--hwe`` computes it by
default (no mid-p adjustment): a variant with no observed genotype gets 1.

Log-probabilities come from ``gammaln``; two configurations whose
log-probabilities agree to 1e-8 are treated as ties and both counted,
where plink2 compares its products to about 1e-13.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import gammaln

__all__ = ["hwe_exact_p"]

_TIE_LOG_TOLERANCE = 1e-8
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
        stop = min(start + _CHUNK, het.shape[0])
        out[start:stop] = _chunk_p(het[start:stop], hom1[start:stop], hom2[start:stop])
    return out


def _chunk_p(het: NDArray[np.int64], hom1: NDArray[np.int64], hom2: NDArray[np.int64]) -> NDArray[np.float64]:
    """p-values for one chunk: every possible heterozygote count of each variant laid out on one padded grid."""
    homr = np.minimum(hom1, hom2)
    n = het + hom1 + hom2
    rare = 2 * homr + het
    n_states = rare // 2 + 1  # h = rare % 2, rare % 2 + 2, ..., rare
    width = int(n_states.max()) if n_states.size else 1
    steps = np.arange(width, dtype=np.int64)[None, :]
    h = (rare % 2)[:, None] + 2 * steps
    valid = steps < n_states[:, None]
    h = np.where(valid, h, 0)
    hom_r = (rare[:, None] - h) // 2
    hom_c = n[:, None] - h - hom_r
    hom_c = np.where(valid, hom_c, 0)
    log_p = h * np.log(2.0) - gammaln(h + 1.0) - gammaln(hom_r + 1.0) - gammaln(hom_c + 1.0)
    log_p = np.where(valid, log_p, -np.inf)
    observed = np.take_along_axis(log_p, ((het - rare % 2) // 2)[:, None], axis=1)
    top = log_p.max(axis=1, keepdims=True)
    weight = np.exp(log_p - top)
    tail = np.where(log_p <= observed + _TIE_LOG_TOLERANCE, weight, 0.0)
    p: NDArray[np.float64] = np.minimum(tail.sum(axis=1) / weight.sum(axis=1), 1.0)
    p[n == 0] = 1.0
    return p
