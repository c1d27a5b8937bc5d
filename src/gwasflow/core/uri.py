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
import re
from typing import Any

from gwasflow.errors import StagingError

__all__ = [
    "FAIL_FAST",
    "SCHEMES",
    "basename",
    "filesystem",
    "has_credentials",
    "is_remote",
    "join",
    "local_path",
    "redact",
    "scheme",
    "unsupported",
]

#: Remote schemes a spec may use, and the Python package that implements each.
SCHEMES: dict[str, str] = {"s3": "s3fs", "gs": "gcsfs", "gcs": "gcsfs"}

#: fsspec options, per scheme, for checks that must answer in seconds (``gwasflow.validate``): each request
#: is tried at most twice (botocore "standard" retries: a jittered wait of at most 1 s between the two),
#: with 5 s to connect and 10 s for each read to start; and s3fs's own retry loop (5 tries of a request
#: that timed out or lost its connection) is cut to one try. So a request to a closed port fails in
#: about 1 s, to an address that drops packets in about 11 s, to a server that never answers in about
#: 21 s. Staging and publishing keep the back-ends' patient defaults.
FAIL_FAST: dict[str, dict[str, Any]] = {
    "s3": {"config_kwargs": {"connect_timeout": 5, "read_timeout": 10,
                             "retries": {"mode": "standard", "total_max_attempts": 2}}},
}
_FAIL_FAST_TRIES = 1  # s3fs.S3FileSystem.retries: a class attribute, no option sets it

# a URL: its scheme, then everything up to the next whitespace
_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>\S*)")


def scheme(path: str) -> str:
    """``"s3"`` for ``s3://b/k``; ``""`` for a local path (``file://`` URIs are local)."""
    head, sep, _ = path.partition("://")
    if not sep or not head.replace("+", "").replace("-", "").isalnum():
        return ""
    return "" if head.lower() == "file" else head.lower()


def is_remote(path: str) -> bool:
    """True for ``scheme://...`` other than ``file://``."""
    return bool(scheme(path))


def _secret_length(kind: str, rest: str) -> int:
    """How many characters at the start of ``rest`` (a URL after ``scheme://``) are credentials; 0 if none.

    ``user:password@host``: up to the last ``@`` before the path. A ``:`` in the host part that does not
    start a port (and any ``:`` in a bucket name) is taken for ``key:secret`` whose secret holds a ``/``
    (AWS secret keys may): up to the last ``@`` of the URL, or all of it when there is none.
    """
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in authority:
        return authority.rindex("@") + 1
    if ":" in authority and (kind.lower() in SCHEMES or not authority.rsplit(":", 1)[1].isdigit()):
        return rest.rindex("@") + 1 if "@" in rest else len(rest)
    return 0


def has_credentials(text: str) -> bool:
    """Whether ``text`` holds a URL with a user or password (``s3://key:secret@b/k``, ``https://u:p@host``)."""
    return any(_secret_length(m["scheme"], m["rest"]) for m in _URL.finditer(text))


def redact(text: str) -> str:
    """``text`` with the user and password of every URL in it replaced by ``***``."""

    def hide(match: re.Match[str]) -> str:
        rest = match["rest"]
        n = _secret_length(match["scheme"], rest)
        if not n:
            return match[0]
        return f"{match['scheme']}://***{'@' if rest[n - 1] == '@' else ''}{rest[n:]}"

    return _URL.sub(hide, text)


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


def filesystem(path: str, *, fail_fast: bool = False) -> tuple[Any, str]:
    """The fsspec file system of ``path`` and the path within it; raises :class:`StagingError`.

    ``fail_fast``: with the :data:`FAIL_FAST` options of its scheme (few retries, short timeouts).
    """
    problem = unsupported(path)
    if problem is not None:
        raise StagingError(f"{redact(path)}: {problem}")
    import fsspec  # type: ignore[import-untyped,unused-ignore]

    kind = scheme(path)
    options = FAIL_FAST.get(kind, {}) if fail_fast else {}
    fs, inner = fsspec.core.url_to_fs(path if kind else local_path(path), **options)
    if options and kind == "s3":  # this instance (cached by its options) serves fail-fast calls only
        fs.retries = _FAIL_FAST_TRIES
    return fs, str(inner)


def join(base: str, *parts: str) -> str:
    """``base`` and ``parts`` joined with ``/`` (a URI stays a URI; an absolute part wins)."""
    return posixpath.join(base, *parts)


def basename(path: str) -> str:
    """The last component of a local path or URI."""
    return posixpath.basename(path.rstrip("/"))
