"""Run a real PLINK's ``--clump`` and read its output, as the reference for the built-in clumping.

The reference is, in order: the binary named by ``GWASFLOW_PLINK_CLUMP``; ``plink2`` when it has
``--clump`` (2.00a4 and later; Debian's 2.00a3.5 has not); ``plink1.9`` (Debian package ``plink1.9``,
installed by ``.ci/run``), whose ``--clump`` uses the same maximum-likelihood phased r2 on hard calls
and the same index, window and membership rules. Missing all of them is an error, not a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PlinkClump", "reference_plink", "run_plink_clump"]


@dataclass(frozen=True)
class PlinkClump:
    index: str
    total: int
    members: frozenset[str]  # SP2: the members with p <= p2


def _has_clump(binary: str) -> bool:
    done = subprocess.run([binary, "--help", "clump"], capture_output=True, text=True, timeout=60, check=False)
    return "--clump-p1" in done.stdout


def reference_plink() -> str:
    """The PLINK binary to compare with (see the module docstring)."""
    named = os.environ.get("GWASFLOW_PLINK_CLUMP")
    if named:
        return named
    plink2 = shutil.which("plink2")
    if plink2 and _has_clump(plink2):
        return plink2
    for name in ("plink1.9", "plink"):
        found = shutil.which(name)
        if found and _has_clump(found):
            return found
    raise FileNotFoundError("no PLINK with --clump: install Debian's plink1.9 (see .ci/run) or set "
                            "GWASFLOW_PLINK_CLUMP to a plink2 >= 2.00a4")


def run_plink_clump(binary: str, bfile: Path, results: Path, out: Path, *, p1: float, p2: float, r2: float,
                    kb: float) -> list[PlinkClump]:
    """``binary --bfile ... --clump results`` (columns ID and P); the clumps in the order PLINK wrote them."""
    argv = [binary, "--bfile", str(bfile), "--clump", str(results), "--clump-p1", repr(p1), "--clump-p2", repr(p2),
            "--clump-r2", repr(r2), "--clump-kb", repr(kb), "--out", str(out)]
    if Path(binary).name.startswith("plink1") or Path(binary).name == "plink":
        argv += ["--clump-snp-field", "ID", "--clump-field", "P"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stdout[-2000:]}")
    modern, legacy = out.with_name(out.name + ".clumps"), out.with_name(out.name + ".clumped")
    if modern.exists():
        return _read_clumps(modern)
    if legacy.exists():
        return _read_clumped(legacy)
    return []  # no index variant: PLINK writes no file


def _read_clumps(path: Path) -> list[PlinkClump]:
    lines = path.read_text().splitlines()
    header = lines[0].lstrip("#").split("\t")
    out = []
    for line in lines[1:]:
        row = dict(zip(header, line.split("\t"), strict=True))
        sp2 = frozenset() if row["SP2"] == "." else frozenset(row["SP2"].split(","))
        out.append(PlinkClump(row["ID"], int(row["TOTAL"]), sp2))
    return out


def _read_clumped(path: Path) -> list[PlinkClump]:
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    header = lines[0]
    out = []
    for fields in lines[1:]:
        row = dict(zip(header, fields, strict=True))
        sp2 = frozenset() if row["SP2"] == "NONE" else frozenset(m.split("(")[0] for m in row["SP2"].split(","))
        out.append(PlinkClump(row["SNP"], int(row["TOTAL"]), sp2))
    return out
