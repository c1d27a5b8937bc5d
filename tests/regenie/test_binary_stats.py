"""Binary-trait statistics against independent computations (statsmodels, scipy optimizers and root finders)."""

from __future__ import annotations

import numba
import numpy as np
import pytest
import statsmodels.api as sm
from scipy.optimize import brentq, minimize, minimize_scalar
from scipy.special import expit
from scipy.stats import norm

from gwasflow.errors import EngineInputError
from gwasflow.regenie import kernels
from gwasflow.regenie.binary.firth_approx import FirthNull, approx_firth_block, fit_null_firth
from gwasflow.regenie.binary.firth_exact import exact_firth_block
from gwasflow.regenie.binary.logistic import LANES, fit_null_logistic, logistic_sums, pad_columns, power_moments
from gwasflow.regenie.binary.spa import SpaNull, spa_logp
from gwasflow.regenie.options import parse_args
from gwasflow.regenie.step2.assoc import genotype_block
from gwasflow.regenie.step2.assoc_bt import Correction, binary_block, fit_binary_model


def _cohort(seed: int, n: int = 400, n_variants: int = 12, prevalence: float = 0.1,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    offset = 0.3 * rng.normal(size=n)
    geno = rng.binomial(2, rng.uniform(0.01, 0.3, n_variants), size=(n, n_variants)).astype(float)
    eta = np.log(prevalence / (1 - prevalence)) + x[:, 1:] @ [0.4, -0.3] + offset + 0.5 * geno[:, 0]
    y = (rng.random(n) < expit(eta)).astype(float)
    return x, y, offset, geno


def _penalized(z: np.ndarray, y: np.ndarray, offset: np.ndarray, b: np.ndarray) -> float:
    eta = z @ b + offset
    p = expit(eta)
    w = p * (1 - p)
    return float(np.sum(y * eta - np.logaddexp(0, eta)) + 0.5 * np.linalg.slogdet(z.T @ (w[:, None] * z))[1])


def _residualized(x: np.ndarray, g: np.ndarray, w: np.ndarray) -> np.ndarray:
    cols = g.reshape(g.shape[0], -1)
    coef, *_ = np.linalg.lstsq(np.sqrt(w)[:, None] * x, np.sqrt(w)[:, None] * cols, rcond=None)
    return (cols - x @ coef).reshape(g.shape)


def test_fit_null_logistic__matches_statsmodels_glm_with_offset() -> None:
    x, y, offset, _ = _cohort(1)
    ours = fit_null_logistic(x, y, offset)
    theirs = sm.GLM(y, x, family=sm.families.Binomial(), offset=offset).fit(tol=1e-12)
    np.testing.assert_allclose(ours.coef, theirs.params, rtol=1e-7)
    np.testing.assert_allclose(ours.p, theirs.fittedvalues, rtol=1e-7)


def test_binary_block__score_test_matches_statsmodels_score_test() -> None:
    x, y, offset, geno = _cohort(2)
    geno[:5, 3] = np.nan  # mean-imputed, as statsmodels sees it below
    model = fit_binary_model(x, y[:, None], offset[:, None], ["y"], Correction.NONE)
    stats = binary_block(genotype_block(geno.copy()), model, correction=Correction.NONE, pthresh=0.05, min_mac=0)
    null = sm.GLM(y, x, family=sm.families.Binomial(), offset=offset).fit(tol=1e-12)
    imputed = np.where(np.isnan(geno), np.nanmean(geno, axis=0), geno)
    for j in range(geno.shape[1]):
        chisq = float(np.asarray(null.score_test(exog_extra=imputed[:, j:j + 1])[0]).item())
        assert stats.chisq[j, 0] == pytest.approx(chisq, rel=1e-6)
        g_r = _residualized(x, imputed[:, j], null.fittedvalues * (1 - null.fittedvalues))
        info = float(np.sum(g_r**2 * null.fittedvalues * (1 - null.fittedvalues)))
        assert stats.se[j, 0] == pytest.approx(1 / np.sqrt(info), rel=1e-6)
        assert stats.beta[j, 0] == pytest.approx(g_r @ (y - null.fittedvalues) / info, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("n_variants", [5, 11])  # within one group of the kernels' 8 lanes, and past it
def test_exact_firth_block__matches_direct_maximization_of_penalized_likelihood_per_variant(n_variants: int) -> None:
    """regenie stops on penalized scores below 2.5e-4: close to the maximum, not at it (about score / information)."""
    x, y, offset, geno = _cohort(3, n=300, n_variants=n_variants, prevalence=0.08)
    null_coef = fit_null_firth(x, y, offset, np.zeros(x.shape[1]))
    assert null_coef is not None
    fit = exact_firth_block(x, geno, y, offset, null_coef)
    assert fit.ok.all()
    for j in range(geno.shape[1]):
        z = np.column_stack([x, geno[:, j]])
        full = minimize(lambda b, z=z: -_penalized(z, y, offset, b), np.zeros(4), method="BFGS",
                        options={"gtol": 1e-9})
        null = minimize(lambda b, z=z: -_penalized(z, y, offset, np.append(b, 0.0)), np.zeros(3), method="BFGS",
                        options={"gtol": 1e-9})
        p = expit(z @ full.x + offset)
        expected_se = np.sqrt(np.linalg.inv(z.T @ ((p * (1 - p))[:, None] * z))[-1, -1])
        assert fit.beta[j] == pytest.approx(full.x[-1], rel=1e-4, abs=1e-4)
        assert fit.se[j] == pytest.approx(expected_se, rel=1e-4)
        assert fit.lrt[j] == pytest.approx(2 * (null.fun - full.fun), abs=1e-6)


def test_exact_firth_block__counts_masked_samples_with_weight_one_in_penalty_and_se() -> None:
    """regenie's Firth information gives weight 1 to samples analysed for other traits only (``get_wvec``)."""
    x, y, offset, geno = _cohort(11, n=300, n_variants=3, prevalence=0.1)
    rng = np.random.default_rng(11)
    masked_x = np.column_stack([np.ones(15), rng.normal(size=(15, 2))])
    masked_g = rng.binomial(2, 0.2, size=(15, 3)).astype(float)
    null_coef = fit_null_firth(x, y, offset, np.zeros(3), masked_x)
    assert null_coef is not None
    fit = exact_firth_block(x, geno, y, offset, null_coef, masked_x=masked_x, masked_g=masked_g)
    plain = exact_firth_block(x, geno, y, offset, null_coef)
    assert fit.ok.all()
    for j in range(3):
        z, zm = np.column_stack([x, geno[:, j]]), np.column_stack([masked_x, masked_g[:, j]])

        def penalized(b: np.ndarray, z: np.ndarray = z, zm: np.ndarray = zm) -> float:
            eta = z @ b + offset
            p = expit(eta)
            info = z.T @ ((p * (1 - p))[:, None] * z) + zm.T @ zm
            return float(np.sum(y * eta - np.logaddexp(0, eta)) + 0.5 * np.linalg.slogdet(info)[1])

        full = minimize(lambda b: -penalized(b), np.zeros(4), method="BFGS", options={"gtol": 1e-9})
        null = minimize(lambda b: -penalized(np.append(b, 0.0)), np.zeros(3), method="BFGS", options={"gtol": 1e-9})
        p = expit(z @ full.x + offset)
        expected_se = np.sqrt(np.linalg.inv(z.T @ ((p * (1 - p))[:, None] * z) + zm.T @ zm)[-1, -1])
        assert fit.beta[j] == pytest.approx(full.x[-1], rel=1e-4, abs=1e-4)
        assert fit.se[j] == pytest.approx(expected_se, rel=1e-4)
        assert fit.lrt[j] == pytest.approx(2 * (null.fun - full.fun), abs=1e-6)
    assert np.max(np.abs(fit.se / plain.se - 1)) > 1e-3  # the masked rows matter


def test_exact_firth_block__fails_a_monomorphic_variant_and_still_fits_the_others() -> None:
    x, y, offset, geno = _cohort(4, n=300, n_variants=3, prevalence=0.1)
    geno[:, 1] = 0.0  # no information on its effect: Z'WZ is singular
    null_coef = fit_null_firth(x, y, offset, np.zeros(x.shape[1]))
    assert null_coef is not None
    fit = exact_firth_block(x, geno, y, offset, null_coef)
    alone = exact_firth_block(x, geno[:, [0, 2]], y, offset, null_coef)
    assert fit.ok.tolist() == [True, False, True]
    np.testing.assert_allclose(fit.beta[[0, 2]], alone.beta, rtol=1e-12)
    np.testing.assert_allclose(fit.lrt[[0, 2]], alone.lrt, rtol=1e-10)


def _one_parameter_fit(col: np.ndarray, y: np.ndarray, offset: np.ndarray) -> tuple[float, float, float]:
    """``b``, LRT and SE of the penalized one-parameter model ``offset + col b``, by a scalar optimizer."""
    best = minimize_scalar(lambda b: -_penalized(col, y, offset, np.array([b])), bounds=(-10, 10),
                           method="bounded", options={"xatol": 1e-10})
    lrt = 2 * (_penalized(col, y, offset, np.array([best.x])) - _penalized(col, y, offset, np.zeros(1)))
    p = expit(offset + col[:, 0] * best.x)
    return float(best.x), float(lrt), float(1 / np.sqrt(np.sum(col[:, 0] ** 2 * p * (1 - p))))


def test_approx_firth_block__matches_one_parameter_maximization() -> None:
    """regenie stops on a penalized score below 2.5e-4: close to the maximum, not at it (about score / information)."""
    x, y, offset, geno = _cohort(4, n=300, prevalence=0.08)
    w = expit(offset) * (1 - expit(offset))
    gr = _residualized(x, geno[:, :4], w)
    fit = approx_firth_block(gr, FirthNull(y=y, offset=offset))
    assert fit.ok.all()
    for j in range(4):
        beta, lrt, se = _one_parameter_fit(gr[:, j:j + 1], y, offset)
        assert fit.beta[j] == pytest.approx(beta, rel=1e-4)
        assert fit.lrt[j] == pytest.approx(lrt, rel=1e-6, abs=1e-8)
        assert fit.se[j] == pytest.approx(se, rel=1e-4)


def test_approx_firth_block__fast_firth_fits_the_carriers_only() -> None:
    """A variant flagged fast is fitted as if its non-carriers' residualized genotype were 0 (regenie's fast Firth)."""
    x, y, offset, geno = _cohort(7, n=400, n_variants=3, prevalence=0.1)
    geno[:, 1] = 0.0
    geno[:8, 1] = [1, 1, 2, 1, 1, 1, 1, 1]
    y[:3] = 1.0
    w = expit(offset) * (1 - expit(offset))
    gr = _residualized(x, geno, w)
    fast = np.array([False, True, False])
    fit = approx_firth_block(gr, FirthNull(y=y, offset=offset), fast=fast, minor=geno)
    assert fit.ok.all()
    carriers_only = np.where(geno[:, 1] > 1e-4, gr[:, 1], 0.0)[:, None]
    beta, lrt, se = _one_parameter_fit(carriers_only, y, offset)
    assert fit.beta[1] == pytest.approx(beta, abs=1e-4)
    assert fit.lrt[1] == pytest.approx(lrt, rel=1e-6)
    assert fit.se[1] == pytest.approx(se, rel=1e-4)
    full_beta, _, _ = _one_parameter_fit(gr[:, 1:2], y, offset)
    assert abs(fit.beta[1] - full_beta) > 1e-3  # the approximation changes the estimate


def test_fit_null_firth__counts_masked_samples_with_weight_one_in_the_penalty() -> None:
    x, y, offset, _ = _cohort(8, n=300, prevalence=0.15)
    masked = np.random.default_rng(8).normal(size=(20, 3))
    masked[:, 0] = 1.0
    start = fit_null_logistic(x, y, offset).coef
    coef = fit_null_firth(x, y, offset, start, masked)
    assert coef is not None

    def penalized(b: np.ndarray) -> float:
        eta = x @ b + offset
        p = expit(eta)
        info = x.T @ ((p * (1 - p))[:, None] * x) + masked.T @ masked
        return float(np.sum(y * eta - np.logaddexp(0, eta)) + 0.5 * np.linalg.slogdet(info)[1])

    best = minimize(lambda b: -penalized(b), start, method="BFGS", options={"gtol": 1e-10}).x
    np.testing.assert_allclose(coef, best, atol=1e-5)
    assert np.max(np.abs(coef - fit_null_firth(x, y, offset, start))) > 1e-4  # the masked rows matter


def _spa_reference(g: np.ndarray, p: np.ndarray, score: float) -> float:
    """Two-sided Lugannani-Rice p-value with brentq roots (Dey et al. 2017, eqs. for K, K', K'')."""
    def cgf(t: float) -> float:
        return float(np.sum(np.log(1 - p + p * np.exp(g * t))) - t * np.sum(g * p))

    def d1(t: float) -> float:
        e = p * np.exp(g * t)
        return float(np.sum(g * e / (1 - p + e)) - np.sum(g * p))

    def d2(t: float) -> float:
        e = p * np.exp(g * t)
        return float(np.sum(g * g * e * (1 - p) / (1 - p + e) ** 2))

    def tail(q: float) -> float:
        t = brentq(lambda s: d1(s) - q, -30, 30, xtol=1e-14)
        w = np.sign(t) * np.sqrt(2 * (t * q - cgf(t)))
        v = t * np.sqrt(d2(t))
        return float(norm.cdf(w + np.log(v / w) / w))

    return (1 - tail(abs(score))) + tail(-abs(score))


def test_spa_logp__matches_root_finding_with_brentq() -> None:
    """regenie's root finder stops at |K'(t) - s| < eps^(1/4) on the standardized scale: close, not exact."""
    x, y, offset, geno = _cohort(5, n=500, prevalence=0.05)
    null = fit_null_logistic(x, y, offset)
    gr = _residualized(x, geno, null.w)
    score = gr.T @ (y - null.p)
    var = np.sum(gr**2 * null.w[:, None], axis=0)
    logp, ok = spa_logp(gr, SpaNull.from_probabilities(null.p), score, var)
    assert ok.all()
    for j in range(geno.shape[1]):
        assert np.exp(logp[j]) == pytest.approx(_spa_reference(gr[:, j], null.p, float(score[j])), rel=1e-3)


def test_spa_logp__is_close_to_the_normal_test_for_a_common_balanced_variant() -> None:
    rng = np.random.default_rng(6)
    p = np.full(4000, 0.5)
    g = rng.binomial(2, 0.4, size=4000).astype(float)
    g -= g.mean()
    var = np.array([np.sum(g * g * 0.25)])
    score = 2.0 * np.sqrt(var)  # z = 2
    logp, ok = spa_logp(g[:, None], SpaNull.from_probabilities(p), score, var)
    assert ok.all()
    assert np.exp(logp[0]) == pytest.approx(2 * norm.sf(2.0), rel=0.02)


def test_spa_logp__fast_spa_takes_non_carriers_as_a_quadratic() -> None:
    """Fast SPA: carriers exactly, the rest of K(s) as s^2 / 2 (V - sum_carriers w g^2) (regenie's fastSPA)."""
    x, y, offset, geno = _cohort(9, n=500, n_variants=2, prevalence=0.1)
    geno[:, 0] = 0.0
    geno[:6, 0] = 1.0
    y[:4] = 1.0
    null = fit_null_logistic(x, y, offset)
    gr = _residualized(x, geno, null.w)
    score = gr.T @ (y - null.p)
    var = np.sum(gr**2 * null.w[:, None], axis=0)
    carriers = geno > 0
    fast_logp, ok = spa_logp(gr, SpaNull.from_probabilities(null.p), score, var, fast=np.array([True, False]),
                             carriers=carriers)
    exact_logp, _ = spa_logp(gr, SpaNull.from_probabilities(null.p), score, var)
    assert ok.all()
    assert fast_logp[1] == exact_logp[1]
    c, p, w = gr[carriers[:, 0], 0], null.p[carriers[:, 0]], null.w[carriers[:, 0]]
    eta = np.log(p / (1 - p))
    rest = var[0] - np.sum(w * c * c)

    def d1(s: float) -> float:
        return float(np.sum(c * expit(eta + c * s)) - np.sum(c * p) + s * rest)

    def tail(q: float) -> float:
        t = brentq(lambda s: d1(s) - q, -1e4, 1e4, xtol=1e-14)
        k = float(np.sum(np.logaddexp(0, eta + c * t) - np.logaddexp(0, eta)) - t * np.sum(c * p) + t * t / 2 * rest)
        q_t = expit(eta + c * t)
        k2 = float(np.sum(c * c * q_t * (1 - q_t))) + rest
        r = np.sign(t) * np.sqrt(2 * (t * q - k))
        return float(norm.cdf(r + np.log(t * np.sqrt(k2) / r) / r))

    s = abs(float(score[0]))
    reference = np.log(1 - tail(s) + tail(-s))
    assert fast_logp[0] == pytest.approx(reference, abs=1e-5)
    assert abs(exact_logp[0] - reference) > 1e-4  # the exact CGF gives another p-value


def test_spa_logp__fails_a_score_outside_the_range_of_k_prime() -> None:
    """regenie fails the test when K'(t) = s has no finite root: s beyond sum_{g>0} g - sum g p."""
    x, y, offset, geno = _cohort(10, n=300, n_variants=2)
    null = fit_null_logistic(x, y, offset)
    gr = _residualized(x, geno, null.w)
    var = np.sum(gr**2 * null.w[:, None], axis=0)
    high = np.maximum(gr, 0).sum(axis=0) - gr.T @ null.p
    score = np.array([high[0] * 1.01, high[1] * 0.2])
    _, ok = spa_logp(gr, SpaNull.from_probabilities(null.p), score, var)
    assert ok.tolist() == [False, True]


def test_binary_block__spa_tails_adding_above_one_is_a_failed_test() -> None:
    """regenie fails SPA when the two tails add up to more than 1 (here |z| = 0.38): NA values, TEST_FAIL."""
    x, y, offset, geno = _cohort(4, n=300, n_variants=40, prevalence=0.1)
    model = fit_binary_model(x, y[:, None], offset[:, None], ["y"], Correction.SPA)
    stats = binary_block(genotype_block(geno.copy()), model, correction=Correction.SPA, pthresh=0.999, min_mac=0)
    null = fit_null_logistic(x, y, offset)
    gr = _residualized(x, geno[:, 35], null.w)
    assert _spa_reference(gr, null.p, float(gr @ (y - null.p))) > 1.0
    assert np.flatnonzero(stats.failed[:, 0]).tolist() == [35]
    assert stats.corrected[35, 0]
    assert np.isnan([stats.beta[35, 0], stats.se[35, 0], stats.chisq[35, 0], stats.log10p[35, 0]]).all()
    assert np.isfinite(stats.log10p[np.arange(40) != 35, 0]).all()


def test_parse_args__binary_corrections_need_bt_and_exclude_each_other() -> None:
    base = ["--step", "2", "--bed", "x", "--phenoFile", "p", "--bsize", "10", "--out", "o", "--ignore-pred"]
    assert parse_args([*base, "--bt", "--firth", "--approx", "--pThresh", "0.01"]).pthresh == 0.01
    assert parse_args([*base, "--bt"]).pthresh == 0.05
    for bad in (["--firth"], ["--bt", "--firth", "--spa"], ["--bt", "--approx"], ["--bt", "--pThresh", "2"]):
        with pytest.raises(EngineInputError):
            parse_args([*base, *bad])


def test_binary_block__hard_calls_with_missing_calls_match_a_dense_computation() -> None:
    rng = np.random.default_rng(11)
    x, _, offset, _ = _cohort(3, n=300)
    n_variants = 37
    geno = rng.binomial(2, rng.uniform(0.05, 0.5, n_variants), size=(300, n_variants)).astype(np.int8)
    geno[rng.random(geno.shape) < 0.03] = -1  # missing calls, mean-imputed
    y = (rng.random((300, 2)) < 0.2).astype(float)
    offsets = np.column_stack([offset, -offset])
    model = fit_binary_model(x, y, offsets, ["a", "b"], Correction.NONE)
    stats = binary_block(genotype_block(geno), model, correction=Correction.NONE, pthresh=0.05, min_mac=0)
    observed = np.where(geno < 0, np.nan, geno.astype(float))
    imputed = np.where(np.isnan(observed), np.nanmean(observed, axis=0), observed)
    for j in range(2):
        null = fit_null_logistic(x, y[:, j], offsets[:, j])
        g_r = _residualized(x, imputed, null.w)
        info = (g_r**2 * null.w[:, None]).sum(axis=0)
        score = g_r.T @ (y[:, j] - null.p)
        np.testing.assert_allclose(stats.se[:, j], 1 / np.sqrt(info), rtol=1e-9)
        np.testing.assert_allclose(stats.chisq[:, j], score**2 / info, rtol=1e-7)


@pytest.mark.parametrize("n_cols", [6, 8, 14])  # fewer than, exactly and not a multiple of the kernels' 8 lanes
def test_logistic_sums__matches_direct_numpy_sums_also_for_extreme_arguments(n_cols: int) -> None:
    rng = np.random.default_rng(11)
    n = 1001  # not a multiple of the kernel's 32-row log groups
    gr = rng.normal(size=(n, n_cols))
    offset = rng.normal(-2.0, 1.5, size=n)
    # the last two push u past +-700: exp(-|u|) underflows
    coef = np.resize([0.0, 0.05, -0.3, 2.0, 0.7, -0.01, 400.0, -900.0][::-1], n_cols)[::-1]
    out = logistic_sums(gr, offset, coef)
    np.testing.assert_array_equal(logistic_sums(pad_columns(gr), offset, coef), out)
    np.testing.assert_array_equal(logistic_sums(np.asfortranarray(gr), offset, coef), out)
    u = gr * coef + offset[:, None]
    q = expit(u)
    v = q * (1 - q)
    expected = [np.logaddexp(0.0, u).sum(axis=0), (gr * q).sum(axis=0), (gr**2 * v).sum(axis=0),
                (gr**3 * v * (1 - 2 * q)).sum(axis=0), (gr**4 * v * (1 - 6 * v)).sum(axis=0)]
    for row, want in zip(out, expected, strict=True):
        np.testing.assert_allclose(row, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


@pytest.mark.parametrize("n_cols", [5, 16, 19])
def test_power_moments__matches_matrix_products_of_powers(n_cols: int) -> None:
    rng = np.random.default_rng(13)
    g = rng.normal(size=(777, n_cols))
    weights = rng.random((777, 4))
    expected = [(g**k).T @ weights[:, k - 1] for k in range(1, 5)]
    out = power_moments(g, weights)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    np.testing.assert_array_equal(power_moments(pad_columns(g), weights, n_cols), out)


def test_pad_columns__appends_zero_columns_up_to_whole_lane_groups_in_c_order() -> None:
    g = np.asfortranarray(np.arange(30.0).reshape(3, 10))
    padded = pad_columns(g)
    assert padded.shape == (3, 2 * LANES) and padded.flags.c_contiguous
    np.testing.assert_array_equal(padded[:, :10], g)
    assert not padded[:, 10:].any()
    whole = np.ones((4, LANES))
    assert pad_columns(whole) is whole


def _add_one(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.size):
        out[i] = x[i] + 1.0


def test_compile_kernel__compiles_without_the_disk_cache_where_numba_finds_no_writable_folder(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real_njit = numba.njit

    def njit(**options: object) -> object:
        if options.get("cache"):
            raise RuntimeError("cannot cache function '_add_one': no locator available")
        return real_njit(**options)

    monkeypatch.setattr(numba, "njit", njit)
    kernel = kernels.compile_kernel(_add_one)
    out = np.empty(3)
    kernel(np.arange(3.0), out)
    np.testing.assert_array_equal(out, [1.0, 2.0, 3.0])


def test_exp_nonpositive__within_two_units_in_the_last_place_of_the_c_library_exp() -> None:
    rng = np.random.default_rng(3)
    points = np.concatenate([
        -np.logspace(-300, np.log10(708.0), 200_000),  # every scale, tiny to the floor
        -rng.random(200_000) * 50.0,  # where the corrections' linear predictors lie
        np.arange(-708.0, 0.5, 0.5) * np.log(2.0),  # halfway points and multiples of ln 2: the rounding edges
        [0.0, -0.0, kernels.EXP_FLOOR],
    ])
    points = points[points >= kernels.EXP_FLOOR]
    got = np.array([kernels.exp_nonpositive(float(a)) for a in points])
    want = np.exp(points)
    ulp = np.spacing(want)
    assert np.max(np.abs(got - want) / ulp) <= 2.0


def test_exp_nonpositive__zero_below_the_floor_and_nan_for_nan() -> None:
    assert kernels.exp_nonpositive(kernels.EXP_FLOOR - 1e-9) == 0.0
    assert kernels.exp_nonpositive(-1e308) == 0.0
    assert kernels.exp_nonpositive(float("-inf")) == 0.0
    assert np.isnan(kernels.exp_nonpositive(float("nan")))


def test_binary_block__int8_hard_calls_give_the_results_of_the_same_calls_as_dosages() -> None:
    # dosages square g 16 columns at a time for g'Wg (3 chunks here, the last one short); hard calls take the
    # compiled int8 pass
    x, y, offset, geno = _cohort(9, n=600, n_variants=37)
    missing = np.random.default_rng(9).random(geno.shape) < 0.02
    calls = geno.astype(np.int8)
    calls[missing] = -127
    dosages = np.where(missing, np.nan, geno)
    model = fit_binary_model(x, np.column_stack([y, 1 - y]), np.column_stack([offset, -offset]), ["a", "b"],
                             Correction.SPA)
    from_calls = binary_block(genotype_block(calls), model, correction=Correction.SPA, pthresh=0.5, min_mac=0)
    from_dosages = binary_block(genotype_block(dosages), model, correction=Correction.SPA, pthresh=0.5, min_mac=0)
    assert from_calls.corrected.any()
    for name in ("beta", "se", "chisq", "log10p"):
        np.testing.assert_allclose(getattr(from_calls, name), getattr(from_dosages, name), rtol=1e-10)
