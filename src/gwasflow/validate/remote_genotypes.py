"""Planning metadata of ``.pgen`` and BGEN inputs in object storage, read in place by fsspec.

What planning needs is copied into a temporary folder and scanned there by ``plan/genofiles.py``: the
``.pvar`` and ``.psam`` of a ``.pgen`` (whose existence alone is checked); the header and sample block of
a BGEN file (its first bytes only), its ``.bgi`` index and its ``.sample``. A remote BGEN without a
``.bgi`` is refused: its variants could only be listed by reading the whole file. Issues name the URIs.
"""

from __future__ import annotations

import dataclasses
import struct
import tempfile
from pathlib import Path
from typing import Any

from gwasflow.core.uri import filesystem, is_remote, redact
from gwasflow.errors import StagingError
from gwasflow.plan import genofiles
from gwasflow.plan.meta import DatasetScan, FileIssue
from gwasflow.spec.genotypes import DatasetFile, GenoFormat

__all__ = ["scan_remote"]


def scan_remote(item: DatasetFile) -> DatasetScan:
    """:func:`gwasflow.plan.genofiles.scan_pgen` or ``scan_bgen`` for a file set given as URIs."""
    with tempfile.TemporaryDirectory(prefix="gwasflow-validate-") as tmp:
        names: dict[str, str] = {}  # local copy -> the URI it stands for
        try:
            scanner = _pgen if item.fmt is GenoFormat.PGEN else _bgen
            scan = scanner(item, Path(tmp), names)
        except (OSError, StagingError) as exc:
            return DatasetScan(None, [], [FileIssue(item.source, f"cannot read: {redact(str(exc))}")])
    issues = [dataclasses.replace(i, file=_uri(i.file, names), message=_uri(i.message, names)) for i in scan.issues]
    meta = dataclasses.replace(scan.meta, prefix=item.source) if scan.meta is not None else None
    return DatasetScan(meta, scan.sample_ids, issues)


def _uri(text: str, names: dict[str, str]) -> str:
    for local, uri in sorted(names.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(local, uri)
    return text


def _fetch(uri: str, target: Path, names: dict[str, str]) -> bool:
    """Copy ``uri`` to ``target``; False when it does not exist."""
    fs, inner = filesystem(uri, fail_fast=True)
    names[str(target)] = uri
    try:
        fs.get_file(inner, str(target))
    except FileNotFoundError:
        return False
    return True


def _exists(uri: str) -> bool:
    fs, inner = filesystem(uri, fail_fast=True)
    try:
        return bool(fs.info(inner).get("type") == "file")
    except FileNotFoundError:
        return False


def _pgen(item: DatasetFile, tmp: Path, names: dict[str, str]) -> DatasetScan:
    local = tmp / "g"
    names[str(local)] = item.source
    for ext in ("pvar", "psam"):
        _fetch(f"{item.source}.{ext}", Path(f"{local}.{ext}"), names)
    if _exists(f"{item.source}.pgen"):
        Path(f"{local}.pgen").touch()  # scan_pgen only checks that it exists
    return genofiles.scan_pgen(item.label, str(local))


def _bgen(item: DatasetFile, tmp: Path, names: dict[str, str]) -> DatasetScan:
    local = tmp / "g.bgen"
    names[str(local)] = item.source
    fs, inner = filesystem(item.source, fail_fast=True)
    try:
        _copy_head(fs, inner, local)
    except FileNotFoundError:
        return DatasetScan(None, [], [FileIssue(item.source, "file not found")])
    if not _fetch(f"{item.source}.bgi", Path(f"{local}.bgi"), names):
        why = "a BGEN file in object storage needs its .bgi index (planning would read the whole file)"
        return DatasetScan(None, [], [FileIssue(f"{item.source}.bgi", why)])
    sample = item.sample
    if sample is not None and is_remote(sample):
        copy = tmp / "g.sample"
        if not _fetch(sample, copy, names):
            return DatasetScan(None, [], [FileIssue(sample, "file not found")])
        sample = str(copy)
    return genofiles.scan_bgen(item.label, str(local), sample)


def _copy_head(fs: Any, inner: str, target: Path) -> None:
    """The header and sample blocks of a BGEN file (its first 4 + offset bytes), not its variants."""
    with fs.open(inner, "rb") as handle:
        first = bytes(handle.read(4))
        (offset,) = struct.unpack("<I", first) if len(first) == 4 else (0,)
        target.write_bytes(first + bytes(handle.read(offset)))
