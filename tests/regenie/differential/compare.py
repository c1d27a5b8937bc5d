"""Run the real regenie and the built-in engine with the same flags; compare every output row.

Step 2 rows are matched by variant id: the set of variants each program
writes must be the same, then ``A1FREQ``, ``N``, ``INFO``, the alleles and
``TEST``/``EXTRA`` must be equal as printed (A1FREQ and INFO may be one unit
apart in the last printed digit, counted in ``last_digit``), BETA and SE are compared as
relative and LOG10P as absolute differences. Step 1 LOCO files are compared
by the Pearson correlation per (trait, chromosome) and the sample header.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gwasflow.regenie.cli import main

__all__ = ["REGENIE", "Diff", "compare_loco", "compare_step2", "require_regenie", "run_both"]

REPO_ROOT = Path(__file__).resolve().parents[3]
# the real binary: $GWASFLOW_REGENIE, else ../shared/regenie-bin/regenie beside the clone
REGENIE = Path(os.environ.get("GWASFLOW_REGENIE", REPO_ROOT / ".." / "shared" / "regenie-bin" / "regenie")).resolve()


def require_regenie() -> Path:
    """The real regenie binary, or an error that says how to install it."""
    if not REGENIE.is_file():
        raise FileNotFoundError(f"the real regenie binary is not at {REGENIE}: the differential tests need "
                                "../shared/regenie-bin/ beside the clone, or GWASFLOW_REGENIE naming it")
    probe = subprocess.run([str(REGENIE), "--version"], capture_output=True, text=True, check=False)
    if probe.returncode != 0 or "v4" not in probe.stdout + probe.stderr:
        raise RuntimeError(f"{REGENIE} does not run ({probe.stderr.strip()[:200]}): install its runtime with "
                           "`bash ../shared/regenie-bin/install-runtime.sh` (as root)")
    return REGENIE


def run_both(flags: list[str], folder: Path, name: str) -> tuple[Path, Path]:
    """Run both programs with ``flags`` (``--out`` added); return the output prefixes (ours, theirs)."""
    ours, theirs = folder / f"ours_{name}", folder / f"theirs_{name}"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([str(require_regenie()), *flags, "--out", str(theirs)], capture_output=True, text=True,
                          env=env, cwd=folder, check=False)
    if done.returncode != 0:
        raise AssertionError(f"regenie failed on {flags}:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    code = main([*flags, "--out", str(ours)])
    if code != 0:
        raise AssertionError(f"the built-in engine failed (exit {code}) on {flags}; see {ours}.log")
    return ours, theirs


def _pred_list(prefix: Path) -> dict[str, Path]:
    entries = {}
    for line in Path(f"{prefix}_pred.list").read_text().splitlines():
        name, path = line.split()
        entries[name] = Path(path)
    return entries


def _read_loco(path: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    lines = path.read_text().splitlines()
    header = lines[0].split()
    rows = {}
    for line in lines[1:]:
        fields = line.split()
        rows[fields[0]] = np.array([np.nan if v == "NA" else float(v) for v in fields[1:]])
    return header, rows


@dataclass
class Diff:
    """Worst differences over all compared rows."""

    rows: int = 0
    beta_rel: float = 0.0
    se_rel: float = 0.0
    log10p_abs: float = 0.0
    loco_r_min: float = 1.0
    last_digit: int = 0  # A1FREQ/INFO printed one unit apart in the 6th significant digit (summation order)
    corrected_rows: int = 0  # rows regenie printed below --pThresh or as TEST_FAIL (with --spa / --firth)
    corrected_beta_rel: float = 0.0  # the worst differences over those rows
    corrected_se_rel: float = 0.0
    corrected_log10p_abs: float = 0.0
    test_fail_rows: int = 0
    mismatches: list[str] = field(default_factory=list)

    def merge(self, other: Diff) -> None:
        self.rows += other.rows
        self.corrected_rows += other.corrected_rows
        self.test_fail_rows += other.test_fail_rows
        self.corrected_beta_rel = max(self.corrected_beta_rel, other.corrected_beta_rel)
        self.corrected_se_rel = max(self.corrected_se_rel, other.corrected_se_rel)
        self.corrected_log10p_abs = max(self.corrected_log10p_abs, other.corrected_log10p_abs)
        self.beta_rel = max(self.beta_rel, other.beta_rel)
        self.se_rel = max(self.se_rel, other.se_rel)
        self.log10p_abs = max(self.log10p_abs, other.log10p_abs)
        self.loco_r_min = min(self.loco_r_min, other.loco_r_min)
        self.last_digit += other.last_digit
        self.mismatches += other.mismatches


def compare_loco(ours: Path, theirs: Path) -> Diff:
    """LOCO predictions of every trait: same samples, same NA entries, r per chromosome."""
    diff = Diff()
    mine, ref = _pred_list(ours), _pred_list(theirs)
    if sorted(mine) != sorted(ref):
        diff.mismatches.append(f"pred.list traits {sorted(mine)} != {sorted(ref)}")
        return diff
    for trait in ref:
        h1, r1 = _read_loco(mine[trait])
        h2, r2 = _read_loco(ref[trait])
        if h1 != h2:
            diff.mismatches.append(f"{trait}: LOCO header differs ({len(h1)} vs {len(h2)} fields)")
            continue
        for chrom in r2:
            a, b = r1.get(chrom), r2[chrom]
            if a is None or not np.array_equal(np.isnan(a), np.isnan(b)):
                diff.mismatches.append(f"{trait} chr {chrom}: NA pattern differs")
                continue
            seen = ~np.isnan(b)
            r = float(np.corrcoef(a[seen], b[seen])[0, 1]) if seen.sum() > 2 and np.std(b[seen]) > 0 else 1.0
            diff.loco_r_min = min(diff.loco_r_min, r)
    return diff


def _read_results(path: Path) -> tuple[list[str], dict[str, list[str]]]:
    lines = path.read_text().splitlines()
    return lines[0].split(), {line.split()[2]: line.split() for line in lines[1:]}


def _num(text: str) -> float:
    return np.nan if text == "NA" else float(text)


def _one_unit_apart(a: str, b: str) -> bool:
    """Whether two 6-significant-digit numbers differ by one unit in the last digit (a value at a rounding
    boundary, where the order of a floating-point sum decides the printed digit)."""
    x, y = float(a), float(b)
    if y == 0.0:
        return False
    unit = 10.0 ** (np.floor(np.log10(abs(y))) - 5)
    return abs(x - y) <= 1.01 * unit


def _add_corrected(diff: Diff, beta: tuple[float, float], se: tuple[float, float], log10p: tuple[float, float],
                   test_fail: bool) -> None:
    """Count a corrected row and its differences (``(ours, theirs)`` pairs) in the ``corrected_*`` fields."""
    diff.corrected_rows += 1
    diff.test_fail_rows += int(test_fail)
    if not np.isnan(beta[1]):
        diff.corrected_beta_rel = max(diff.corrected_beta_rel, abs(beta[0] - beta[1]) / max(abs(beta[1]), 1e-300))
        diff.corrected_se_rel = max(diff.corrected_se_rel, abs(se[0] - se[1]) / max(abs(se[1]), 1e-300))
    if not np.isnan(log10p[1]):
        diff.corrected_log10p_abs = max(diff.corrected_log10p_abs, abs(log10p[0] - log10p[1]))


def compare_step2(ours: Path, theirs: Path, traits: list[str], *, exact: tuple[str, ...] = (),
                  pthresh: float | None = None) -> Diff:
    """Every row of every trait's ``.regenie`` file.

    With ``pthresh`` (a run with ``--spa`` or ``--firth``), the rows regenie
    printed with a p-value below it or as ``TEST_FAIL`` (the corrected ones,
    up to a correction that moved the p-value across the threshold) are also
    counted and compared on their own, in the ``corrected_*`` fields.
    """
    diff = Diff()
    for trait in traits:
        mine_path, ref_path = Path(f"{ours}_{trait}.regenie"), Path(f"{theirs}_{trait}.regenie")
        if not ref_path.is_file():
            if mine_path.is_file():
                diff.mismatches.append(f"{trait}: regenie wrote no results, we did")
            continue
        if not mine_path.is_file():
            diff.mismatches.append(f"{trait}: no result file from the built-in engine")
            continue
        h1, rows1 = _read_results(mine_path)
        h2, rows2 = _read_results(ref_path)
        if h1 != h2:
            diff.mismatches.append(f"{trait}: header {h1} != {h2}")
            continue
        if list(rows1) != list(rows2):
            only = sorted(set(rows1) ^ set(rows2))[:5]
            diff.mismatches.append(f"{trait}: variant sets differ ({len(rows1)} vs {len(rows2)} rows, e.g. {only})")
            continue
        col = {name: i for i, name in enumerate(h2)}
        same = [c for c in ("CHROM", "GENPOS", "ALLELE0", "ALLELE1", "A1FREQ", "INFO", "N", "TEST", "EXTRA",
                            *exact) if c in col]
        for vid, ref in rows2.items():
            got = rows1[vid]
            for c in same:
                if got[col[c]] == ref[col[c]]:
                    continue
                if c in ("A1FREQ", "INFO") and _one_unit_apart(got[col[c]], ref[col[c]]):
                    diff.last_digit += 1
                    continue
                diff.mismatches.append(f"{trait} {vid}: {c} {got[col[c]]} != {ref[col[c]]}")
            b1, b2 = _num(got[col["BETA"]]), _num(ref[col["BETA"]])
            s1, s2 = _num(got[col["SE"]]), _num(ref[col["SE"]])
            p1, p2 = _num(got[col["LOG10P"]]), _num(ref[col["LOG10P"]])
            if np.isnan(b1) != np.isnan(b2) or np.isnan(p1) != np.isnan(p2):
                diff.mismatches.append(f"{trait} {vid}: NA differs ({got[8:12]} vs {ref[8:12]})")
                continue
            failed = "TEST_FAIL" in ref[col["EXTRA"]]
            if pthresh is not None and (failed or p2 > -np.log10(pthresh)):
                _add_corrected(diff, (b1, b2), (s1, s2), (p1, p2), failed)
            if not np.isnan(b2):
                diff.beta_rel = max(diff.beta_rel, abs(b1 - b2) / max(abs(b2), 1e-300))
                diff.se_rel = max(diff.se_rel, abs(s1 - s2) / max(abs(s2), 1e-300))
            if not np.isnan(p2):
                diff.log10p_abs = max(diff.log10p_abs, abs(p1 - p2))
            diff.rows += 1
    return diff
