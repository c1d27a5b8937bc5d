"""Phenotype and covariate tables: whitespace-separated, header ``FID IID col...``.

``NA``, ``nan`` (any case) and ``.`` are missing values. Every problem raises
:class:`EngineInputError` naming the file and, where there is one, the line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gwasflow.errors import EngineInputError

__all__ = ["SampleTable", "TextTable", "read_header", "read_table", "read_text_table"]

_MISSING = {"na", "nan", "."}


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


def _lines(path: str, flag: str) -> list[str]:
    file = Path(path)
    if not file.is_file():
        raise EngineInputError(f"{flag}: file not found: {path}")
    with file.open() as handle:
        lines = handle.read().splitlines()
    if not lines or lines[0].split()[:2] != ["FID", "IID"]:
        raise EngineInputError(f"{path}: line 1: header must start with 'FID IID'")
    return lines


def read_header(path: str, *, flag: str) -> list[str]:
    """Data column names of a table (after ``FID IID``)."""
    return _lines(path, flag)[0].split()[2:]


def read_text_table(path: str, columns: list[str], *, flag: str) -> TextTable:
    """Read ``columns`` of ``path`` as strings (``NA``, ``nan``, ``.`` are missing)."""
    lines = _lines(path, flag)
    header = lines[0].split()
    positions = _select(header, columns, path, flag)
    keys: list[tuple[str, str]] = []
    values: list[list[str | None]] = [[] for _ in positions]
    for line_no, line in enumerate(lines[1:], start=2):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(header):
            raise EngineInputError(f"{path}: line {line_no}: expected {len(header)} fields, found {len(fields)}")
        keys.append((fields[0], fields[1]))
        for out, p in zip(values, positions, strict=True):
            out.append(None if fields[p].lower() in _MISSING else fields[p])
    return TextTable(columns=[header[p] for p in positions], keys=keys, values=values)


def _select(header: list[str], wanted: list[str] | None, path: str, flag: str) -> list[int]:
    available = header[2:]
    if wanted is None:
        return list(range(2, len(header)))
    positions = []
    for name in wanted:
        if name not in available:
            listing = " ".join(available)
            raise EngineInputError(f"{flag}: column '{name}' not found in {path} (columns: {listing})")
        positions.append(header.index(name))
    return positions


def _parse_value(text: str, path: str, line_no: int, column: str) -> float:
    if text.lower() in _MISSING:
        return math.nan
    try:
        return float(text)
    except ValueError:
        message = f"column '{column}' value '{text}' is not numeric"
        raise EngineInputError(f"{path}: line {line_no}: {message}") from None


def read_table(path: str, columns: list[str] | None, *, flag: str) -> SampleTable:
    """Read ``path``, keeping ``columns`` (all data columns when None) in the order given.

    ``flag`` names the command-line option the file came from, for messages.
    """
    lines = _lines(path, flag)
    header = lines[0].split()
    if len(set(header)) != len(header):
        raise EngineInputError(f"{path}: line 1: duplicated column name")
    positions = _select(header, columns, path, flag)
    if not positions:
        raise EngineInputError(f"{path}: no data columns")
    keys: list[tuple[str, str]] = []
    rows: list[list[float]] = []
    seen: set[tuple[str, str]] = set()
    for line_no, line in enumerate(lines[1:], start=2):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(header):
            found = f"expected {len(header)} fields, found {len(fields)}"
            raise EngineInputError(f"{path}: line {line_no}: {found}")
        key = (fields[0], fields[1])
        if key in seen:
            raise EngineInputError(f"{path}: line {line_no}: sample {key[0]} {key[1]} appears twice")
        seen.add(key)
        keys.append(key)
        rows.append([_parse_value(fields[p], path, line_no, header[p]) for p in positions])
    values = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(positions))
    return SampleTable(path=path, columns=[header[p] for p in positions], keys=keys, values=values)
