"""Phased r2 (maximum-likelihood haplotype frequencies from unphased genotypes)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize

from gwasflow.report.loci.ld import orient_minor, phased_r2, r2_with


def _brute_force_r2(g0: np.ndarray, g1: np.ndarray) -> float:
    """r2 from haplotype frequencies found by maximizing the genotype likelihood over a fine grid."""
    n = g0.size
    table = np.zeros((3, 3))
    for a, b in zip(g0.astype(int), g1.astype(int), strict=True):
        table[a, b] += 1
    p = (g0.sum()) / (2 * n)
    q = (g1.sum()) / (2 * n)

    def log_likelihood(f11: float) -> float:
        h = {"11": f11, "10": p - f11, "01": q - f11, "00": 1 - p - q + f11}
        if min(h.values()) <= 0:
            return -math.inf
        ll = 0.0
        for a in range(3):
            for b in range(3):
                if table[a, b]:
                    both_het = 2 * (h["11"] * h["00"] + h["10"] * h["01"])
                    ll += table[a, b] * math.log(both_het if a == b == 1 else _hom_prob(a, b, h))
        return ll

    lo, hi = max(0.0, p + q - 1), min(p, q)
    grid = np.linspace(lo, hi, 2001)
    step = grid[1] - grid[0]
    coarse = float(grid[int(np.argmax([log_likelihood(float(f)) for f in grid]))])
    bounds = (max(lo, coarse - step), min(hi, coarse + step))
    fine = optimize.minimize_scalar(lambda f: -log_likelihood(f), bounds=bounds, method="bounded",
                                    options={"xatol": 1e-13})
    best = float(fine.x)
    d = best - p * q
    return d * d / (p * (1 - p) * q * (1 - q))


def _hom_prob(a: int, b: int, h: dict[str, float]) -> float:
    """P(genotype pair) when at most one variant is heterozygous: the phase is known."""
    first = {0: ("0", "0"), 2: ("1", "1")}
    if a != 1:
        x0, x1 = first[a]
        if b == 1:
            return 2 * h[x0 + "1"] * h[x1 + "0"]
        y0, y1 = first[b]
        return h[x0 + y0] * h[x1 + y1]
    y0, y1 = first[b]
    return 2 * h["1" + y0] * h["0" + y1]


def _r2(g0: np.ndarray, g1: np.ndarray) -> float:
    dosage = orient_minor(np.column_stack([g0, g1]).astype(np.float64))
    return float(r2_with(dosage[:, 0], dosage[:, 1:])[0])


def test_phased_r2__matches_likelihood_maximum() -> None:
    rng = np.random.default_rng(3)
    for _ in range(6):
        haps = rng.random((400, 2)) < [0.3, 0.4]
        linked = np.where(rng.random(400) < 0.7, haps[:, 0], haps[:, 1])
        hap_pairs = np.column_stack([haps[:, 0], linked]).astype(int)
        g0 = hap_pairs[0::2, 0] + hap_pairs[1::2, 0]
        g1 = hap_pairs[0::2, 1] + hap_pairs[1::2, 1]
        assert ((g0 == 1) & (g1 == 1)).any()  # double heterozygotes: the phase has to be estimated
        assert _r2(g0, g1) == pytest.approx(_brute_force_r2(g0, g1), abs=1e-6)


def test_phased_r2__perfect_ld_is_one() -> None:
    g = np.array([0, 1, 2, 1, 0, 2, 1, 1, 0, 0], dtype=float)
    assert _r2(g, g) == pytest.approx(1.0)
    assert _r2(g, 2 - g) == pytest.approx(1.0)  # the other allele counted: same r2


def test_phased_r2__does_not_depend_on_the_allele_counted() -> None:
    rng = np.random.default_rng(8)
    g0 = rng.integers(0, 3, 300).astype(float)
    g1 = np.clip(g0 + rng.integers(-1, 2, 300), 0, 2)
    assert _r2(g0, g1) == pytest.approx(_r2(2 - g0, g1), abs=1e-12)
    assert _r2(g0, g1) == pytest.approx(_r2(g1, g0), abs=1e-12)


def test_r2_with__missing_calls_use_samples_seen_at_both() -> None:
    g0 = np.array([0, 1, 2, 1, 0, 2, np.nan, 1, 0, 2])
    g1 = np.array([0, 1, 2, 1, 0, 2, 0, np.nan, 0, 2])
    both = ~np.isnan(g0) & ~np.isnan(g1)
    assert _r2(g0, g1) == pytest.approx(_r2(g0[both], g1[both]))


def test_r2_with__monomorphic_is_nan() -> None:
    g0 = np.array([0, 1, 2, 1, 0], dtype=float)
    assert math.isnan(_r2(g0, np.zeros(5)))
    assert math.isnan(phased_r2(0.0, 4.0, 0.0, 0.0, 5))
