"""A transient FSx for Lustre workspace, linked to the inputs' S3 prefix.

Lifecycle, all through boto3's ``fsx`` client::

    create_file_system (LUSTRE)              -> describe_file_systems until AVAILABLE
    create_data_repository_association       -> describe_data_repository_associations until AVAILABLE
    ... the run: inputs under the S3 prefix are read at <mount_path><file_system_path>/...,
        loaded lazily from S3 on first read; the workspace (workdir) is on the file system ...
    delete_data_repository_association       -> until DataRepositoryAssociationNotFound
    delete_file_system                       -> until FileSystemNotFound

Every wait is bounded by ``timeout_s``. Deletion is attempted whatever
happened before (a failed creation, a failed run, Ctrl-C), and a deletion
error is raised only after both deletions were tried.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gwasflow.core.uri import scheme
from gwasflow.errors import StagingError
from gwasflow.spec.model import FsxSpec
from gwasflow.storage.staging import Mount

__all__ = ["FsxFileSystem", "common_s3_prefix", "fsx_workspace", "mount_argv", "mounted"]

_FAILED = {"FAILED", "MISCONFIGURED", "MISCONFIGURED_UNAVAILABLE"}


@dataclass(frozen=True)
class FsxFileSystem:
    """A created file system and its association to S3."""

    file_system_id: str
    dns_name: str
    mount_name: str
    association_id: str | None
    mount: Mount


def common_s3_prefix(uris: Sequence[str]) -> str:
    """The longest ``s3://bucket/folder/`` holding every one of ``uris``; StagingError if none."""
    remote = [u for u in uris if scheme(u) == "s3"]
    if not remote:
        raise StagingError("workspace fsx: no s3:// input to link; set workspace.fsx.data_repository")
    folders = [u.rsplit("/", 1)[0].split("/") for u in remote]
    common: list[str] = []
    for parts in zip(*folders, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    if len(common) < 3:  # ["s3:", "", "bucket"]
        raise StagingError("workspace fsx: inputs are in several buckets; set workspace.fsx.data_repository")
    return "/".join(common) + "/"


def _lustre_configuration(spec: FsxSpec) -> dict[str, Any]:
    config: dict[str, Any] = {"DeploymentType": spec.deployment_type}
    if spec.deployment_type == "PERSISTENT_2" and spec.throughput_mb_s_per_tib:
        config["PerUnitStorageThroughput"] = spec.throughput_mb_s_per_tib
    return config


def _wait(what: str, probe: Callable[[], str | None], want: str | None, spec: FsxSpec) -> None:
    """Call ``probe`` (the lifecycle, None when gone) until it returns ``want``; bounded by timeout_s."""
    deadline = time.monotonic() + spec.timeout_s
    while True:
        last = probe()
        if last == want:
            return
        if last in _FAILED and want is not None:
            raise StagingError(f"{what} is {last}")
        if time.monotonic() >= deadline:
            raise StagingError(f"{what}: still {last} after {spec.timeout_s} s (wanted {want or 'deleted'})")
        time.sleep(spec.poll_interval_s)


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


class _Fsx:
    """The boto3 calls, one method each; ``client`` is a boto3 ``fsx`` client."""

    def __init__(self, client: Any, spec: FsxSpec) -> None:
        self.client = client
        self.spec = spec

    def create_file_system(self, tags: dict[str, str]) -> str:
        response = self.client.create_file_system(
            FileSystemType="LUSTRE",
            StorageCapacity=self.spec.storage_capacity_gib,
            SubnetIds=list(self.spec.subnet_ids),
            SecurityGroupIds=list(self.spec.security_group_ids),
            LustreConfiguration=_lustre_configuration(self.spec),
            Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        )
        return str(response["FileSystem"]["FileSystemId"])

    def file_system(self, fs_id: str) -> dict[str, Any] | None:
        try:
            found = self.client.describe_file_systems(FileSystemIds=[fs_id])["FileSystems"]
        except Exception as exc:
            if _error_code(exc) == "FileSystemNotFound":
                return None
            raise
        return dict(found[0]) if found else None

    def fs_lifecycle(self, fs_id: str) -> str | None:
        found = self.file_system(fs_id)
        return None if found is None else str(found.get("Lifecycle", "UNKNOWN"))

    def create_association(self, fs_id: str, repository: str) -> str:
        response = self.client.create_data_repository_association(
            FileSystemId=fs_id,
            FileSystemPath=self.spec.file_system_path,
            DataRepositoryPath=repository,
            BatchImportMetaDataOnCreate=True,
        )
        return str(response["Association"]["AssociationId"])

    def association_lifecycle(self, association_id: str) -> str | None:
        try:
            found = self.client.describe_data_repository_associations(AssociationIds=[association_id])
        except Exception as exc:
            if _error_code(exc) == "DataRepositoryAssociationNotFound":
                return None
            raise
        items = found["Associations"]
        return str(items[0]["Lifecycle"]) if items else None


@contextlib.contextmanager
def fsx_workspace(client: Any, spec: FsxSpec, repository: str, *, tags: dict[str, str]) -> Iterator[FsxFileSystem]:
    """Create the file system and its association, yield it, then delete both (always)."""
    api = _Fsx(client, spec)
    fs_id = api.create_file_system(tags)
    association: str | None = None
    try:
        _wait(f"FSx file system {fs_id}", lambda: api.fs_lifecycle(fs_id), "AVAILABLE", spec)
        association = api.create_association(fs_id, repository)
        assoc_id = association
        _wait(f"data repository association {assoc_id}", lambda: api.association_lifecycle(assoc_id),
              "AVAILABLE", spec)
        described = api.file_system(fs_id) or {}
        lustre = described.get("LustreConfiguration") or {}
        folder = Path(spec.mount_path) / spec.file_system_path.strip("/")
        yield FsxFileSystem(fs_id, str(described.get("DNSName", "")), str(lustre.get("MountName", "")),
                            association, Mount(repository, folder))
    finally:
        _teardown(api, fs_id, association)


def _teardown(api: _Fsx, fs_id: str, association: str | None) -> None:
    errors: list[str] = []
    if association is not None:
        try:
            api.client.delete_data_repository_association(AssociationId=association, DeleteDataInFileSystem=False)
            _wait(f"data repository association {association}", lambda: api.association_lifecycle(association),
                  None, api.spec)
        except Exception as exc:
            errors.append(f"deleting association {association}: {exc}")
    try:
        api.client.delete_file_system(FileSystemId=fs_id)
        _wait(f"FSx file system {fs_id}", lambda: api.fs_lifecycle(fs_id), None, api.spec)
    except Exception as exc:
        errors.append(f"deleting file system {fs_id}: {exc}")
    if errors:
        raise StagingError("FSx teardown incomplete (delete by hand to stop charges): " + "; ".join(errors))


def mount_argv(fs: FsxFileSystem, mount_path: str) -> list[str]:
    """The command that mounts ``fs`` at ``mount_path`` (root and the Lustre client needed)."""
    return ["mount", "-t", "lustre", "-o", "relatime,flock", f"{fs.dns_name}@tcp:/{fs.mount_name}", mount_path]


@contextlib.contextmanager
def mounted(fs: FsxFileSystem, mount_path: str) -> Iterator[None]:
    """Mount ``fs`` for the duration of the block, unmount after (lazily, if busy)."""
    Path(mount_path).mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(mount_argv(fs, mount_path), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise StagingError(f"cannot mount FSx {fs.file_system_id} at {mount_path}: {proc.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", mount_path], capture_output=True, check=False)
