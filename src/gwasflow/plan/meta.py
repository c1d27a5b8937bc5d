"""Dataset metadata: what the planner needs to know about a PLINK file set (``.pgen`` and BGEN files:
``plan/genofiles.py``).

:func:`read_dataset_meta` reads the ``.bim`` (chromosome and position of
every variant) and the ``.fam`` (number of samples) of one PLINK prefix. It
is written for size: a 1M-line ``.bim`` is tokenized in one ``bytes.split``
and converted with numpy, about a second.

:func:`scan_dataset` does the same and also returns the sample ids and every
problem it finds (bad field counts, non-numeric positions, unsorted
positions, a ``.bed`` of the wrong size); ``gwasflow.validate`` turns those
into :class:`~gwasflow.errors.Problem`\\ s naming the spec field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gwasflow.spec.genotypes import GenoFormat

__all__ = [
    "BED_MAGIC",
    "DatasetFileError",
    "DatasetMeta",
    "DatasetScan",
    "FileIssue",
    "check_order",
    "expected_bed_size",
    "read_dataset_meta",
    "scan_dataset",
]

#: The first three bytes of a SNP-major PLINK 1 ``.bed`` file.
BED_MAGIC = b"\x6c\x1b\x01"
_MAX_LINE_ISSUES = 5


@dataclass(frozen=True)
class DatasetMeta:
    """Shape and variant positions of one genotype file set, in file order.

    ``prefix`` is the PLINK prefix (``fmt`` bed or pgen) or the BGEN file; ``sample``, ``ref_first`` and
    ``min_info`` are the dataset's options; ``step1_only`` marks ``step1.genotypes``, which step 2 does
    not test.
    """

    label: str
    prefix: str
    n_samples: int
    n_variants: int
    chrom: npt.NDArray[np.str_]
    pos: npt.NDArray[np.int64]
    fmt: GenoFormat = GenoFormat.BED
    sample: str | None = None
    ref_first: bool = False
    min_info: float | None = None
    step1_only: bool = False

    def files(self) -> tuple[str, ...]:
        """Every file a job reading this set needs."""
        if self.fmt is GenoFormat.BGEN:
            return (self.prefix,) if self.sample is None else (self.prefix, self.sample)
        exts = ("bed", "bim", "fam") if self.fmt is GenoFormat.BED else ("pgen", "pvar", "psam")
        return tuple(f"{self.prefix}.{ext}" for ext in exts)


@dataclass(frozen=True)
class FileIssue:
    """One problem in one file, with its 1-based line when there is one."""

    file: str
    message: str
    line: int | None = None


class DatasetFileError(ValueError):
    """A PLINK file set cannot be read; ``issues`` lists every problem found."""

    def __init__(self, issues: list[FileIssue]) -> None:
        self.issues = list(issues)
        super().__init__("; ".join(f"{i.file}:{i.line or '-'}: {i.message}" for i in issues))


@dataclass
class DatasetScan:
    """Everything :func:`scan_dataset` learned. ``meta`` is None when a file is unusable."""

    meta: DatasetMeta | None
    sample_ids: list[tuple[str, str]] = field(default_factory=list)
    issues: list[FileIssue] = field(default_factory=list)


def expected_bed_size(n_samples: int, n_variants: int) -> int:
    """Bytes of a SNP-major ``.bed``: 3 magic bytes + ceil(n_samples / 4) per variant."""
    return 3 + (n_samples + 3) // 4 * n_variants


def read_dataset_meta(label: str, prefix: str) -> DatasetMeta:
    """Read ``<prefix>.bim`` and ``<prefix>.fam``; raise :class:`DatasetFileError` on any problem."""
    scan = scan_dataset(label, prefix)
    if scan.issues or scan.meta is None:
        raise DatasetFileError(scan.issues or [FileIssue(prefix, "cannot read dataset")])
    return scan.meta


def scan_dataset(label: str, prefix: str) -> DatasetScan:
    """Read and check ``<prefix>.bed/.bim/.fam``; collect every problem instead of raising."""
    issues: list[FileIssue] = []
    paths = {ext: f"{prefix}.{ext}" for ext in ("bed", "bim", "fam")}
    missing = [p for p in paths.values() if not os.path.isfile(p)]
    issues.extend(FileIssue(p, "file not found") for p in missing)
    ids: list[tuple[str, str]] = []
    chrom_pos: tuple[npt.NDArray[np.str_], npt.NDArray[np.int64]] | None = None
    if paths["fam"] not in missing:
        ids = _read_fam(paths["fam"], issues)
    if paths["bim"] not in missing:
        chrom_pos = _read_bim(paths["bim"], issues)
    if chrom_pos is None or paths["fam"] in missing:
        return DatasetScan(None, ids, issues)
    chrom, pos = chrom_pos
    if paths["bed"] not in missing:
        _check_bed(paths["bed"], len(ids), len(pos), issues)
    meta = DatasetMeta(label, prefix, len(ids), len(pos), chrom, pos)
    return DatasetScan(meta, ids, issues)


def _read_lines(path: str, issues: list[FileIssue]) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        issues.append(FileIssue(path, f"cannot read: {exc.strerror or exc}"))
        return None


def _bad_field_lines(data: bytes, n_fields: int, path: str) -> list[FileIssue]:
    """The slow path: locate lines whose field count is wrong (only run when counts disagree)."""
    out: list[FileIssue] = []
    for lineno, line in enumerate(data.splitlines(), start=1):
        n = len(line.split())
        if n not in (0, n_fields):
            out.append(FileIssue(path, f"expected {n_fields} fields, found {n}", lineno))
            if len(out) >= _MAX_LINE_ISSUES:
                break
    if not out:
        out.append(FileIssue(path, f"expected {n_fields} whitespace-separated fields per line"))
    return out


def _read_fam(path: str, issues: list[FileIssue]) -> list[tuple[str, str]]:
    data = _read_lines(path, issues)
    if data is None:
        return []
    lines = data.splitlines()
    tokens = data.split()
    if len(tokens) != 6 * len(lines) and not _fam_tolerates(lines):
        issues.extend(_bad_field_lines(data, 6, path))
        return []
    ids = [(parts[0].decode(), parts[1].decode()) for parts in (ln.split() for ln in lines) if parts]
    if not ids:
        issues.append(FileIssue(path, "no samples"))
    seen: dict[tuple[str, str], int] = {}
    dupes = 0
    for lineno, sid in enumerate(ids, start=1):
        if sid in seen:
            dupes += 1
            if dupes <= _MAX_LINE_ISSUES:
                issues.append(
                    FileIssue(path, f"duplicate sample {sid[0]} {sid[1]} (first on line {seen[sid]})", lineno)
                )
        else:
            seen[sid] = lineno
    return ids


def _fam_tolerates(lines: list[bytes]) -> bool:
    """True when every non-blank line has 6 fields (blank lines are ignored)."""
    return all(len(ln.split()) in (0, 6) for ln in lines)


def _read_bim(path: str, issues: list[FileIssue]) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.int64]] | None:
    data = _read_lines(path, issues)
    if data is None:
        return None
    tokens = data.split()
    n_lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    if (len(tokens) % 6 != 0 or len(tokens) // 6 != n_lines) and not _fam_tolerates(data.splitlines()):
        issues.extend(_bad_field_lines(data, 6, path))
        return None
    if not tokens:
        issues.append(FileIssue(path, "no variants"))
        return None
    chrom = np.array(tokens[0::6]).astype(np.str_)
    try:
        pos = np.array(tokens[3::6]).astype(np.int64)
    except ValueError:
        _report_bad_positions(tokens[3::6], path, issues)
        return None
    check_order(chrom, pos, path, issues)
    return chrom, pos


def _report_bad_positions(raw: list[bytes], path: str, issues: list[FileIssue]) -> None:
    found = 0
    for i, value in enumerate(raw):
        try:
            int(value)
        except ValueError:
            found += 1
            issues.append(FileIssue(path, f"position {value.decode(errors='replace')!r} is not an integer", i + 1))
            if found >= _MAX_LINE_ISSUES:
                break


def check_order(chrom: npt.NDArray[np.str_], pos: npt.NDArray[np.int64], path: str, issues: list[FileIssue]) -> None:
    """Each chromosome must be one contiguous run, sorted by position (step 2 shards use --range)."""
    if len(pos) < 2:
        return
    change = np.flatnonzero(chrom[1:] != chrom[:-1]) + 1
    starts = np.concatenate(([0], change))
    run_chroms = chrom[starts]
    seen: set[str] = set()
    for start, name in zip(starts.tolist(), run_chroms.tolist(), strict=True):
        if name in seen:
            issues.append(FileIssue(path, f"chromosome {name} is not contiguous (sort the .bim)", start + 1))
        seen.add(name)
    same = np.ones(len(pos) - 1, dtype=bool)
    same[change - 1] = False
    bad = np.flatnonzero(same & (pos[1:] < pos[:-1]))
    for i in bad[:_MAX_LINE_ISSUES].tolist():
        issues.append(
            FileIssue(path, f"position {pos[i + 1]} after {pos[i]} on chromosome {chrom[i]}: not sorted", i + 2)
        )
    if len(bad) > _MAX_LINE_ISSUES:
        issues.append(FileIssue(path, f"{len(bad) - _MAX_LINE_ISSUES} more unsorted positions"))


def _check_bed(path: str, n_samples: int, n_variants: int, issues: list[FileIssue]) -> None:
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            magic = fh.read(3)
    except OSError as exc:
        issues.append(FileIssue(path, f"cannot read: {exc.strerror or exc}"))
        return
    if magic != BED_MAGIC:
        issues.append(FileIssue(path, f"not a SNP-major PLINK .bed (magic bytes {magic.hex()}, want 6c1b01)"))
        return
    want = expected_bed_size(n_samples, n_variants)
    if n_samples and size != want:
        issues.append(
            FileIssue(
                path,
                f"size {size} bytes, expected {want} for {n_samples} samples x {n_variants} variants "
                "(3 + ceil(n_samples/4) * n_variants)",
            )
        )
