"""Where a path points: a local file or an object in a bucket (``s3://``, ``gs://``).

Inputs and ``outdir`` of a spec may be fsspec URIs; the workspace and every
path the planner or a job sees are local. This module names the supported
schemes, says which package each needs, and opens the fsspec file system of a
URI. fsspec and its back-ends are untyped: they are ``Any`` here and nowhere
else leaks them.
"""

from __future__ import annotations

import importlib.util
import posixpath
from typing import Any

from gwasflow.errors import StagingError

__all__ = ["SCHEMES", "basename", "filesystem", "is_remote", "join", "local_path", "scheme", "unsupported"]

#: Remote schemes a spec may use, and the Python package that implements each.
SCHEMES: dict[str, str] = {"s3": "s3fs", "gs": "gcsfs", "gcs": "gcsfs"}


def scheme(path: str) -> str:
    """``"s3"`` for ``s3://b/k``; ``""`` for a local path (``file://`` URIs are local)."""
    head, sep, _ = path.partition("://")
    if not sep or not head.replace("+", "").replace("-", "").isalnum():
        return ""
    return "" if head.lower() == "file" else head.lower()


def is_remote(path: str) -> bool:
    """True for ``scheme://...`` other than ``file://``."""
    return bool(scheme(path))


def local_path(path: str) -> str:
    """A local path without its ``file://`` prefix (other paths unchanged)."""
    return path[len("file://"):] if path.startswith("file://") else path


def unsupported(path: str) -> str | None:
    """Why ``path`` cannot be read or written here, or None when it can."""
    kind = scheme(path)
    if not kind:
        return None
    package = SCHEMES.get(kind)
    if package is None:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        return f"{kind}:// is not supported (use a local path or {known})"
    if importlib.util.find_spec(package) is None or importlib.util.find_spec("fsspec") is None:
        return f"{kind}:// needs the Python package {package} (pip install {package})"
    return None


def filesystem(path: str) -> tuple[Any, str]:
    """The fsspec file system of ``path`` and the path within it; raises :class:`StagingError`."""
    problem = unsupported(path)
    if problem is not None:
        raise StagingError(f"{path}: {problem}")
    import fsspec  # type: ignore[import-untyped,unused-ignore]

    fs, inner = fsspec.core.url_to_fs(path if is_remote(path) else local_path(path))
    return fs, str(inner)


def join(base: str, *parts: str) -> str:
    """``base`` and ``parts`` joined with ``/`` (a URI stays a URI; an absolute part wins)."""
    return posixpath.join(base, *parts)


def basename(path: str) -> str:
    """The last component of a local path or URI."""
    return posixpath.basename(path.rstrip("/"))
