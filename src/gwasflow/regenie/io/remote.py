"""Genotype paths given as fsspec URIs (``s3://``, ``gs://``, ``memory://``, ...).

The genotype readers (bed-reader, pgenlib, cbgen) are C libraries that need a
local file, so a URI is copied once into a private temporary folder that is
removed when the process exits. Local paths are returned unchanged and never
need fsspec.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

from gwasflow.errors import EngineInputError

__all__ = ["is_uri", "localize"]

_STAGED: dict[str, str] = {}
_FOLDER: list[str] = []


def is_uri(path: str) -> bool:
    """True for ``scheme://...`` other than ``file://``."""
    scheme, sep, _ = path.partition("://")
    return bool(sep) and scheme.lower() != "file" and scheme.isidentifier()


def _folder() -> str:
    if not _FOLDER:
        _FOLDER.append(tempfile.mkdtemp(prefix="gwasflow_regenie_"))
        atexit.register(shutil.rmtree, _FOLDER[0], True)
    return _FOLDER[0]


def localize(path: str, *, flag: str, required: bool = True) -> str | None:
    """A local path for ``path``: itself when local, else a staged copy.

    Returns None when ``required`` is false and the remote file does not exist;
    a missing required file raises :class:`EngineInputError` naming ``flag``.
    """
    if path.startswith("file://"):
        return path[len("file://"):]
    if not is_uri(path):
        return path
    if path in _STAGED:
        return _STAGED[path]
    try:
        import fsspec  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        raise EngineInputError(f"{flag}: {path} is a URI; install fsspec to read it") from None
    fs, inner = fsspec.core.url_to_fs(path)
    if not fs.exists(inner):
        if required:
            raise EngineInputError(f"{flag}: file not found: {path}")
        return None
    target = os.path.join(_folder(), f"{len(_STAGED)}_{os.path.basename(inner)}")
    fs.get(inner, target)
    _STAGED[path] = target
    return target
