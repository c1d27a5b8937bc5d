"""Publish a finished run folder to its ``outdir``, one file at a time, each atomically.

"Atomic" means that a reader of ``outdir`` sees, under a file's final name,
either nothing (or the previous version) or the whole new file, never a
partial one:

* On an object store (S3, GCS) an object appears under its key only when the
  upload completes: a single PUT is all-or-nothing, and a multipart upload
  becomes visible only at ``CompleteMultipartUpload``. gwasflow uploads a
  file only once it is completely written on local disk, straight to its
  final key; on any error the multipart upload is aborted, so no part is left
  behind and nothing is visible under the key. (A temporary key followed by a
  server-side copy would add a second full copy and be exactly as atomic.)
* On a file system, the file is written under a temporary name in the target
  folder and renamed, which POSIX makes atomic.

The order is part of the contract: ``results/``, ``summary.tsv`` and
``report.html`` first, then ``.gwasflow/`` with its ``SUCCEEDED``/``FAILED``
sentinel last of all, so a reader who sees the sentinel sees everything else.
Each published file's size is checked against the local one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gwasflow.core.atomic import atomic_path
from gwasflow.core.uri import filesystem, is_remote, join, local_path
from gwasflow.errors import StagingError
from gwasflow.storage.progress import ByteProgress, NullByteProgress

__all__ = ["PART_BYTES", "SKIPPED", "publish_file", "publish_run", "run_files"]

#: Part size of multipart uploads to S3 (S3 allows 5 MiB to 5 GiB, and 10,000 parts per object).
PART_BYTES = 64 * 2**20
#: Files of the run folder that are never published: the driver's lock and SQLite's side files.
SKIPPED = frozenset({"driver.lock", "driver.pid", "gwasflow.sqlite-wal", "gwasflow.sqlite-shm"})
_SENTINELS = ("SUCCEEDED", "FAILED")


def run_files(root: Path) -> list[Path]:
    """The files of run folder ``root`` to publish, relative to it, in publishing order."""
    first = [p for p in sorted(root.rglob("*")) if p.is_file() and ".gwasflow" not in p.relative_to(root).parts]
    state = [p for p in sorted((root / ".gwasflow").rglob("*")) if p.is_file() and p.name not in SKIPPED]
    last = [p for p in state if p.parent == root / ".gwasflow" and p.name in _SENTINELS]
    ordered = first + [p for p in state if p not in last] + last
    return [p.relative_to(root) for p in ordered if p.name not in SKIPPED]


def publish_file(local: Path, dest: str) -> int:
    """Copy the finished file ``local`` to ``dest`` (URI or local path) atomically; returns its size."""
    size = local.stat().st_size
    fs, inner = filesystem(dest)
    try:
        if is_remote(dest):
            fs.put_file(str(local), inner, **_put_options(fs))
        else:
            _replace_local(local, Path(local_path(dest)))
        got = int(fs.info(inner)["size"])
    except (OSError, ValueError) as exc:
        raise StagingError(f"cannot publish {local} to {dest}: {exc}") from exc
    if got != size:
        raise StagingError(f"published {dest} has {got} bytes, expected {size}")
    return size


def _put_options(fs: Any) -> dict[str, Any]:
    protocols = fs.protocol if isinstance(fs.protocol, tuple | list) else (fs.protocol,)
    return {"chunksize": PART_BYTES} if "s3" in protocols else {}


def _replace_local(src: Path, dest: Path) -> None:
    with atomic_path(dest, suffix=".part") as tmp, tmp.open("wb") as out, src.open("rb") as handle:
        while chunk := handle.read(8 * 2**20):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())


def publish_run(root: Path, outdir: str, *, progress: ByteProgress | None = None) -> int:
    """Publish run folder ``root`` to ``outdir`` (see the module docstring); returns the bytes sent."""
    chosen = run_files(root)
    bar = progress or NullByteProgress()
    bar.start(f"publishing {len(chosen)} file(s)", sum((root / p).stat().st_size for p in chosen))
    sent = 0
    try:
        for rel in chosen:
            size = publish_file(root / rel, join(outdir, rel.as_posix()))
            bar.advance(size)
            sent += size
    finally:
        bar.close()
    return sent
