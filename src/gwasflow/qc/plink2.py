"""The QC stage run by the real plink2 (argv lists only), its outputs parsed into a :class:`QcResult`.

Two commands, as regenie's and nf-gwas's documentation write them:

* ``plink2 --bfile P [--maf] [--mac] [--geno] [--mind] [--hwe] --write-snplist --write-samples --out W/qc``
* with pruning: ``plink2 --bfile P --extract W/qc.snplist --keep W/qc.id --indep-pairwise N S R2 --out W/prune``

Counts per filter come from plink2's log lines; the kept lists from ``qc.snplist``,
``qc.id`` and ``prune.prune.in``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from gwasflow.errors import EngineInputError
from gwasflow.qc.model import GenotypeFormat, QcConfig, QcEngine, QcFilter, QcResult

__all__ = ["filter_argv", "find_plink2", "parse_log_counts", "prune_argv", "resource_flags", "run_plink2_qc"]

_LOG_PATTERNS: dict[QcFilter, re.Pattern[str]] = {
    QcFilter.MIND: re.compile(r"^(\d+) samples? removed due to missing genotype data \(--mind\)", re.M),
    QcFilter.GENO: re.compile(r"^--geno: (\d+) variants? removed due to missing genotype data", re.M),
    QcFilter.HWE: re.compile(r"^--hwe[^:]*: (\d+) variants? removed due to Hardy-Weinberg exact test", re.M),
    QcFilter.MAF_MAC: re.compile(r"^(\d+) variants? removed due to allele frequency threshold", re.M),
}


def find_plink2() -> str | None:
    """The plink2 program on PATH, or ``None``."""
    return shutil.which("plink2")


def _num(value: float) -> str:
    return repr(float(value))


_INPUT_FLAG = {GenotypeFormat.BED: "--bfile", GenotypeFormat.PGEN: "--pfile"}
_FILES = {GenotypeFormat.BED: ("bed", "bim", "fam"), GenotypeFormat.PGEN: ("pgen", "pvar", "psam")}


def filter_argv(program: str, prefix: str, config: QcConfig, out: Path, kind: GenotypeFormat = GenotypeFormat.BED,
                ) -> list[str]:
    """plink2's argv for the sample and variant filters of ``config``."""
    argv = [program, _INPUT_FLAG[kind], prefix]
    for flag, value in (("--maf", config.maf), ("--mac", config.mac), ("--geno", config.geno),
                        ("--mind", config.mind), ("--hwe", config.hwe)):
        if value is not None:
            argv += [flag, _num(value)]
    return [*argv, "--write-snplist", "--write-samples", "--out", str(out)]


def prune_argv(program: str, prefix: str, config: QcConfig, snplist: Path, samples: Path, out: Path,
               kind: GenotypeFormat = GenotypeFormat.BED) -> list[str]:
    """plink2's argv for ``--indep-pairwise`` over the variants and samples the filters kept."""
    if config.prune is None:
        raise ValueError("prune_argv: the config has no pruning")
    p = config.prune
    return [program, _INPUT_FLAG[kind], prefix, "--extract", str(snplist), "--keep", str(samples),
            "--indep-pairwise", str(p.window), str(p.step), _num(p.r2), "--out", str(out)]


def parse_log_counts(log_text: str, config: QcConfig) -> dict[QcFilter, int]:
    """Removed counts per filter from a plink2 log; a filter that was asked for but not logged removed 0."""
    asked = {QcFilter.MIND: config.mind, QcFilter.GENO: config.geno, QcFilter.HWE: config.hwe,
             QcFilter.MAF_MAC: config.maf if config.maf is not None else config.mac}
    counts: dict[QcFilter, int] = {}
    for name, pattern in _LOG_PATTERNS.items():
        if asked[name] is None:
            continue
        match = pattern.search(log_text)
        counts[name] = int(match.group(1)) if match else 0
    return counts


def _run(argv: list[str], log: Path) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    text = log.read_text(errors="replace") if log.is_file() else done.stdout
    if done.returncode != 0:
        errors = [line for line in (text + "\n" + done.stderr).splitlines() if line.startswith("Error")]
        reason = errors[-1] if errors else f"exit status {done.returncode}"
        raise EngineInputError(f"plink2 failed ({' '.join(argv[:3])} ...): {reason}")
    return text


def _read_ids(path: Path) -> list[str]:
    return [line.split()[0] for line in path.read_text().splitlines() if line.strip()]


def _read_samples(path: Path) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    fid_col: int | None = 0
    iid_col = 1
    for line in path.read_text().splitlines():
        fields = line.split()
        if not fields:
            continue
        if fields[0].startswith("#"):
            header = [fields[0][1:], *fields[1:]]
            iid_col = header.index("IID")
            fid_col = header.index("FID") if "FID" in header else None
            continue
        rows.append((fields[iid_col] if fid_col is None else fields[fid_col], fields[iid_col]))
    return rows


def _count_lines(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))


def resource_flags(threads: int | None, memory_mb: int | None) -> list[str]:
    """plink2's ``--threads`` and ``--memory`` (MiB) for a job's allocation; plink2 otherwise takes every core
    and half the machine's memory."""
    flags: list[str] = []
    if threads is not None:
        flags += ["--threads", str(threads)]
    if memory_mb is not None:
        flags += ["--memory", str(memory_mb)]
    return flags


def run_plink2_qc(prefix: str, config: QcConfig, kind: GenotypeFormat = GenotypeFormat.BED, *,
                  program: str | None = None, threads: int | None = None, memory_mb: int | None = None,
                  ) -> QcResult:
    """Run plink2's filters (and pruning) on ``PREFIX.bed/.bim/.fam`` (or .pgen) in a temporary folder."""
    binary = program or find_plink2()
    if binary is None:
        raise EngineInputError("qc: --engine plink2 needs the plink2 program on PATH (Debian: apt-get install plink2)")
    genotypes, variants, samples_file = _FILES[kind]
    for ext in _FILES[kind]:
        if not Path(f"{prefix}.{ext}").is_file():
            raise EngineInputError(f"--{genotypes}: {ext} file not found: {prefix}.{ext}")
    with tempfile.TemporaryDirectory(prefix="gwasflow-qc-") as tmp:
        work = Path(tmp)
        extra = resource_flags(threads, memory_mb)
        log = _run([*filter_argv(binary, prefix, config, work / "qc", kind), *extra], work / "qc.log")
        removed = parse_log_counts(log, config)
        variant_ids = _read_ids(work / "qc.snplist")
        samples = _read_samples(work / "qc.id")
        if config.prune is not None:
            _run([*prune_argv(binary, prefix, config, work / "qc.snplist", work / "qc.id", work / "prune", kind),
                  *extra], work / "prune.log")
            kept = set(_read_ids(work / "prune.prune.in"))
            removed[QcFilter.PRUNE] = _count_lines(work / "prune.prune.out")
            variant_ids = [v for v in variant_ids if v in kept]
        n_variants = _count_lines(Path(f"{prefix}.{variants}"))
        n_samples = _count_lines(Path(f"{prefix}.{samples_file}"))
    return QcResult(engine=QcEngine.PLINK2, variant_ids=tuple(variant_ids), samples=tuple(samples),
                    n_variants_in=n_variants, n_samples_in=n_samples, removed=removed)
