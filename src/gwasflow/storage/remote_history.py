"""An earlier run in a remote ``outdir``: found through its published store, moved aside for ``run --force``.

A run into a remote ``outdir`` works in a local run folder and publishes it at
the end, so the earlier run of that ``outdir`` is known only from what it
published. :func:`fetch_store` copies its store into the new run's local run
folder (so the store keeps every run of the ``outdir``, as a local one does);
:func:`archive_remote` moves what it published (``results/``, ``summary.tsv``,
``report.html``, its spec, events and sentinel) to
``<outdir>/.gwasflow/history/<run-id>/``. Its logs stay under
``.gwasflow/runs/<run-id>/``.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from gwasflow.core.atomic import atomic_path
from gwasflow.core.uri import filesystem, join
from gwasflow.errors import StagingError

__all__ = ["archive_remote", "fetch_store", "remote_store"]

_STORE = ".gwasflow/gwasflow.sqlite"
_MOVED = ("results", "summary.tsv", "report.html", ".gwasflow/spec.json", ".gwasflow/events.jsonl",
          ".gwasflow/SUCCEEDED", ".gwasflow/FAILED")


def remote_store(outdir: str) -> bool:
    """Whether the remote ``outdir`` holds a published run store."""
    fs, inner = filesystem(join(outdir, _STORE))
    try:
        return bool(fs.exists(inner))
    except OSError as exc:
        raise StagingError(f"cannot read {join(outdir, _STORE)}: {exc}") from exc


def fetch_store(outdir: str, local: Path) -> None:
    """Copy the store published at ``outdir`` to ``local`` (atomically)."""
    fs, inner = filesystem(join(outdir, _STORE))
    try:
        with atomic_path(local) as tmp:
            fs.get_file(inner, str(tmp))
    except OSError as exc:
        raise StagingError(f"cannot fetch {join(outdir, _STORE)}: {exc}") from exc


def archive_remote(outdir: str, run_id: str) -> str:
    """Move what run ``run_id`` published at ``outdir`` to ``.gwasflow/history/<run_id>/``; returns that URI.

    Object by object: copy every object under the name, then delete the originals.
    """
    target = join(outdir, ".gwasflow", "history", run_id)
    for name in _MOVED:
        fs, source = filesystem(join(outdir, name))
        _, dest = filesystem(join(target, name.removeprefix(".gwasflow/")))
        try:
            found = sorted(fs.find(source))
            for key in found:
                fs.makedirs(posixpath.dirname(dest + key[len(source):]), exist_ok=True)  # no-op on object stores
                fs.copy(key, dest + key[len(source):])
            if found:
                fs.rm(found)
        except OSError as exc:
            raise StagingError(f"cannot move {join(outdir, name)} to {target}: {exc}") from exc
    return target
