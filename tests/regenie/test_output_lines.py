"""``result_lines`` (one ``%`` over all rows) prints each value as ``format_g`` does, value by value."""

from __future__ import annotations

import numpy as np
import pytest

from gwasflow.regenie.output import format_g, result_lines


def _by_value(cols: list[list[str]], freq: np.ndarray, n_obs: np.ndarray, stats: list[np.ndarray],
              info: np.ndarray | None, extra: list[str] | None) -> str:
    lines = []
    for i in range(len(n_obs)):
        fields = [c[i] for c in cols] + [format_g(float(freq[i]))]
        if info is not None:
            fields.append(format_g(float(info[i])) if info[i] >= 0 else "NA")
        fields += [str(int(n_obs[i])), "ADD"] + [format_g(float(s[i])) for s in stats]
        fields.append("NA" if extra is None else extra[i])
        lines.append(" ".join(fields) + "\n")
    return "".join(lines)


@pytest.mark.parametrize("with_info", [False, True])
@pytest.mark.parametrize("with_extra", [False, True])
def test_result_lines__equal_value_by_value_formatting(with_info: bool, with_extra: bool) -> None:
    rng = np.random.default_rng(7)
    n = 300
    cols = [[str(c) for c in rng.integers(1, 23, n)], [str(p) for p in rng.integers(1, 10**8, n)],
            [f"rs{i}%s" for i in range(n)], ["A"] * n, ["GT%"] * n]  # '%' in a name is printed as is
    freq = rng.random(n)
    freq[:3] = [0.0, 1.0, 0.5]
    n_obs = rng.integers(1, 500_000, n)
    stats = [rng.normal(0, 10.0 ** rng.integers(-8, 8, n)) for _ in range(3)] + [rng.exponential(50, n)]
    stats[0][:4] = [-0.0, np.nan, np.inf, 1e-300]
    stats[1][5] = np.nan
    info = rng.uniform(-0.2, 1.0, n) if with_info else None
    extra = [["NA", "TEST_FAIL"][k % 2] for k in range(n)] if with_extra else None
    got = result_lines(cols, freq, n_obs, stats, info, extra=extra)
    assert got == _by_value(cols, freq, n_obs, stats, info, extra)
    assert " -0 " not in got and " NA " in got and " inf " in got


def test_result_lines__no_rows_is_empty_text() -> None:
    empty = np.empty(0)
    assert result_lines([[], [], [], [], []], empty, np.empty(0, dtype=np.int64), [empty] * 4) == ""
