"""Summary statistics checked against direct numpy / scipy computations on synthetic result files."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from scipy import stats

from gwasflow.report import scan as scan_module
from gwasflow.report import summary as summary_module
from gwasflow.report.summary import (
    CHI2_MEDIAN_1DF,
    GWS_LOG10P,
    Hit,
    chrom_sort_key,
    clump_by_distance,
    lambda_gc,
    qq_points,
    summarize_results,
    write_summary,
)

HEADER = "CHROM GENPOS ID ALLELE0 ALLELE1 A1FREQ N TEST BETA SE CHISQ LOG10P EXTRA\n"


def _log10p(chisq: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(-stats.chi2.logsf(chisq, 1) / np.log(10), dtype=np.float64)


def _write(path: Path, chrom: list[str], pos: list[int], chisq: NDArray[np.float64], *, gz: bool = True) -> None:
    """A regenie-style result file; chisq NaN rows are written as regenie's failed tests (NA)."""
    logp = _log10p(chisq)
    lines = [HEADER]
    for i, (c, p, x, lp) in enumerate(zip(chrom, pos, chisq, logp, strict=True)):
        if math.isnan(x):
            lines.append(f"{c} {p} v{i} A C 0.2 100 ADD NA NA NA NA TEST_FAIL\n")
        else:
            lines.append(f"{c} {p} v{i} A C 0.2 100 ADD {0.01 * i:.6g} 0.1 {x:.6g} {lp:.6g} NA\n")
    text = "".join(lines)
    if gz:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)


def _synthetic(n: int, seed: int) -> tuple[list[str], list[int], NDArray[np.float64]]:
    """``n`` variants over chromosomes 1, 2, 10 and X (file order), null chi-squares plus three peaks."""
    rng = np.random.default_rng(seed)
    chroms = ["1", "2", "10", "X"]
    chrom = [chroms[i * len(chroms) // n] for i in range(n)]
    pos = [int(p) for p in np.concatenate([np.sort(rng.choice(50_000_000, size=chrom.count(c), replace=False)) + 1
                                           for c in chroms])]  # fmt: skip
    chisq = rng.chisquare(1, size=n)
    for peak in (n // 10, n // 10 + 3, n // 2, 3 * n // 4):
        chisq[peak] = rng.uniform(40, 90)
    chisq[rng.choice(n, size=5, replace=False)] = np.nan
    return chrom, pos, chisq


def _rounded(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Values as written to and read back from the file (6 significant digits)."""
    return np.array([float(f"{v:.6g}") for v in x])


def _brute_force_loci(hits: list[Hit], window: int) -> list[tuple[str, int, int, int, int]]:
    """Independent greedy clumping: (chrom, lead pos, start, end, count), strongest lead first."""
    remaining = sorted(hits, key=lambda h: -h.log10p)
    leads: list[Hit] = []
    members: dict[int, list[Hit]] = {}
    for h in remaining:
        near = [k for k, lead in enumerate(leads) if lead.chrom == h.chrom and abs(lead.pos - h.pos) <= window]
        if near:
            members[min(near, key=lambda k: abs(leads[k].pos - h.pos))].append(h)
        else:
            members[len(leads)] = [h]
            leads.append(h)
    return [
        (lead.chrom, lead.pos, min(m.pos for m in members[k]), max(m.pos for m in members[k]), len(members[k]))
        for k, lead in enumerate(leads)
    ]


def test_chi2_median_1df__matches_scipy() -> None:
    assert math.isclose(CHI2_MEDIAN_1DF, float(stats.chi2.ppf(0.5, 1)), rel_tol=1e-12)


def test_summarize_results__lambda_hits_and_top(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    chisq = rng.chisquare(1, size=999)
    chisq[100] = 60.0  # one genome-wide significant variant
    log10p = -stats.chi2.logsf(chisq, 1) / np.log(10)
    path = tmp_path / "Y1.regenie.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(HEADER)
        for i, (c, p) in enumerate(zip(chisq, log10p, strict=True)):
            handle.write(f"1 {i + 1} v{i} A C 0.2 100 ADD 0.1 0.1 {c:.6g} {p:.6g} NA\n")
        handle.write("1 2000 vNA A C 0.2 100 ADD NA NA NA NA TEST_FAIL\n")
    s = summarize_results(path, "Y1")
    assert s.n_variants == 999
    expected = float(np.median(np.array([float(f"{c:.6g}") for c in chisq]))) / CHI2_MEDIAN_1DF
    assert math.isclose(s.lambda_gc, expected, rel_tol=1e-9)
    assert s.n_significant == 1 and s.top is not None and s.top.id == "v100"
    write_summary([s], tmp_path / "summary.tsv")
    rows = (tmp_path / "summary.tsv").read_text().splitlines()
    assert rows[1].split("\t")[:4] == ["Y1", "999", f"{expected:.4f}", "1"]


@pytest.mark.parametrize("block_bytes", [1 << 23, 3000])
def test_summarize_results__matches_numpy_whatever_the_block_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_bytes: int
) -> None:
    monkeypatch.setattr(scan_module, "_BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(summary_module, "_MAX_CELLS", 500)  # forces the Manhattan grid to coarsen
    chrom, pos, chisq = _synthetic(6000, seed=11)
    path = tmp_path / "Y.regenie.gz"
    _write(path, chrom, pos, chisq)
    s = summarize_results(path, "Y")

    finite = _rounded(chisq[np.isfinite(chisq)])
    assert s.n_variants == finite.size == 5995
    assert math.isclose(s.lambda_gc, float(np.median(finite)) / CHI2_MEDIAN_1DF, rel_tol=1e-12)
    logp = _rounded(_log10p(chisq))
    significant = {f"v{i}" for i in np.flatnonzero(np.nan_to_num(logp, nan=0.0) > GWS_LOG10P)}
    assert {h.id for h in s.hits} == significant and s.n_significant == len(significant) > 0
    assert s.top is not None and s.top.id == f"v{int(np.nanargmax(logp))}"
    assert [h.log10p for h in s.hits] == sorted((h.log10p for h in s.hits), reverse=True)
    expected_loci = _brute_force_loci(s.hits, 500_000)
    assert [(x.lead.chrom, x.lead.pos, x.start, x.end, x.n_significant) for x in s.loci] == expected_loci


def test_summarize_results__plain_file_and_ragged_rows_use_the_fallback_parser(tmp_path: Path) -> None:
    chrom, pos, chisq = _synthetic(400, seed=5)
    _write(tmp_path / "a.regenie", chrom, pos, chisq, gz=False)
    text = (tmp_path / "a.regenie").read_text()
    lines = text.splitlines(keepends=True)
    lines[10] = lines[10].replace(" NA\n", "\n")  # one row without its EXTRA column
    lines.insert(20, "\n")  # and a blank line
    (tmp_path / "b.regenie").write_text("".join(lines))
    a = summarize_results(tmp_path / "a.regenie", "Y")
    b = summarize_results(tmp_path / "b.regenie", "Y")
    assert (a.n_variants, a.lambda_gc, a.n_significant, a.top) == (b.n_variants, b.lambda_gc, b.n_significant, b.top)
    assert np.array_equal(a.manhattan.log10p, b.manhattan.log10p)


def test_summarize_results__missing_column_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.regenie"
    path.write_text("CHROM GENPOS ID BETA LOG10P\n1 1 v 0.1 1.0\n")
    with pytest.raises(ValueError, match="no CHISQ column"):
        summarize_results(path, "Y")


def test_summarize_results__manhattan_points_keep_every_strong_variant_and_thin_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary_module, "_MAX_CELLS", 1000)
    chrom, pos, chisq = _synthetic(20_000, seed=2)
    path = tmp_path / "Y.regenie.gz"
    _write(path, chrom, pos, chisq)
    m = summarize_results(path, "Y").manhattan
    assert m.chroms == ("1", "2", "10", "X")  # numeric order, then X
    logp = _rounded(_log10p(chisq))
    strong = np.nan_to_num(logp, nan=0.0) > 2
    got = sorted(zip(np.array(m.chroms)[m.chrom_index[m.log10p > 2]].tolist(), m.pos[m.log10p > 2].tolist(),
                     strict=True))  # fmt: skip
    want = sorted((chrom[i], pos[i]) for i in np.flatnonzero(strong))
    assert got == want
    weak = int((m.log10p <= 2).sum())
    assert 0 < weak <= 1000
    for i, c in enumerate(m.chroms):
        on_chrom = [p for cc, p in zip(chrom, pos, strict=True) if cc == c]
        assert m.chrom_length[i] == max(on_chrom)
        assert m.pos[m.chrom_index == i].max() <= max(on_chrom)


def test_clump_by_distance__greedy_lead_per_window() -> None:
    def hit(chrom: str, pos: int, logp: float) -> Hit:
        return Hit(chrom, pos, f"{chrom}:{pos}", 0.1, logp)

    hits = [
        hit("1", 1_000_000, 20.0),
        hit("1", 1_400_000, 15.0),  # within 500 kb of the lead: joins it
        hit("1", 1_800_000, 12.0),  # 800 kb from the lead: a lead of its own (no chaining)
        hit("1", 1_500_000, 9.0),  # 500 kb from the first lead, 300 kb from the second: the nearer one
        hit("2", 1_000_001, 10.0),  # another chromosome: its own locus
        hit("1", 500_000, 8.0),  # exactly 500 kb: joins
    ]
    loci = clump_by_distance(hits, window_bp=500_000)
    assert [(x.lead.chrom, x.lead.pos, x.start, x.end, x.n_significant) for x in loci] == [
        ("1", 1_000_000, 500_000, 1_400_000, 3),
        ("1", 1_800_000, 1_500_000, 1_800_000, 2),
        ("2", 1_000_001, 1_000_001, 1_000_001, 1),
    ]
    assert clump_by_distance([], window_bp=500_000) == []


def test_qq_points__observed_expected_and_band_match_scipy() -> None:
    rng = np.random.default_rng(8)
    chisq = rng.chisquare(1, size=50_000)
    chisq[:3] = [80.0, 2000.0, np.nan]  # 2000 underflows a plain p-value (p ~ 1e-439)
    qq = qq_points(chisq)
    values = np.sort(chisq[np.isfinite(chisq)])[::-1]
    n = values.size
    # p = erfc(z) with z = sqrt(chisq / 2); scipy underflows here, so use erfc's asymptotic series
    z2 = 1000.0
    log_p = -z2 - 0.5 * math.log(math.pi * z2) + math.log(1 - 1 / (2 * z2) + 3 / (4 * z2**2))
    assert qq.observed[0] == pytest.approx(-log_p / math.log(10), rel=1e-9)
    i = (n + 1) * 10 ** (-qq.expected)  # expected = -log10(i / (n + 1))
    assert np.allclose(i, np.rint(i), atol=1e-6)
    ranks = np.rint(i).astype(int)
    want = -stats.chi2.logsf(values[ranks[1:] - 1], 1) / np.log(10)
    assert np.allclose(qq.observed[1:], want, rtol=1e-9)
    assert np.allclose(qq.lower, -np.log10(stats.beta.ppf(0.975, ranks, n - ranks + 1)))
    assert np.allclose(qq.upper, -np.log10(stats.beta.ppf(0.025, ranks, n - ranks + 1)))
    assert np.all(qq.lower <= qq.expected) and np.all(qq.expected <= qq.upper)
    assert ranks[-1] == n and set(range(1, 500)) <= set(ranks.tolist())  # every point above 2 is kept
    assert qq.expected.size < n / 5  # and the bulk is thinned


def test_lambda_gc__even_count_and_no_values() -> None:
    values = np.array([0.1, 0.5, 2.0, 4.0, np.nan])
    assert lambda_gc(values) == pytest.approx(1.25 / CHI2_MEDIAN_1DF)
    assert math.isnan(lambda_gc(np.array([np.nan])))


def test_chrom_sort_key__numeric_then_sex_then_others() -> None:
    names = ["X", "10", "chr2", "MT", "1", "Y", "GL000.1", "22"]
    assert sorted(names, key=chrom_sort_key) == ["1", "chr2", "10", "22", "X", "Y", "MT", "GL000.1"]


def test_write_summary__one_row_per_phenotype_with_na_when_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.regenie"
    path.write_text(HEADER)
    s = summarize_results(path, "E")
    assert s.n_variants == 0 and s.top is None and math.isnan(s.lambda_gc)
    write_summary([s], tmp_path / "summary.tsv")
    header, row = (tmp_path / "summary.tsv").read_text().splitlines()
    assert header.split("\t")[-1] == "n_loci"
    assert row.split("\t") == ["E", "0", "nan", "0", "NA", "NA", "NA", "NA", "0"]


def test_summarize_results__details_keep_the_fields_of_every_row_above_log10p_3(tmp_path: Path) -> None:
    chrom, pos, chisq = _synthetic(5000, seed=4)
    path = tmp_path / "Y.regenie.gz"
    _write(path, chrom, pos, chisq)
    s = summarize_results(path, "Y")
    logp = _rounded(_log10p(chisq))
    strong = np.flatnonzero(np.nan_to_num(logp, nan=0.0) > 3)
    d = s.details
    assert d.size == strong.size > 4
    assert d.id == tuple(f"v{i}" for i in strong)
    assert list(d.chrom) == [chrom[i] for i in strong] and d.pos.tolist() == [pos[i] for i in strong]
    assert np.array_equal(d.log10p, logp[strong])
    assert np.allclose(d.beta, [float(f"{0.01 * i:.6g}") for i in strong])
    assert np.all(d.se == 0.1) and np.all(d.a1freq == 0.2) and np.all(d.n == 100)
    assert s.n_samples == 100


def test_detail_collector__keeps_the_strongest_rows_past_its_bound() -> None:
    from gwasflow.report.details import DetailCollector

    collector = DetailCollector({"ID": 0, "BETA": 1}, max_rows=10)
    values = np.random.default_rng(1).uniform(3.1, 20, size=95)
    for i, v in enumerate(values):
        if v > collector.min_log10p:
            collector.add("1", i, float(v), [f"v{i}", "0.5"])
    d = collector.result()
    assert d.size == 10
    assert sorted(d.log10p.tolist()) == sorted(values)[-10:]
    assert d.pos.tolist() == sorted(d.pos.tolist())  # file order kept
    assert d.min_log10p == d.log10p.min() and np.all(d.n == -1) and np.all(d.beta == 0.5)
