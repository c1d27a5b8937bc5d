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


def _lines(path: str, flag: str) -> list[tuple[int, list[str]]]:
    """The fields of each non-blank line of ``path``, with the line's number in the file."""
    local = localize(path, flag=flag)
    assert local is not None
    file = Path(local)
    if not file.is_file():
        raise EngineInputError(f"{flag}: file not found: {path}")
    numbered = enumerate(file.read_text().splitlines(), start=1)
    return [(line_no, line.split()) for line_no, line in numbered if line.strip()]


def read_sample_list(paths: list[str], flag: str) -> set[tuple[str, str]]:
    """The ``(FID, IID)`` pairs named in ``paths``."""
    result: set[tuple[str, str]] = set()
    for path in paths:
        for line_no, fields in _lines(path, flag):
            if len(fields) < 2:
                raise EngineInputError(f"{flag}: {path}: line {line_no}: expected FID and IID")
            result.add((fields[0], fields[1]))
    return result


def read_variant_list(paths: list[str], flag: str) -> set[str]:
    """The variant IDs named in ``paths``."""
    return {fields[0] for path in paths for _, fields in _lines(path, flag)}
