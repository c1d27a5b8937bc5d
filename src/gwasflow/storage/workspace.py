"""The transient workspace of a run, and where its run folder lives while it runs.

:func:`open_workspace` creates the workspace (``workdir``: a local or
shared-disk folder, or a folder on a transient FSx for Lustre file system)
and deletes it when the block ends. A run is *transient* when it reads an
input from object storage, publishes to a remote ``outdir`` or uses FSx: its
workspace is deleted whatever the outcome (success, failure, cancellation,
an error), since neither the staged copies nor the file system outlive it. A
run whose files are all local keeps its workspace after a failure (deleted
on success by the ``cleanup`` job, on cancellation by the driver), so that
``gwasflow retry`` can re-run only the failed jobs. ``keep_workspace: true``
keeps it in every case.

The workspace belongs to the run that made it and is held (an OS lock) while
the run drives it; a second run cannot use it, and nothing is deleted that is
not provably the run's own workspace (``gwasflow.storage.ownership``).

With a remote ``outdir``, the run folder (store, logs, results) is a local
folder under the user cache, one per ``outdir`` (so two runs into the same
``outdir`` on this host exclude each other through the driver lock), and is
published at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gwasflow.core.rundir import RunDir
from gwasflow.core.uri import is_remote
from gwasflow.errors import Problem
from gwasflow.spec.model import RunSpec
from gwasflow.storage.ownership import claim_workspace, remove_workspace, workspace_problem
from gwasflow.storage.staging import Mount

__all__ = [
    "Workspace", "is_transient", "local_run_root", "open_workspace", "remote_inputs", "run_root", "workspace_problems",
]


@dataclass(frozen=True)
class Workspace:
    path: Path
    mounts: list[Mount] = field(default_factory=list)
    created: bool = False


def remote_inputs(spec: RunSpec) -> list[str]:
    """The URIs among the spec's inputs (dataset prefixes, tables, prediction list)."""
    paths = [*_genotype_paths(spec), spec.phenotypes.file]
    if spec.covariates is not None:
        paths.append(spec.covariates.file)
    if spec.step1.predictions:
        paths.append(spec.step1.predictions)
    paths += [p for p in (spec.samples.keep, spec.samples.remove, spec.variants.extract, spec.variants.exclude) if p]
    return [p for p in paths if is_remote(p)]


def _genotype_paths(spec: RunSpec) -> list[str]:
    """Every genotype prefix or file (``{chrom}`` expanded) and BGEN sample file of ``spec``."""
    files = spec.dataset_files()
    step1 = spec.step1_file()
    if step1 is not None:
        files.append(step1)
    return [p for f in files for p in (f.source, f.sample) if p is not None]


def is_transient(spec: RunSpec) -> bool:
    """True when the workspace cannot outlive the run (see the module docstring)."""
    return bool(remote_inputs(spec)) or is_remote(spec.outdir) or spec.workspace.kind == "fsx"


def local_run_root(spec: RunSpec) -> Path:
    """The local run folder of a run whose ``outdir`` is remote: ``<cache>/gwasflow/runs/<name>-<hash>``."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(spec.outdir.encode()).hexdigest()[:12]
    return cache / "gwasflow" / "runs" / f"{spec.name}-{digest}"


def run_root(spec: RunSpec) -> Path:
    """The local run folder of ``spec``: ``outdir``, or :func:`local_run_root` for a remote one."""
    return local_run_root(spec) if is_remote(spec.outdir) else Path(spec.outdir)


def workspace_problems(spec: RunSpec) -> list[Problem]:
    """Read-only: why a new run of ``spec`` cannot use its ``workdir`` now (in use, another run's, not ours)."""
    why = workspace_problem(Path(spec.workdir), RunDir(run_root(spec)))
    return [Problem("workdir", f"{spec.workdir} {why}")] if why else []


@contextlib.contextmanager
def open_workspace(spec: RunSpec, rundir: RunDir) -> Iterator[Workspace]:
    """Claim the workspace of new run ``rundir.run_id`` (and create its FSx file system), yield it, and
    delete what is transient."""
    if spec.workspace.kind == "fsx":
        with _fsx(spec) as mounts, _folder(spec, rundir) as (path, created):
            yield Workspace(path, mounts, created)
    else:
        with _folder(spec, rundir) as (path, created):
            yield Workspace(path, created=created)


@contextlib.contextmanager
def _folder(spec: RunSpec, rundir: RunDir) -> Iterator[tuple[Path, bool]]:
    path = Path(spec.workdir)
    with claim_workspace(path, rundir, new_run=True) as claim:
        try:
            yield path, claim.created
        finally:
            if is_transient(spec) and not spec.keep_workspace:
                remove_workspace(path, rundir)


@contextlib.contextmanager
def _fsx(spec: RunSpec) -> Iterator[list[Mount]]:
    import boto3  # type: ignore[import-untyped,unused-ignore]

    from gwasflow.storage.fsx import common_s3_prefix, fsx_workspace, mounted

    settings = spec.workspace.fsx
    assert settings is not None  # WorkspaceSpec: kind fsx needs fsx settings
    repository = settings.data_repository or common_s3_prefix(
        [f"{p}.bed" if p in {f.source for f in spec.dataset_files() if f.fmt.value == "bed"} else p
         for p in remote_inputs(spec)]
    )
    with contextlib.ExitStack() as stack:
        fs = stack.enter_context(fsx_workspace(boto3.client("fsx"), settings, repository,
                                               tags={"gwasflow:run": spec.name}))
        if settings.mount:
            stack.enter_context(mounted(fs, settings.mount_path))
        yield [fs.mount]
