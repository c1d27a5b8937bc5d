"""Summary statistics for the next tool: a merged regenie result as GWAS-SSF v1.0.

GWAS-SSF is the GWAS Catalog's format (https://github.com/EBISPOT/gwas-summary-statistics-standard,
specification v1.0): a tab-separated table, here gzip-compressed, whose first eight columns are fixed

    chromosome base_pair_location effect_allele other_allele beta standard_error
    effect_allele_frequency p_value (or neg_log_10_p_value)

followed by the encouraged ``variant_id``, ``rsid``, ``n`` and, when regenie wrote it, ``info``; missing
values are ``#NA``. Beside it, ``<file>-meta.yaml`` describes the file (name, MD5, genome assembly,
coordinate system, trait, sample size, analysis software, covariates, sortedness).

From regenie's columns: ALLELE1 is the effect allele (regenie's BETA is per copy of ALLELE1), ALLELE0
the other one; A1FREQ the effect allele frequency; chromosomes 1-22, X = 23, Y = 24, MT = 25 (PLINK's
codes 23, 24 and 26 are read as X, Y and MT). The p-value is written from LOG10P as decimal text, so a
p-value below the smallest double (LOG10P above 307) is still written exactly (``5.01187e-351``).
``variant_id`` joins chromosome, position, ALLELE0 and ALLELE1 (regenie's reference-first order);
``rsid`` is the variant ID when it is an rsID. Rows a GWAS-SSF file cannot hold are left out and
counted by :class:`Skip` reason: a mandatory statistic that is NA (a failed test), an allele outside
``[ACGT]+``, a chromosome without a GWAS-SSF number (PLINK's XY, contigs), a test other than ADD.
The merged result is sorted by chromosome then position, and so is the export; a row out of that order
is an error rather than a file that claims ``is_sorted: true`` falsely.
"""

from __future__ import annotations

import enum
import functools
import gzip
import hashlib
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from gwasflow.errors import GwasflowError

__all__ = [
    "FILE_TYPE",
    "REQUIRED_COLUMNS",
    "Skip",
    "SsfTable",
    "SumstatsError",
    "p_value_text",
    "write_ssf_table",
]

FILE_TYPE = "GWAS-SSF v1.0"
NA = "#NA"
REQUIRED_COLUMNS = ("CHROM", "GENPOS", "ID", "ALLELE0", "ALLELE1", "A1FREQ", "N", "BETA", "SE", "LOG10P")
_ALLELE = re.compile(r"^[ACGT]+$")
_RSID = re.compile(r"^rs[0-9]+$")
_CHR_PREFIX = re.compile(r"^chr", re.IGNORECASE)
_NAMED = {"X": 23, "Y": 24, "MT": 25, "M": 25}
_PLINK_CODES = {23: 23, 24: 24, 26: 25}  # PLINK's X, Y, MT; 25 (XY) has no GWAS-SSF number
_SMALLEST_NORMAL_LOG10P = 307.0


class SumstatsError(GwasflowError):
    """The merged result cannot be exported (missing column, rows out of order, bad option)."""

    exit_code = 2


class Skip(enum.StrEnum):
    """Why a row of the merged result is not in the GWAS-SSF file."""

    MISSING_STATISTIC = "missing_statistic"  # BETA, SE, A1FREQ or LOG10P is NA or not a number
    ALLELE = "allele"  # an allele outside [ACGT]+
    CHROMOSOME = "chromosome"  # no GWAS-SSF number (XY, contigs)
    OTHER_TEST = "other_test"  # TEST is not ADD


@dataclass
class SsfTable:
    """What :func:`write_ssf_table` wrote: rows, rows left out by reason, the largest N, the file's MD5."""

    rows: int = 0
    skipped: dict[Skip, int] = field(default_factory=dict)
    max_n: int = 0
    md5: str = ""
    has_info: bool = False


@functools.lru_cache(maxsize=256)
def ssf_chromosome(name: str) -> int | None:
    """GWAS-SSF's number for a chromosome name (1-25), or None when it has none."""
    bare = _CHR_PREFIX.sub("", name).upper()
    if bare.isdigit():
        number = int(bare)
        return number if 1 <= number <= 22 else _PLINK_CODES.get(number)
    return _NAMED.get(bare)


def p_value_text(log10p: float) -> str:
    """``10 ** -log10p`` as text with 6 significant digits, exact even below the smallest double."""
    if log10p <= 0:
        return "1"
    if log10p < _SMALLEST_NORMAL_LOG10P:
        return f"{10.0 ** -log10p:.6g}"
    exponent = math.floor(-log10p)
    mantissa = 10.0 ** (-log10p - exponent)
    text = f"{mantissa:.5f}"
    if text.startswith("10."):  # rounding reached the next power of ten
        text, exponent = "1.00000", exponent + 1
    return f"{text}e{exponent}"


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class _Columns:
    """Where each regenie column is in a merged result's header."""

    def __init__(self, header: list[str], source: Path) -> None:
        lacking = [c for c in REQUIRED_COLUMNS if c not in header]
        if lacking:
            raise SumstatsError(f"{source}: line 1: no {', '.join(lacking)} column (not a regenie result?)")
        at = {name: i for i, name in enumerate(header)}
        self.chrom, self.pos, self.id = at["CHROM"], at["GENPOS"], at["ID"]
        self.a0, self.a1, self.freq, self.n = at["ALLELE0"], at["ALLELE1"], at["A1FREQ"], at["N"]
        self.beta, self.se, self.log10p = at["BETA"], at["SE"], at["LOG10P"]
        self.info = at.get("INFO")
        self.test = at.get("TEST")
        self.width = len(header)


def _ssf_header(columns: _Columns, *, neg_log10_p: bool) -> str:
    p_column = "neg_log_10_p_value" if neg_log10_p else "p_value"
    names = ["chromosome", "base_pair_location", "effect_allele", "other_allele", "beta", "standard_error",
             "effect_allele_frequency", p_column, "variant_id", "rsid", "n"]
    return "\t".join([*names, *(["info"] if columns.info is not None else [])]) + "\n"


def _ssf_row(fields: list[str], c: _Columns, *, neg_log10_p: bool) -> tuple[str, int, int] | Skip:
    """(the GWAS-SSF line, its chromosome number, its position) or why the row is left out."""
    if c.test is not None and fields[c.test] != "ADD":
        return Skip.OTHER_TEST
    chrom = ssf_chromosome(fields[c.chrom])
    if chrom is None:
        return Skip.CHROMOSOME
    a0, a1 = fields[c.a0].upper(), fields[c.a1].upper()
    if not (_ALLELE.match(a0) and _ALLELE.match(a1)):
        return Skip.ALLELE
    stats = (fields[c.beta], fields[c.se], fields[c.freq])
    try:
        log10p = float(fields[c.log10p])
        finite = math.isfinite(log10p + float(stats[0]) + float(stats[1]) + float(stats[2]))
    except ValueError:
        finite = False
    if not finite:
        return Skip.MISSING_STATISTIC
    pos = fields[c.pos]
    p_text = fields[c.log10p] if neg_log10_p else p_value_text(log10p)
    rsid = fields[c.id] if _RSID.match(fields[c.id]) else NA
    n = fields[c.n] if _number(fields[c.n]) is not None else NA
    cells = [str(chrom), pos, a1, a0, *stats[:2], stats[2], p_text, f"{chrom}_{pos}_{a0}_{a1}", rsid, n]
    if c.info is not None:
        cells.append(fields[c.info] if _number(fields[c.info]) is not None else NA)
    return "\t".join(cells) + "\n", chrom, int(pos)


def _fields(handle: IO[str], source: Path, width: int) -> Iterator[tuple[int, list[str]]]:
    for number, line in enumerate(handle, start=2):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != width or not fields[1].isdigit():
            raise SumstatsError(f"{source}: line {number}: {len(fields)} fields, the header {width}, "
                                "or a GENPOS that is not an integer")
        yield number, fields


def write_ssf_table(source: Path, dest: Path, *, neg_log10_p: bool = False) -> SsfTable:
    """Write the GWAS-SSF table of the merged regenie result ``source`` (gzip) to ``dest`` (gzip)."""
    table = SsfTable()
    last = (0, 0)
    with gzip.open(source, "rt", encoding="utf-8") as handle, _gzip_text(dest) as out:
        columns = _Columns(handle.readline().split(), source)
        table.has_info = columns.info is not None
        out.write(_ssf_header(columns, neg_log10_p=neg_log10_p))
        for number, fields in _fields(handle, source, columns.width):
            row = _ssf_row(fields, columns, neg_log10_p=neg_log10_p)
            if isinstance(row, Skip):
                table.skipped[row] = table.skipped.get(row, 0) + 1
                continue
            line, chrom, pos = row
            if (chrom, pos) < last:
                raise SumstatsError(f"{source}: line {number}: chromosome {chrom} position {pos} comes after "
                                    f"chromosome {last[0]} position {last[1]}; the result is not sorted")
            last = (chrom, pos)
            out.write(line)
            table.rows += 1
            n = _number(fields[columns.n])
            table.max_n = max(table.max_n, int(n) if n is not None else 0)
    digest = hashlib.md5(usedforsecurity=False)
    with dest.open("rb") as written:
        for chunk in iter(lambda: written.read(1 << 20), b""):
            digest.update(chunk)
    table.md5 = digest.hexdigest()
    return table


def _gzip_text(path: Path) -> io.TextIOWrapper:
    """Text into gzip with a fixed header (no name, time 0): the same table gives the same bytes and MD5."""
    raw = path.open("wb")
    return _ClosingText(gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0), raw)


class _ClosingText(io.TextIOWrapper):
    """Text over a ``GzipFile`` that also closes the file under it."""

    def __init__(self, packed: gzip.GzipFile, raw: IO[bytes]) -> None:
        super().__init__(packed, encoding="utf-8", newline="")
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()
