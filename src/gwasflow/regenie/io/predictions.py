"""Step 1 prediction files: ``<out>_pred.list`` and ``<out>_<k>.loco``.

As in regenie, a relative ``.loco`` path in the list is opened relative to the
current directory, not to the list's folder (regenie docs, ``--pred``). A list line
is ``<phenotype> <loco path>``; the path is the rest of the line after the phenotype
name, so a path with spaces (a workdir named ``my runs``) reads whole. regenie v4.1.2
splits the line at every space and refuses such a list ("step 1 list file is not in
the right format"), so ``gwasflow validate`` refuses whitespace in those paths when
the engine is the real regenie.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gwasflow.errors import EngineInputError

__all__ = ["parse_pred_line", "read_loco", "read_pred_list"]


def parse_pred_line(line: str) -> tuple[str, str] | None:
    """``(phenotype, loco path)`` of one list line, None for a blank one; ValueError when malformed."""
    text = line.strip()
    if not text:
        return None
    parts = text.split(maxsplit=1)
    if len(parts) != 2:
        raise ValueError("expected '<phenotype> <loco file>'")
    return parts[0], parts[1]


def read_pred_list(path: str) -> dict[str, str]:
    """Map phenotype name to its ``.loco`` path, from a ``_pred.list`` file."""
    file = Path(path)
    if not file.is_file():
        raise EngineInputError(f"--pred: file not found: {path}")
    result: dict[str, str] = {}
    for line_no, line in enumerate(file.read_text().splitlines(), start=1):
        try:
            entry = parse_pred_line(line)
        except ValueError as exc:
            raise EngineInputError(f"{path}: line {line_no}: {exc}") from None
        if entry is not None:
            result[entry[0]] = entry[1]
    return result


def _parse_row(fields: list[str], path: str, line_no: int) -> tuple[int, NDArray[np.float64]]:
    try:
        chrom = int(fields[0])
        try:
            values = np.asarray(fields[1:], dtype=np.float64)
        except ValueError:  # binary-trait files hold NA for samples without a phenotype
            values = np.asarray([np.nan if f == "NA" else float(f) for f in fields[1:]], dtype=np.float64)
    except ValueError:
        raise EngineInputError(f"{path}: line {line_no}: non-numeric value") from None
    return chrom, values


def read_loco(path: str, sample_ids: list[str]) -> dict[int, NDArray[np.float64]]:
    """Per-chromosome LOCO predictions for ``sample_ids`` (FID_IID), in that order.

    A sample absent from the file gets NaN, as does one whose prediction is
    ``NA`` (binary traits); regenie then leaves the sample out of that trait.
    """
    file = Path(path)
    if not file.is_file():
        raise EngineInputError(f"--pred: loco file not found: {path}")
    with file.open() as handle:
        header = handle.readline().split()
        if not header or header[0] != "FID_IID":
            raise EngineInputError(f"{path}: line 1: header must start with 'FID_IID'")
        column = {sample: i for i, sample in enumerate(header[1:])}
        order = np.asarray([column.get(s, -1) for s in sample_ids], dtype=np.intp)
        absent = order < 0
        rows: dict[int, NDArray[np.float64]] = {}
        for line_no, line in enumerate(handle, start=2):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != len(header):
                raise EngineInputError(f"{path}: line {line_no}: expected {len(header)} fields")
            chrom, values = _parse_row(fields, path, line_no)
            picked = values[order]
            picked[absent] = np.nan
            rows[chrom] = picked
    return rows
