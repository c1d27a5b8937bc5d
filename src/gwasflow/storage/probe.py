"""Read and check inputs that live in object storage, for ``spec.validate``, before any staging.

Validation reads remote inputs through fsspec, without staging them: a run
that is wrong must fail in seconds, not after copying a biobank. Small files
are read whole (tables, ``.bim``, ``.fam``, a prediction list); of a remote
``.bed`` only the size and the first three bytes are read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from gwasflow.errors import StagingError
from gwasflow.plan import meta
from gwasflow.storage.uri import filesystem

__all__ = ["exists", "read_text", "scan_remote_dataset"]


def read_text(uri: str) -> str:
    """The text of a remote file; FileNotFoundError when absent, OSError when unreadable."""
    fs, inner = filesystem(uri)
    try:
        data = fs.cat_file(inner)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, StagingError) as exc:
        raise OSError(str(exc)) from exc
    return bytes(data).decode("utf-8")


def exists(uri: str) -> bool:
    """Whether a remote file exists (a folder does not count)."""
    fs, inner = filesystem(uri)
    return bool(fs.isfile(inner))


def scan_remote_dataset(label: str, prefix: str) -> meta.DatasetScan:
    """:func:`gwasflow.plan.meta.scan_dataset` for a remote PLINK prefix; issues name the URIs.

    The ``.bim`` and ``.fam`` are read into a temporary folder and scanned there; the ``.bed`` is
    checked in place (magic bytes, size for the samples x variants found).
    """
    fs, inner = filesystem(prefix)
    with tempfile.TemporaryDirectory(prefix="gwasflow-validate-") as tmp:
        local = str(Path(tmp) / "dataset")
        for ext in ("bim", "fam"):
            with contextlib.suppress(FileNotFoundError):  # scan_dataset reports it
                fs.get_file(f"{inner}.{ext}", f"{local}.{ext}")
        scan = meta.scan_dataset(label, local)
    issues = [
        dataclasses.replace(i, file=prefix + i.file[len(local):]) if i.file.startswith(local) else i
        for i in scan.issues
        if i.file != f"{local}.bed"
    ]
    n_samples = len(scan.sample_ids)
    n_variants = scan.meta.n_variants if scan.meta is not None else 0
    issues += _check_bed(fs, f"{inner}.bed", f"{prefix}.bed", n_samples, n_variants)
    found = dataclasses.replace(scan.meta, prefix=prefix) if scan.meta is not None else None
    return meta.DatasetScan(found, scan.sample_ids, issues)


def _check_bed(fs: Any, inner: str, uri: str, n_samples: int, n_variants: int) -> list[meta.FileIssue]:
    try:
        size = int(fs.info(inner)["size"])
        with fs.open(inner, "rb") as handle:
            magic = bytes(handle.read(3))
    except FileNotFoundError:
        return [meta.FileIssue(uri, "file not found")]
    except OSError as exc:
        return [meta.FileIssue(uri, f"cannot read: {exc}")]
    if magic != meta.BED_MAGIC:
        return [meta.FileIssue(uri, f"not a SNP-major PLINK .bed (magic bytes {magic.hex()}, want 6c1b01)")]
    want = meta.expected_bed_size(n_samples, n_variants)
    if n_samples and n_variants and size != want:
        return [meta.FileIssue(uri, f"size {size} bytes, expected {want} for {n_samples} samples x "
                                    f"{n_variants} variants (3 + ceil(n_samples/4) * n_variants)")]
    return []
