"""Step 2 statistics against statsmodels OLS on simulated data."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.stats import chi2

from gwasflow.regenie.step2.assoc import association_block, chi2_1_logsf, fit_null, make_offsets


def _simulate(seed: int, n: int = 400, n_variants: int = 25) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    covariates = np.column_stack([np.ones(n), rng.normal(size=(n, 3))])
    geno = rng.binomial(2, rng.uniform(0.05, 0.5, n_variants), size=(n, n_variants)).astype(float)
    y = covariates @ rng.normal(size=4) + 0.2 * geno[:, 0] + rng.normal(size=n)
    return covariates, geno, y


@pytest.mark.parametrize("with_loco", [False, True])
def test_association_block__matches_statsmodels_ols(with_loco: bool) -> None:
    """BETA is the OLS coefficient of g in ``y - loco ~ X + g``; SE and CHISQ follow regenie.

    regenie's SE uses the null residual variance ``e'e / (n - k)`` (score-type),
    so CHISQ = (n - k) t^2 / (t^2 + n - k - 1) with t the OLS t statistic, and
    SE = sqrt(null_scale / g_r'g_r) with null_scale from OLS of ``y - loco ~ X``.
    The identity needs a LOCO offset orthogonal to the covariates (regenie does
    not re-residualize the offset), so the simulated offset is.
    """
    covariates, geno, y = _simulate(11)
    n, k = covariates.shape
    null = fit_null(covariates, y[:, None], ["y"])
    loco_scaled = None
    target = y
    if with_loco:
        raw = np.random.default_rng(3).normal(size=n)
        raw -= null.q @ (null.q.T @ raw)
        loco_scaled = 0.3 * raw[:, None]
        target = y - null.scale[0] * loco_scaled[:, 0]
    stats = association_block(geno.copy(), null, make_offsets(null, loco_scaled))
    null_fit = sm.OLS(target, covariates).fit()
    for j in range(geno.shape[1]):
        full = sm.OLS(target, np.column_stack([covariates, geno[:, j]])).fit()
        g_resid = sm.OLS(geno[:, j], covariates).fit().resid
        t2 = full.tvalues[-1] ** 2
        expected_chisq = (n - k) * t2 / (t2 + n - k - 1)
        assert stats.beta[j, 0] == pytest.approx(full.params[-1], rel=1e-8)
        assert stats.se[j, 0] == pytest.approx(np.sqrt(null_fit.scale / (g_resid @ g_resid)), rel=1e-8)
        assert stats.chisq[j, 0] == pytest.approx(expected_chisq, rel=1e-8)
        assert stats.log10p[j, 0] == pytest.approx(-chi2.logsf(expected_chisq, 1) / np.log(10), rel=1e-8)


def test_association_block__missing_genotypes_are_mean_imputed_and_not_counted() -> None:
    covariates, geno, y = _simulate(12, n_variants=4)
    null = fit_null(covariates, y[:, None], ["y"])
    offsets = make_offsets(null, None)
    with_missing = geno.copy()
    with_missing[:7, 1] = np.nan
    imputed = geno.copy()
    imputed[:7, 1] = np.nanmean(with_missing[:, 1])
    got = association_block(with_missing, null, offsets)
    want = association_block(imputed, null, offsets)
    assert got.n_obs[:, 0].tolist() == [400, 393, 400, 400]
    assert got.a1freq[1, 0] == pytest.approx(np.nanmean(with_missing[:, 1]) / 2, rel=1e-12)
    np.testing.assert_allclose(got.beta, want.beta, rtol=1e-10)
    np.testing.assert_allclose(got.se, want.se, rtol=1e-10)


def test_association_block__monomorphic_variant_gives_nan() -> None:
    covariates, geno, y = _simulate(13, n_variants=3)
    geno[:, 2] = 1.0
    null = fit_null(covariates, y[:, None], ["y"])
    stats = association_block(geno, null, make_offsets(null, None))
    assert np.isnan(stats.beta[2, 0]) and np.isnan(stats.log10p[2, 0])
    assert stats.mac[2] == 400


def test_chi2_1_logsf__matches_scipy_and_does_not_underflow() -> None:
    x = np.array([0.0, 0.1, 3.84, 30.0, 300.0])
    np.testing.assert_allclose(chi2_1_logsf(x), chi2.logsf(x, 1), rtol=1e-12, atol=1e-300)
    assert -chi2_1_logsf(np.array([1e5]))[0] / np.log(10) == pytest.approx(21717.4, rel=1e-4)


def test_chi2_1_logsf__equals_scipys_log_ndtr_form_over_the_whole_range() -> None:
    from scipy.special import log_ndtr

    x = np.concatenate([np.logspace(-3, 6.5, 300_001), [799.99, 800.0, 800.01]])  # the series takes over at 800
    got = chi2_1_logsf(x)
    want = np.log(2.0) + log_ndtr(-np.sqrt(x))
    np.testing.assert_allclose(got, want, rtol=2e-13, atol=0)
    tiny = np.array([1e-12, 1e-8])  # log(1 - p) for p near 0: scipy's ln 2 + log_ndtr loses digits there
    np.testing.assert_allclose(chi2_1_logsf(tiny), np.log1p(-chi2.cdf(tiny, 1)), rtol=1e-14)
    edge = chi2_1_logsf(np.array([0.0, np.nan, np.inf]))
    assert edge[0] == 0.0 and np.isnan(edge[1]) and edge[2] == -np.inf
    assert chi2_1_logsf(np.zeros((3, 2))).shape == (3, 2)


def test_missing_sums__is_the_missing_indicator_times_the_weights() -> None:
    from gwasflow.regenie.step2.assoc import genotype_block, missing_sums

    rng = np.random.default_rng(4)
    raw = rng.integers(0, 3, (300, 50)).astype(np.int8)
    raw[rng.random(raw.shape) < 0.04] = -127
    raw[:, [0, 7, 49]] = 1  # no missing call in the first, a middle and the last variant
    weights = rng.normal(size=(300, 6))
    got = missing_sums(genotype_block(raw), weights)
    np.testing.assert_allclose(got, (raw < 0).astype(float).T @ weights, rtol=1e-13, atol=1e-13)
    assert (got[[0, 7, 49]] == 0.0).all()


def test_run_step2__quantitative_traits_import_no_scipy_special() -> None:
    """scipy.special costs 0.1 s of every run's start; only binary traits' corrections need it."""
    import subprocess
    import sys

    code = ("import sys; import gwasflow.regenie.step2.run, gwasflow.regenie.step2.assoc; "
            "print('scipy.special' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_association_calls__equals_association_block_on_the_same_hard_calls() -> None:
    from gwasflow.regenie.step2.assoc import genotype_block
    from gwasflow.regenie.step2.hardcalls import association_calls

    rng = np.random.default_rng(12)
    n = 500
    calls = rng.integers(0, 3, (n, 41)).astype(np.int8)  # an odd number: the last variant is tested alone
    calls[rng.random(calls.shape) < 0.05] = -127
    calls[:, 3] = 1  # constant: NA
    calls[:, 4] = -127  # every call missing: NA
    calls[:, 5] = np.where(rng.random(n) < 0.5, -127, 2)  # missing calls and a constant otherwise
    calls = np.asfortranarray(calls)
    covariates = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    null = fit_null(covariates, rng.normal(size=(n, 3)), ["a", "b", "c"])
    offsets = make_offsets(null, 0.1 * rng.normal(size=(n, 3)))
    want = association_block(genotype_block(calls), null, offsets)
    got = association_calls(calls, null, offsets)
    np.testing.assert_array_equal(got.n_obs, want.n_obs)
    for name in ("dosage_sum", "beta", "se", "chisq", "log10p"):
        np.testing.assert_allclose(getattr(got, name), getattr(want, name), rtol=1e-9, atol=1e-12, err_msg=name)
    assert np.isnan(got.beta[[3, 4, 5]]).all() and np.isfinite(got.beta[[0, 1, 2, 6]]).all()


def test_association_calls__traits_with_missing_samples_as_association_block() -> None:
    """Per-trait missing phenotypes (two patterns) and regenie's sparse branch for some variants."""
    from gwasflow.regenie.step2.assoc import genotype_block, sparse_variants
    from gwasflow.regenie.step2.hardcalls import association_calls, call_products, sparse_calls

    rng = np.random.default_rng(21)
    n = 400
    calls = rng.integers(0, 3, (n, 25)).astype(np.int8)
    calls[rng.random(calls.shape) < 0.05] = -127
    calls = np.asfortranarray(calls)
    phenotypes = rng.normal(size=(n, 3))
    phenotypes[rng.random(n) < 0.1, 1] = np.nan
    phenotypes[rng.random(n) < 0.05, 2] = np.nan
    null = fit_null(np.column_stack([np.ones(n), rng.normal(size=n)]), phenotypes, ["a", "b", "c"])
    assert len(null.gaps) == 2
    offsets = make_offsets(null, 0.1 * rng.normal(size=(n, 3)))
    calls[:, :6] = np.where(rng.random((n, 6)) < 0.9, 0, calls[:, :6])  # rare variants: regenie keeps them sparse
    calls[:, 6] = 0  # every call 0: mean 0
    sparse = sparse_variants(calls, n + 20)  # 20 genotyped samples not analysed
    assert 6 <= sparse.sum() < 25
    want = association_block(genotype_block(calls), null, offsets, sparse)
    got = association_calls(calls, null, offsets, n_genotyped=n + 20)
    np.testing.assert_array_equal(got.n_obs, want.n_obs)
    for name in ("dosage_sum", "beta", "se", "chisq", "log10p"):
        np.testing.assert_allclose(getattr(got, name), getattr(want, name), rtol=1e-9, atol=1e-12, err_msg=name)
    assert not np.array_equal(got.n_obs[:, 0], got.n_obs[:, 1]), "the traits' counts differ"
    _, _, n_obs, dosage, twos = call_products(calls, np.ones((n, 1)))
    np.testing.assert_array_equal(sparse_calls(n, n_obs, dosage, twos, n + 20), sparse)


def test_warm_kernels__loads_the_signatures_a_real_block_uses() -> None:
    """The warm-up is worth its thread only if a block's call then finds its compiled loop already loaded."""
    from gwasflow.regenie.kernels import calls_weighted_kernel, hard_call_scan_kernel, missing_weighted_kernel
    from gwasflow.regenie.step2.hardcalls import association_calls, warm_kernels

    warm_kernels()
    loaded = [len(k.signatures) for k in (calls_weighted_kernel, hard_call_scan_kernel, missing_weighted_kernel)]
    rng = np.random.default_rng(3)
    calls = rng.integers(0, 3, (200, 30)).astype(np.int8)
    calls[rng.random(calls.shape) < 0.05] = -127
    null = fit_null(np.column_stack([np.ones(200), rng.normal(size=200)]), rng.normal(size=(200, 3)), ["a", "b", "c"])
    association_calls(np.asfortranarray(calls), null, make_offsets(null, None))
    after = [len(k.signatures) for k in (calls_weighted_kernel, hard_call_scan_kernel, missing_weighted_kernel)]
    assert after == loaded and min(loaded) >= 1


def test_chi2_1_logsf__compiled_loop_equals_numpys_within_an_ulp() -> None:
    """Step 2's compiled tail (no GIL) takes the same branches: each value within an ulp of numpy's version
    (numpy's own log against C's), over both sides of every switch, at any shape."""
    rng = np.random.default_rng(4)
    x = np.concatenate([np.logspace(-12, 6.5, 200_001), rng.chisquare(1, 50_000),
                        [0.0, 2 * 0.4769362762044699**2, 799.99, 800.0, 800.01, np.nan, np.inf, -1.0]])
    want, got = chi2_1_logsf(x), chi2_1_logsf(x, compiled=True)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=3e-16, atol=0)
    assert got[-2] == -np.inf and np.isnan(got[-1])
    block = x[:4000].reshape(1000, 4)
    np.testing.assert_allclose(chi2_1_logsf(block, compiled=True), chi2_1_logsf(block), rtol=3e-16, atol=0)
