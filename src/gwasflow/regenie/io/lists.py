"""Sample lists (``--keep``/``--remove``: ``FID IID`` per line) and variant lists (``--extract``/``--exclude``).

As in regenie (docs, "Options / Input"), a sample list has no header and
names one sample per line by its first two columns; a variant list names one
variant ID per line (first column). Files may be local or fsspec URIs.
"""

from __future__ import annotations

from pathlib import Path

from gwasflow.errors import EngineInputError
from gwasflow.regenie.io.remote import localize

__all__ = ["read_sample_list", "read_variant_list"]


def _lines(path: str, flag: str) -> list[list[str]]:
    local = localize(path, flag=flag)
    assert local is not None
    file = Path(local)
    if not file.is_file():
        raise EngineInputError(f"{flag}: file not found: {path}")
    return [line.split() for line in file.read_text().splitlines() if line.strip()]


def read_sample_list(paths: list[str], flag: str) -> set[tuple[str, str]]:
    """The ``(FID, IID)`` pairs named in ``paths``."""
    result: set[tuple[str, str]] = set()
    for path in paths:
        for line_no, fields in enumerate(_lines(path, flag), start=1):
            if len(fields) < 2:
                raise EngineInputError(f"{flag}: {path}: line {line_no}: expected FID and IID")
            result.add((fields[0], fields[1]))
    return result


def read_variant_list(paths: list[str], flag: str) -> set[str]:
    """The variant IDs named in ``paths``."""
    return {fields[0] for path in paths for fields in _lines(path, flag)}
