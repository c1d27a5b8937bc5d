"""The compiled result rows (``result_bytes``) are byte for byte the rows ``result_lines`` prints in Python."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gwasflow.regenie.io.bed import VariantInfo
from gwasflow.regenie.output import format_g, result_bytes, result_lines
from gwasflow.regenie.step2.results import variant_text

# values that test the printing: NaN, infinities, both zeros, subnormals, the extremes, the switch between
# fixed and exponent notation, values that round up a decade, decimal ties (exact and not) and their neighbours
_SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
            1e-5, 9.99999e-5, 9.999995e-5, 1e-4, 0.0001234565, 999999.0, 999999.5, 999999.4999999999, 999999.5000000001,
            1e6, 123456.5, 123457.5, 1234565.0, 1234575.0, 0.5, 2.5e-7, 9.999995, 1e16, 1e100, 1e-100, 3.0, 12.5]


def _variants(n: int, rng: np.random.Generator) -> VariantInfo:
    return VariantInfo(chrom=rng.integers(1, 23, n), pos=rng.integers(1, 10**9, n),
                       ids=np.asarray([f"rs{i}%s_\u00e9" for i in range(n)]),
                       allele0=np.asarray(["A", "CT", "G%d"] * n)[:n], allele1=np.asarray(["T", "G", "AAC"] * n)[:n])


def _python_rows(variants: VariantInfo, rows: np.ndarray, head: np.ndarray, n_obs: np.ndarray, tail: np.ndarray,
                 failed: np.ndarray | None) -> bytes:
    cols = [[str(c) for c in variants.chrom[rows].tolist()], [str(p) for p in variants.pos[rows].tolist()],
            variants.ids[rows].tolist(), variants.allele0[rows].tolist(), variants.allele1[rows].tolist()]
    extra = None if failed is None else ["TEST_FAIL" if f else "NA" for f in failed.tolist()]
    info = head[:, 1] if head.shape[1] > 1 else None
    return result_lines(cols, head[:, 0], n_obs, list(tail.T), info, extra=extra).encode()


def _random_values(rng: np.random.Generator, n: int) -> np.ndarray:
    """Values over the whole float64 range: random bit patterns, normal draws of every scale, special values."""
    bits = rng.integers(0, 2**64, n, dtype=np.uint64).view(np.float64)  # every sign, NaN and inf included
    scaled = rng.normal(0.0, 1.0, n) * 10.0 ** rng.integers(-12, 12, n)
    rounded = np.round(rng.uniform(0, 1e7, n)) / 10.0 ** rng.integers(0, 12, n)  # few digits: ties, zeros
    values = np.where(rng.random(n) < 0.5, scaled, np.where(rng.random(n) < 0.5, bits, rounded))
    special = rng.random(n) < 0.05
    values[special] = np.asarray(_SPECIAL)[rng.integers(0, len(_SPECIAL), int(special.sum()))]
    return values


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 400), with_info=st.booleans(), with_extra=st.booleans())
def test_result_bytes__equal_python_rows_on_random_values(seed: int, n: int, with_info: bool,
                                                          with_extra: bool) -> None:
    rng = np.random.default_rng(seed)
    variants = _variants(n + 5, rng)
    block = np.arange(n + 5, dtype=np.intp)
    rows = np.sort(rng.choice(n + 5, n, replace=False)).astype(np.intp)
    head = np.column_stack([rng.random(n), rng.uniform(-0.3, 1.0, n)]) if with_info else rng.random((n, 1))
    head[rng.random(n) < 0.05, 0] = np.nan
    tail = np.column_stack([_random_values(rng, n) for _ in range(4)])
    n_obs = rng.integers(0, 10**12, n)
    failed = rng.random(n) < 0.3 if with_extra else None
    text = variant_text(variants, block)
    got = result_bytes(text.data, text.starts, rows, head, n_obs, tail, failed)
    assert got == _python_rows(variants, rows, head, n_obs, tail, failed)


def test_result_bytes__special_values_print_as_format_g() -> None:
    """Each special value, alone in its row (so a tie falls back for that row only), prints as ``format_g``."""
    rng = np.random.default_rng(3)
    variants = _variants(1, rng)
    text = variant_text(variants, np.arange(1, dtype=np.intp))
    rows = np.zeros(1, dtype=np.intp)
    for value in _SPECIAL:
        tail = np.full((1, 4), value)
        got = result_bytes(text.data, text.starts, rows, np.full((1, 1), 0.25), np.array([7]), tail)
        assert got.decode().split()[-5:] == [format_g(value)] * 4 + ["NA"]
        assert got == _python_rows(variants, rows, np.full((1, 1), 0.25), np.array([7]), tail, None)


def test_result_bytes__negative_info_prints_na() -> None:
    rng = np.random.default_rng(4)
    variants = _variants(3, rng)
    text = variant_text(variants, np.arange(3, dtype=np.intp))
    head = np.array([[0.5, -0.01], [0.25, 0.0], [0.125, np.nan]])
    got = result_bytes(text.data, text.starts, np.arange(3, dtype=np.intp), head, np.array([1, 2, 3]),
                       np.ones((3, 4)))
    assert [line.split()[6] for line in got.decode().splitlines()] == ["NA", "0", "NA"]


def test_result_bytes__random_statistics_need_no_fallback() -> None:
    """On statistics as step 2 makes them the kernel decides every rounding itself (the Python fallback is for
    values within 1e-8 of a decimal tie): its output has every row, in order."""
    from gwasflow.regenie.kernels.text import result_rows_kernel

    rng = np.random.default_rng(5)
    n = 5000
    variants = _variants(n, rng)
    text = variant_text(variants, np.arange(n, dtype=np.intp))
    rows = np.arange(n, dtype=np.intp)
    tail = np.column_stack([rng.normal(0, 0.1, n), rng.uniform(0.01, 0.2, n), rng.chisquare(1, n),
                            rng.exponential(1, n)])
    head = np.ascontiguousarray(rng.random((n, 1)))
    n_obs = rng.integers(1, 10**6, n)
    out = np.empty(n * 200, dtype=np.uint8)
    written = result_rows_kernel(text.data, text.starts, rows, head, n_obs, tail, np.zeros(n, dtype=np.bool_), out)
    assert written > 0
    assert out[:written].tobytes() == _python_rows(variants, rows, head, n_obs, tail, None)


def _distance_to_tie(value: float) -> Decimal:
    """How far the exact ``|value|``, scaled to 6 digits before the point, lies from a rounding tie."""
    exact = abs(Decimal(value))
    scaled = exact.scaleb(5 - exact.adjusted())
    return abs(scaled - scaled.to_integral_value(rounding=ROUND_FLOOR) - Decimal("0.5"))


def test_put_g__equals_format_g_or_declines_only_near_a_tie() -> None:
    """Value by value: the kernel's number is ``format_g``'s, or it declines (the row then falls back to Python)
    and the exact value is within 1e-7 of a decimal tie; declining is rare on random bit patterns."""
    from gwasflow.regenie.kernels.text import put_g

    rng = np.random.default_rng(11)
    values = np.concatenate([_random_values(rng, 50_000), _SPECIAL])
    out = np.empty(32, dtype=np.uint8)
    declined = 0
    for value in values.tolist():
        end = put_g(value, out, 0)
        if end < 0:
            declined += 1
            assert _distance_to_tie(value) < Decimal("1e-7"), value
        else:
            assert out[:end].tobytes().decode() == format_g(value), value
    assert 0 < declined < 0.05 * values.size


def test_result_bytes__python_rows_when_not_compiled_are_the_same_bytes() -> None:
    rng = np.random.default_rng(12)
    n = 200
    variants = _variants(n, rng)
    text = variant_text(variants, np.arange(n, dtype=np.intp))
    rows = np.flatnonzero(rng.random(n) < 0.7).astype(np.intp)
    head = np.column_stack([rng.random(rows.size), rng.uniform(-0.3, 1.0, rows.size)])
    tail = np.column_stack([_random_values(rng, rows.size) for _ in range(4)])
    n_obs = rng.integers(1, 10**6, rows.size)
    failed = rng.random(rows.size) < 0.2
    compiled = result_bytes(text.data, text.starts, rows, head, n_obs, tail, failed)
    assert result_bytes(text.data, text.starts, rows, head, n_obs, tail, failed, compiled=False) == compiled
    assert compiled == _python_rows(variants, rows, head, n_obs, tail, failed)
