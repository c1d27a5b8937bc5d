"""``gwasflow selftest``: check an installation end to end against real regenie outputs.

Runs the built-in engine on regenie's example data shipped in
``gwasflow/regenie/reference/`` (see its README), in a temporary folder, and
compares the numbers with what regenie v4.1.2 wrote, at the tolerances of the
engine's contract: step 2 ``A1FREQ`` within 1e-4, ``BETA``/``SE`` within 1e-4
relative, ``LOG10P`` within 1e-3 absolute, same variants, alleles and ``N``;
step 1 LOCO predictions correlated with regenie's at r > 0.99 for every
phenotype and chromosome. Prints one line per check and returns 0 when all
pass, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["Check", "main", "reference_dir", "run_checks"]

STEP2_TOLERANCES = {"A1FREQ": 1e-4, "BETA": 1e-4, "SE": 1e-4, "LOG10P": 1e-3}
MIN_LOCO_R = 0.99
_RELATIVE = {"BETA", "SE"}


@dataclass(frozen=True)
class Check:
    """One line of the self-test table."""

    name: str
    measure: str
    worst: float
    limit: float
    passed: bool
    seconds: float
    note: str = ""


def reference_dir() -> Path:
    """The folder of the shipped reference files."""
    return Path(str(resources.files("gwasflow.regenie") / "reference"))


def _unpack(reference: Path, work: Path) -> None:
    for path in reference.iterdir():
        if path.name == "README.md" or not path.is_file():
            continue
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as src, (work / path.stem).open("wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            shutil.copy(path, work / path.name)
    (work / "qt_step1_pred.list").write_text(f"Y1 {work / 'qt_step1_1.loco'}\nY2 {work / 'qt_step1_2.loco'}\n")


def _engine(argv: list[str]) -> None:
    from gwasflow.regenie.cli import main as engine_main

    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        code = engine_main(argv)
    if code != 0:
        raise RuntimeError(f"engine exited {code}: {errors.getvalue().strip()}")


def _read_regenie(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text().splitlines()
    return lines[0].split(), [line.split() for line in lines[1:]]


def _step2_worst(ours: Path, theirs: Path) -> tuple[float, str]:
    """Worst difference scaled by its tolerance (<= 1 passes) and which column it is in."""
    header, rows = _read_regenie(ours)
    ref_header, ref_rows = _read_regenie(theirs)
    if header != ref_header or len(rows) != len(ref_rows):
        return float("inf"), "different header or number of rows"
    numeric = {header.index(c) for c in ("A1FREQ", "INFO", "BETA", "SE", "CHISQ", "LOG10P") if c in header}
    for row, ref in zip(rows, ref_rows, strict=True):
        if [v for i, v in enumerate(row) if i not in numeric] != [v for i, v in enumerate(ref) if i not in numeric]:
            return float("inf"), f"variant {ref[2]}: identifiers, alleles or N differ"
    worst, where = 0.0, ""
    for column, tol in STEP2_TOLERANCES.items():
        i = header.index(column)
        got = np.array([float(r[i]) for r in rows])
        want = np.array([float(r[i]) for r in ref_rows])
        diff = np.abs(got / want - 1) if column in _RELATIVE else np.abs(got - want)
        scaled = float(np.max(diff)) / tol
        if scaled >= worst:
            worst, where = scaled, f"{column} {float(np.max(diff)):.2g}"
    return worst, where


def _timed(name: str, run: Callable[[], tuple[float, str]], measure: str, limit: float,
           higher_is_better: bool = False) -> Check:
    start = time.perf_counter()
    try:
        value, note = run()
    except Exception as exc:  # a self-test reports every failure as a row
        return Check(name, measure, float("nan"), limit, False, time.perf_counter() - start, f"error: {exc}")
    passed = value > limit if higher_is_better else value <= limit
    return Check(name, measure, value, limit, passed, time.perf_counter() - start, note)


def _inputs(work: Path) -> list[str]:
    return ["--covarFile", str(work / "covariates.txt"), "--phenoFile", str(work / "phenotype.txt")]


def _check_step2(work: Path, fmt: str) -> tuple[float, str]:
    if fmt == "bed":
        geno = ["--bed", str(work / "example_3chr")]
        reference = "qt_step2"
    else:
        geno = ["--bgen", str(work / "example_3chr.bgen"), "--sample", str(work / "example_3chr.sample"),
                "--ref-first"]
        reference = "qt_step2_bgen"
    out = work / f"ours_{fmt}"
    _engine(["--step", "2", *geno, *_inputs(work), "--bsize", "200", "--pred", str(work / "qt_step1_pred.list"),
             "--out", str(out)])
    results = [_step2_worst(work / f"ours_{fmt}_{p}.regenie", work / f"{reference}_{p}.regenie") for p in ("Y1", "Y2")]
    return max(results)


def _loco_rows(path: Path) -> dict[str, np.ndarray]:
    """Chromosome -> predictions of a .loco file (header skipped)."""
    rows = (line.split() for line in path.read_text().splitlines()[1:])
    return {fields[0]: np.array(fields[1:], dtype=float) for fields in rows}


def _check_step1(work: Path) -> tuple[float, str]:
    _engine(["--step", "1", "--bed", str(work / "example_3chr"), *_inputs(work), "--bsize", "100",
             "--out", str(work / "ours_step1")])
    lowest, where = 1.0, ""
    for k in (1, 2):
        ours = _loco_rows(work / f"ours_step1_{k}.loco")
        theirs = _loco_rows(work / f"qt_step1_{k}.loco")
        if sorted(ours) != sorted(theirs):
            return -1.0, "different chromosome rows"
        for chrom, values in theirs.items():
            r = float(np.corrcoef(ours[chrom], values)[0, 1])
            if r < lowest:
                lowest, where = r, f"Y{k} chromosome {chrom}"
    return lowest, where


def run_checks(work: Path) -> list[Check]:
    """Unpack the reference files into ``work`` and run every check there."""
    _unpack(reference_dir(), work)
    return [
        _timed("step 2, .bed, --pred", lambda: _check_step2(work, "bed"), "worst diff / tolerance", 1.0),
        _timed("step 2, .bgen, --ref-first --pred", lambda: _check_step2(work, "bgen"), "worst diff / tolerance", 1.0),
        _timed("step 1 LOCO vs regenie", lambda: _check_step1(work), "lowest r", MIN_LOCO_R, higher_is_better=True),
    ]


def _print_table(checks: list[Check]) -> None:
    print(f"{'check':<36} {'measure':<24} {'value':>10} {'limit':>8} {'time':>7}  result")
    for c in checks:
        print(f"{c.name:<36} {c.measure:<24} {c.worst:>10.4g} {c.limit:>8g} {c.seconds:>6.2f}s  "
              f"{'PASS' if c.passed else 'FAIL'}{'  (' + c.note + ')' if c.note else ''}")
    failed = sum(not c.passed for c in checks)
    print("selftest: all checks passed" if not failed else f"selftest: {failed} of {len(checks)} checks FAILED")


def main(argv: list[str]) -> int:
    """``gwasflow selftest [--keep DIR]``: run the checks, print the table, return 0 if all pass."""
    parser = argparse.ArgumentParser(prog="gwasflow selftest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, default=None, help="work in DIR and keep its files (default: a temp dir)")
    args = parser.parse_args(argv)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        checks = run_checks(args.keep)
    else:
        with tempfile.TemporaryDirectory(prefix="gwasflow_selftest_") as folder:
            checks = run_checks(Path(folder))
    _print_table(checks)
    return 0 if all(c.passed for c in checks) else 1


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
