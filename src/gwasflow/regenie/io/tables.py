"""Phenotype and covariate tables, header ``FID IID col...``: the one reader of the engine and ``gwasflow validate``.

Fields are split as regenie v4.1.2 splits them (``string_split(line, "\\t ")``): every single tab or
space ends a field, a single trailing one is ignored. So an empty cell (two tabs in a row, or two
spaces, or a leading separator) is an error naming the file and line, never a missing value; so
is a blank line. A trailing carriage return (Windows line endings) is removed from every line.
A sample (``FID IID``) may appear once and a column name once; files are UTF-8.

Missing values: ``NA`` (regenie's token), and also ``nan`` and ``.``, each in any case.
Any other value of a numeric column must be a decimal number (``-1.5``, ``2e-3``) and finite:
``inf`` and values that overflow (``1e309``) are errors, where regenie would read ``inf``
as missing and other non-finite text as a number.

:func:`scan_text` does the work and collects every :class:`Issue`; the engine's readers
(:func:`read_header`, :func:`read_table`, :func:`read_text_table`) raise the first one as
:class:`EngineInputError` (``<file>: line <n>: <problem>``), ``gwasflow validate`` reports them
all. A file one accepts, the other accepts with the same values.
"""

from __future__ import annotations

import gc
import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gwasflow.errors import EngineInputError

__all__ = [
    "MISSING_TOKENS",
    "Issue",
    "SampleTable",
    "Scan",
    "TextTable",
    "forget_scans",
    "parse_number",
    "read_header",
    "read_table",
    "read_text_table",
    "scan_text",
    "split_fields",
]

#: The missing-value tokens of a phenotype/covariate cell, compared case-insensitively.
MISSING_TOKENS = ("NA", "nan", ".")
_MISSING = frozenset(t.lower() for t in MISSING_TOKENS)
_MISSING_HINT = "missing values: " + ", ".join(MISSING_TOKENS)
_NUMBER_TEXT = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"  # ASCII digits only
_NUMBER = re.compile(_NUMBER_TEXT)
_NOT_NUMERIC = re.compile(r"[^0-9+\-.eE\n]")  # a character no plain decimal has (lines apart)
_FIELD_END = re.compile(r"[\t ]")

# Issue kinds: validate caps how many of one kind it lists.
ROW = "rows with a wrong field count"
EMPTY = "rows with an empty field"
DUPLICATE = "duplicate sample ids"
VALUE = "non-numeric values"


@dataclass(frozen=True)
class Issue:
    """One problem of a table: ``line`` is 1-based (None for the whole file); ``column`` names the data column."""

    kind: str
    message: str
    line: int | None = None
    column: str | None = None

    def text(self, path: str) -> str:
        """The one-line message: ``<path>: line <n>: <message>``."""
        where = f"{path}: line {self.line}" if self.line is not None else path
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Scan:
    """The rows of a table, split; ``header`` is empty when line 1 is unusable.

    ``rows`` holds every row with the header's field count, as ``(line number, fields)``,
    ``keys`` the samples in first-seen order. ``issues`` lists what is wrong, in line order.
    """

    path: str
    header: list[str]
    rows: list[tuple[int, list[str]]]
    keys: list[tuple[str, str]]
    issues: list[Issue] = field(default_factory=list)

    def positions(self, names: list[str]) -> list[int]:
        """Header index of each of ``names`` (all present)."""
        return [self.header.index(name) for name in names]


@dataclass(frozen=True)
class SampleTable:
    """Numeric columns keyed by sample ``(FID, IID)``; NaN marks a missing value."""

    path: str
    columns: list[str]
    keys: list[tuple[str, str]]
    values: NDArray[np.float64]  # (n_rows, n_columns)

    def row_of(self) -> dict[tuple[str, str], int]:
        return {key: row for row, key in enumerate(self.keys)}


@dataclass(frozen=True)
class TextTable:
    """Columns kept as strings (categorical covariates); ``None`` marks a missing value."""

    columns: list[str]
    keys: list[tuple[str, str]]
    values: list[list[str | None]]  # per column, one value per row

    def row_of(self) -> dict[tuple[str, str], int]:
        return {key: row for row, key in enumerate(self.keys)}


# -- the shared reader ---------------------------------------------------------------------------


def split_fields(line: str) -> list[str]:
    """regenie's split: each tab or space ends a field (empty fields kept), one trailing one is dropped."""
    if line and line[-1] in "\t ":
        line = line[:-1]
    if "\t" not in line:
        return line.split(" ")  # the same fields as the pattern's split, without the regex engine
    if " " not in line:
        return line.split("\t")
    return _FIELD_END.split(line)


def is_missing(text: str) -> bool:
    """Whether a cell is a missing value (``NA``, ``nan``, ``.``, any case)."""
    return text.lower() in _MISSING


def parse_number(text: str) -> float:
    """The value of a numeric cell (NaN when missing); ValueError says what is wrong."""
    if is_missing(text):
        return math.nan
    value = float(text) if _NUMBER.fullmatch(text) else _loose_float(text)
    if value is None:
        raise ValueError(f"is not numeric ({_MISSING_HINT})")
    if not math.isfinite(value):
        raise ValueError(f"is not a finite number ({_MISSING_HINT})")
    return value


def _loose_float(text: str) -> float | None:
    """Python's reading of a cell that is not a plain decimal: kept only to name ``inf``/``-nan`` as non-finite."""
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isfinite(value) else value


def _text_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def scan_text(text: str, path: str) -> Scan:
    """Split the table ``text`` (read from ``path``, named in messages) and find what is wrong with its layout."""
    lines = _text_lines(text)
    issues: list[Issue] = []
    if text.startswith("\ufeff"):
        return Scan(path, [], [], [], [Issue(ROW, "starts with a byte-order mark; save it as UTF-8 without BOM", 1)])
    if not lines or not lines[0]:
        return Scan(path, [], [], [], [Issue(ROW, "empty file or empty header line", 1)])
    header = split_fields(lines[0])
    if header[:2] != ["FID", "IID"]:
        found = " ".join(header[:2])
        return Scan(path, [], [], [], [Issue(ROW, f"header must start with FID IID, found '{found}'", 1)])
    if "" in header:
        issues.append(Issue(EMPTY, _empty_message(header), 1))
    seen_names: set[str] = set()
    for name in header:
        if name in seen_names and name:
            issues.append(Issue(ROW, f"column name '{name}' appears twice in the header", 1))
        seen_names.add(name)
    rows: list[tuple[int, list[str]]] = []
    first: dict[tuple[str, str], int] = {}
    for line_no, line in enumerate(lines[1:], start=2):
        fields = split_fields(line)
        if "" in fields:
            issues.append(Issue(EMPTY, _empty_message(fields) if line.strip() else "empty line", line_no))
            continue
        if len(fields) != len(header):
            issues.append(Issue(ROW, f"expected {len(header)} fields, found {len(fields)}", line_no))
            continue
        key = (fields[0], fields[1])
        if key in first:
            message = f"duplicate sample {key[0]} {key[1]} (first on line {first[key]})"
            issues.append(Issue(DUPLICATE, message, line_no))
        else:
            first[key] = line_no
        rows.append((line_no, fields))
    if len(lines) == 1:
        issues.append(Issue(ROW, "no sample rows"))
    return Scan(path, header, rows, list(first), issues)


def _empty_message(fields: list[str]) -> str:
    position = fields.index("") + 1
    return (f"field {position} is empty (two tabs or spaces in a row, or a leading one); "
            f"write NA for a missing value")


def numeric_column(scan: Scan, position: int) -> tuple[list[float], list[Issue]]:
    """Values of the header column at ``position``, one per row of ``scan`` (NaN where missing or wrong)."""
    fast = _plain_column([fields[position] for _, fields in scan.rows])
    if fast is not None:
        return fast, []
    name = scan.header[position]
    values: list[float] = []
    issues: list[Issue] = []
    for line_no, fields in scan.rows:
        text = fields[position]
        try:
            values.append(parse_number(text))
        except ValueError as exc:
            issues.append(Issue(VALUE, f"column '{name}' value '{text}' {exc}", line_no, name))
            values.append(math.nan)
    return values, issues


def _plain_column(texts: list[str]) -> list[float] | None:
    """The values of a column whose every cell is a plain decimal that stays finite, read at C speed; None when
    any cell is not, and :func:`parse_number` must look at each (missing tokens, errors).

    Made of digits, signs, ``.``, ``e`` and ``E`` only, a cell that Python's ``float`` reads is a plain decimal
    (``_NUMBER``): the other texts ``float`` accepts need spaces, underscores or letters (``inf``, ``nan``).
    """
    if _NOT_NUMERIC.search("\n".join(texts)):
        return None
    try:
        values = list(map(float, texts))
    except ValueError:  # "." (missing), "1e", "+-1": read cell by cell
        return None
    return values if all(map(math.isfinite, values)) else None


@contextmanager
def _no_collection() -> Iterator[None]:
    """The cyclic garbage collector paused: splitting a large table makes millions of lists, none in a cycle,
    and the collections they set off cost as much as the splitting (100,000 rows: 0.5 s of 1.3 s). The
    objects made meanwhile are then frozen (:func:`gc.freeze`): else the first collection after walks them all.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


# -- the engine's readers ------------------------------------------------------------------------


_SCANS: dict[tuple[str, bytes], Scan] = {}  # the last table scanned, by path and content


def forget_scans() -> None:
    """Drop the table kept for a second read (a large table's rows are tens of MB of Python objects)."""
    _SCANS.clear()


def _scan(path: str, flag: str) -> Scan:
    """The table at ``path``, split and checked; a file read again with the same bytes (the covariates: header,
    numeric and categorical columns) is split once."""
    file = Path(path)
    if not file.is_file():
        raise EngineInputError(f"{flag}: file not found: {path}")
    content = file.read_bytes()
    key = (os.path.abspath(path), content)
    if key in _SCANS:
        return _SCANS[key]
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EngineInputError(f"{path}: not UTF-8 text ({exc})") from None
    with _no_collection():
        scan = scan_text(text, path)
    _raise_first(scan.issues, path)
    _SCANS.clear()
    _SCANS[key] = scan
    return scan


def _raise_first(issues: list[Issue], path: str) -> None:
    if issues:
        first = min(issues, key=lambda i: i.line if i.line is not None else math.inf)
        raise EngineInputError(first.text(path))


def _select(scan: Scan, wanted: list[str] | None, flag: str) -> list[int]:
    available = scan.header[2:]
    if wanted is None:
        return list(range(2, len(scan.header)))
    for name in wanted:
        if name not in available:
            listing = " ".join(available)
            raise EngineInputError(f"{flag}: column '{name}' not found in {scan.path} (columns: {listing})")
    return scan.positions(wanted)


def read_header(path: str, *, flag: str) -> list[str]:
    """Data column names of a table (after ``FID IID``); the whole file is checked."""
    return _scan(path, flag).header[2:]


def read_text_table(path: str, columns: list[str], *, flag: str) -> TextTable:
    """Read ``columns`` of ``path`` as strings (``NA``, ``nan``, ``.`` are missing)."""
    scan = _scan(path, flag)
    positions = _select(scan, columns, flag)
    values = [[None if is_missing(fields[p]) else fields[p] for _, fields in scan.rows] for p in positions]
    return TextTable(columns=[scan.header[p] for p in positions], keys=scan.keys, values=values)


def read_table(path: str, columns: list[str] | None, *, flag: str) -> SampleTable:
    """Read ``path``, keeping ``columns`` (all data columns when None) in the order given.

    ``flag`` names the command-line option the file came from, for messages.
    """
    scan = _scan(path, flag)
    positions = _select(scan, columns, flag)
    if not positions:
        raise EngineInputError(f"{path}: no data columns")
    with _no_collection():
        parsed = [numeric_column(scan, p) for p in positions]
    _raise_first([issue for _, issues in parsed for issue in issues], path)
    values = np.asarray([v for v, _ in parsed], dtype=np.float64).T.reshape(len(scan.rows), len(positions))
    return SampleTable(path=path, columns=[scan.header[p] for p in positions], keys=scan.keys, values=values)
