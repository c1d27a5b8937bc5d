"""The HWE exact test against a brute-force enumeration and against plink2's --hardy."""

from __future__ import annotations

import itertools
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest

from gwasflow.qc.hwe import hwe_exact_p


def _brute_force_p(het: int, hom1: int, hom2: int) -> float:
    """Place the 2n alleles on n people in every equally likely way; sum the het counts no more likely."""
    n = het + hom1 + hom2
    n_a = 2 * hom1 + het
    het_counts: dict[int, int] = {}
    for chosen in itertools.combinations(range(2 * n), n_a):
        picked = set(chosen)
        h = sum((2 * i in picked) != (2 * i + 1 in picked) for i in range(n))
        het_counts[h] = het_counts.get(h, 0) + 1
    total = math.comb(2 * n, n_a)
    observed = het_counts[het]
    return sum(c for c in het_counts.values() if c <= observed) / total


def _all_counts(max_n: int) -> list[tuple[int, int, int]]:
    return [(het, hom1, n - het - hom1) for n in range(1, max_n + 1)
            for het in range(n + 1) for hom1 in range(n - het + 1)]


def test_hwe_exact_p__matches_brute_force_enumeration() -> None:
    cases = _all_counts(6)
    het, hom1, hom2 = (np.array(col) for col in zip(*cases, strict=True))
    got = hwe_exact_p(het, hom1, hom2)
    expected = np.array([_brute_force_p(*case) for case in cases])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert (got < 1).any()


def test_hwe_exact_p__no_genotypes_or_monomorphic_gives_one() -> None:
    got = hwe_exact_p(np.array([0, 0, 0]), np.array([0, 50, 0]), np.array([0, 0, 70]))
    np.testing.assert_array_equal(got, [1.0, 1.0, 1.0])


def test_hwe_exact_p__symmetric_in_the_homozygotes() -> None:
    rng = np.random.default_rng(1)
    het, hom1, hom2 = (rng.integers(0, 400, 200) for _ in range(3))
    np.testing.assert_allclose(hwe_exact_p(het, hom1, hom2), hwe_exact_p(het, hom2, hom1), rtol=1e-12)


def test_hwe_exact_p__rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        hwe_exact_p(np.array([1]), np.array([-1]), np.array([3]))


def test_hwe_exact_p__matches_plink2_hardy(plink2: str, qc_cohort: str, tmp_path: Path) -> None:
    """plink2 --hardy's P column (founders' counts), far into the tail."""
    out = tmp_path / "h"
    subprocess.run([plink2, "--bfile", qc_cohort, "--hardy", "--out", str(out)], check=True, capture_output=True)
    lines = (tmp_path / "h.hardy").read_text().splitlines()
    header = lines[0].lstrip("#").split()
    rows = [line.split() for line in lines[1:]]
    col = {name: header.index(name) for name in ("HOM_A1_CT", "HET_A1_CT", "TWO_AX_CT", "P")}
    hom1, het, hom2 = (np.array([int(r[col[c]]) for r in rows]) for c in
                       ("HOM_A1_CT", "HET_A1_CT", "TWO_AX_CT"))
    expected = np.array([float(r[col["P"]]) for r in rows])
    got = hwe_exact_p(het, hom1, hom2)
    shown = expected > 1e-300
    assert expected.min() < 1e-20 and shown.sum() > 100
    np.testing.assert_allclose(got[shown], expected[shown], rtol=1e-5)


def test_hwe_exact_p__band_equals_every_count_on_large_samples() -> None:
    """Counts around and far from equilibrium in 20,000-100,000 genotypes: the banded sum equals the full one."""
    from gwasflow.qc.hwe import _chunk_p

    rng = np.random.default_rng(4)
    n = rng.integers(20_000, 100_000, 60)
    q = rng.uniform(0.001, 0.5, 60)
    expected_het = 2 * q * (1 - q) * n
    het = np.clip(np.rint(expected_het * rng.uniform(0.8, 1.2, 60)), 0, n).astype(np.int64)
    rare = np.rint(2 * q * n).astype(np.int64)
    het = np.minimum(het, rare) - (np.minimum(het, rare) - rare) % 2
    hom1 = (rare - het) // 2
    hom2 = n - het - hom1
    banded = hwe_exact_p(het, hom1, hom2)
    full = _chunk_p(het, hom1, hom2, band=False)[0]
    np.testing.assert_allclose(banded, full, rtol=1e-10, atol=1e-300)
    assert (full < 1e-10).sum() > 5 and (full > 0.01).sum() > 5
