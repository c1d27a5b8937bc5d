"""Atomic file writes, the one place that makes them.

:func:`atomic_path` gives a temporary name beside the target; when the block
ends without an error the file gets the mode a plain ``open()`` would have
given it (``0666`` less the umask, not ``mkstemp``'s ``0600``) and is renamed
onto the target. Readers see either the old file or the whole new one; on an
error the temporary file is removed and the target is untouched.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "current_umask", "write_atomic"]

_UMASK_LINE = re.compile(r"^Umask:\s*([0-7]+)\s*$", re.MULTILINE)


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux ``/proc``)."""
    with contextlib.suppress(OSError):
        match = _UMASK_LINE.search(Path("/proc/self/status").read_text())
        if match:
            return int(match.group(1), 8)
    current = os.umask(0o022)  # elsewhere: read it by setting it, and put it back at once
    os.umask(current)
    return current


@contextlib.contextmanager
def atomic_path(target: Path, *, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success give it the umask's mode and rename it onto ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`), synced to disk before the rename."""
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        handle.write(data.encode() if isinstance(data, str) else data)
        handle.flush()
        os.fsync(handle.fileno())
