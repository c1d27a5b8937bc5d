"""The machine's FSx for Lustre states: create the file system and its S3 association, export the
results, and delete both on every path.

Creation (each wait a :func:`~gwasflow.export.sfn.asl.poll_loop`, bounded by ``max_polls``)::

    CreateFileSystem -> [Wait/Describe]FileSystem until AVAILABLE -> KeepMountNames ($.mount: its
    DNSName and MountName, which the hosts mount) -> CreateAssociation (FileSystemPath <->
    DataRepositoryPath, metadata imported on creation) -> [Wait/Describe]Association until AVAILABLE
    -> (the run's Batch compute, compute.py)

After the report: ``ExportResults`` (a data repository task ``EXPORT_TO_REPOSITORY`` of the outdir,
and of the workdir with ``keep_workspace``), waited for until SUCCEEDED, then the cleanup.

Cleanup, entered from every path (success, a failed job, a caught error, a timeout) once the run's
Batch resources are deleted (``compute.py``)::

    CleanupFileSystem (Choice: an association?) -> DeleteAssociation -> [Wait/Describe]AssociationGone
    -> DeleteFileSystem -> Finish (Choice on $.outcome) -> RunSucceeded | Failed -> RunFailed

``CleanupFileSystem`` also serves the cleanup machine (``cleanup.py``), which enters it with what it
found: no file system goes straight to ``Finish``; a file system (or association) already DELETING is
waited for ([Wait/Describe]FileSystemGone, AssociationGone) instead of deleted again.

A failed or timed-out deletion of the association still deletes the file system (which takes its
associations with it); a file system that cannot be deleted ends the execution in
``gwasflow.CleanupFailed`` so the bill is noticed. Errors met while cleaning up go to
``$.cleanup_error`` and never replace the run's own ``$.outcome``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gwasflow.export.sfn.asl import State, api_retry, fail_outcome, gone_loop, poll_loop, sdk
from gwasflow.spec.model import FsxSpec

__all__ = ["LOOPS", "FsxLayout", "cleanup_states", "create_states", "export_states"]

#: The poll loops of this module, whose counters the machine starts at 0.
LOOPS = ("FileSystem", "Association", "Export", "AssociationGone", "FileSystemGone")

_FS_FAILED = ("FAILED", "MISCONFIGURED", "MISCONFIGURED_UNAVAILABLE", "DELETING")
_DRA_FAILED = ("FAILED", "MISCONFIGURED", "DELETING")
_NOT_READY = "did not become AVAILABLE"
_TOO_LONG = "was not AVAILABLE after max_polls describes, poll_seconds apart"


@dataclass(frozen=True)
class FsxLayout:
    """Where the file system's S3 link lives: ``mount_path`` + ``file_system_path`` <-> ``repository``."""

    fsx: FsxSpec
    repository: str
    run_name: str

    @property
    def linked_folder(self) -> str:
        """The container path under which files are S3 objects (``/fsx/data``)."""
        return self.fsx.mount_path.rstrip("/") + "/" + self.fsx.file_system_path.strip("/")

    def task_path(self, container_path: str) -> str:
        """A container path as a data repository task path (relative to the file system root)."""
        mount = self.fsx.mount_path.rstrip("/") + "/"
        if not container_path.startswith(mount):
            raise ValueError(f"{container_path} is not under the FSx mount {self.fsx.mount_path}")
        return container_path[len(mount):].strip("/")


def _lustre(fsx: FsxSpec) -> dict[str, Any]:
    config: dict[str, Any] = {"DeploymentType": fsx.deployment_type}
    if fsx.deployment_type == "PERSISTENT_2" and fsx.throughput_mb_s_per_tib:
        config["PerUnitStorageThroughput"] = fsx.throughput_mb_s_per_tib
    return config


def _catch(next_state: str, path: str = "$.outcome") -> list[State]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": path, "Next": next_state}]


def create_states(layout: FsxLayout, *, then: str) -> dict[str, State]:
    """From ``CreateFileSystem`` to an AVAILABLE association, then ``then``."""
    fsx = layout.fsx
    create = {
        "Type": "Task", "Resource": sdk("fsx", "createFileSystem"),
        "Parameters": {
            "FileSystemType": "LUSTRE", "FileSystemTypeVersion": "2.15",
            "StorageCapacity": fsx.storage_capacity_gib, "SubnetIds": list(fsx.subnet_ids),
            "SecurityGroupIds": list(fsx.security_group_ids), "LustreConfiguration": _lustre(fsx),
            "Tags": [{"Key": "gwasflow:run", "Value": layout.run_name},
                     {"Key": "gwasflow:execution", "Value.$": "$.run_id"}],
        },
        "ResultSelector": {"id.$": "$.FileSystem.FileSystemId"}, "ResultPath": "$.fsx",
        "Retry": api_retry(), "Catch": _catch("Finish"), "Next": "WaitFileSystem",
    }  # fmt: skip
    associate = {
        "Type": "Task", "Resource": sdk("fsx", "createDataRepositoryAssociation"),
        "Parameters": {
            "FileSystemId.$": "$.fsx.id", "FileSystemPath": "/" + fsx.file_system_path.strip("/"),
            "DataRepositoryPath": layout.repository, "BatchImportMetaDataOnCreate": True,
        },
        "ResultSelector": {"id.$": "$.Association.AssociationId"}, "ResultPath": "$.dra",
        "Retry": api_retry(), "Catch": _catch("Cleanup"), "Next": "WaitAssociation",
    }  # fmt: skip
    states: dict[str, State] = {"CreateFileSystem": create}
    states |= poll_loop(
        "FileSystem",
        describe={"Resource": sdk("fsx", "describeFileSystems"),
                  "Parameters": {"FileSystemIds.$": "States.Array($.fsx.id)"}},
        item="$.FileSystems[0]", ready={"AVAILABLE": "KeepMountNames"}, failed=_FS_FAILED,
        on_failed="FileSystemFailed", on_timeout="FileSystemTimedOut", on_error="Cleanup",
    )  # fmt: skip
    states["FileSystemFailed"] = fail_outcome("gwasflow.FileSystemFailed", f"the file system {_NOT_READY}", "Cleanup")
    states["FileSystemTimedOut"] = fail_outcome("gwasflow.Timeout", f"the FSx file system {_TOO_LONG}", "Cleanup")
    # SDK integrations answer in PascalCase with acronyms folded: the API's DNSName is DnsName
    states["KeepMountNames"] = {
        "Type": "Pass", "ResultPath": "$.mount", "Next": "CreateAssociation",
        "Parameters": {"dns.$": "$.lifecycle.item.DnsName", "name.$": "$.lifecycle.item.LustreConfiguration.MountName"},
    }  # fmt: skip
    states["CreateAssociation"] = associate
    states |= poll_loop(
        "Association",
        describe={"Resource": sdk("fsx", "describeDataRepositoryAssociations"),
                  "Parameters": {"AssociationIds.$": "States.Array($.dra.id)"}},
        item="$.Associations[0]", ready={"AVAILABLE": then}, failed=_DRA_FAILED,
        on_failed="AssociationFailed", on_timeout="AssociationTimedOut", on_error="Cleanup",
    )  # fmt: skip
    states["AssociationFailed"] = fail_outcome("gwasflow.AssociationFailed", f"the association {_NOT_READY}", "Cleanup")
    states["AssociationTimedOut"] = fail_outcome("gwasflow.Timeout", f"the association {_TOO_LONG}", "Cleanup")
    return states  # fmt: skip


def export_states(layout: FsxLayout, paths: list[str]) -> dict[str, State]:
    """``ExportResults``: copy ``paths`` (container paths) to S3, wait until done, then ``Cleanup``."""
    task = {
        "Type": "Task", "Resource": sdk("fsx", "createDataRepositoryTask"),
        "Parameters": {
            "Type": "EXPORT_TO_REPOSITORY", "FileSystemId.$": "$.fsx.id",
            "Paths": [layout.task_path(p) for p in paths], "Report": {"Enabled": False},
        },
        "ResultSelector": {"id.$": "$.DataRepositoryTask.TaskId"}, "ResultPath": "$.export",
        "Retry": api_retry(), "Catch": _catch("Cleanup"), "Next": "WaitExport",
    }  # fmt: skip
    states: dict[str, State] = {"ExportResults": task}
    states |= poll_loop(
        "Export",
        describe={"Resource": sdk("fsx", "describeDataRepositoryTasks"),
                  "Parameters": {"TaskIds.$": "States.Array($.export.id)"}},
        item="$.DataRepositoryTasks[0]", ready={"SUCCEEDED": "Cleanup"}, failed=("FAILED", "CANCELED"),
        on_failed="ExportFailed", on_timeout="ExportTimedOut", on_error="Cleanup",
    )  # fmt: skip
    states["ExportFailed"] = fail_outcome("gwasflow.ExportFailed", "exporting the results to S3 failed", "Cleanup")
    states["ExportTimedOut"] = fail_outcome("gwasflow.Timeout", "the export to S3 did not finish in time", "Cleanup")
    return states


def cleanup_states() -> dict[str, State]:
    """``CleanupFileSystem`` to ``RunSucceeded`` / ``RunFailed`` (see the module docstring)."""
    def lifecycle(path: str, value: str) -> State:
        return {"And": [{"Variable": f"{path}.lifecycle", "IsPresent": True},
                        {"Variable": f"{path}.lifecycle", "StringEquals": value}]}  # fmt: skip

    states: dict[str, State] = {
        "CleanupFileSystem": {"Type": "Choice", "Default": "DeleteFileSystem", "Choices": [
            {"Not": {"Variable": "$.fsx.id", "IsPresent": True}, "Next": "Finish"},
            {**lifecycle("$.fsx", "DELETING"), "Next": "WaitFileSystemGone"},
            {**lifecycle("$.dra", "DELETING"), "Next": "WaitAssociationGone"},
            {"Variable": "$.dra.id", "IsPresent": True, "Next": "DeleteAssociation"}]},
        "DeleteAssociation": {
            "Type": "Task", "Resource": sdk("fsx", "deleteDataRepositoryAssociation"),
            "Parameters": {"AssociationId.$": "$.dra.id", "DeleteDataInFileSystem": False},
            "ResultPath": None, "Retry": api_retry(), "Catch": _catch("DeleteFileSystem", "$.cleanup_error"),
            "Next": "WaitAssociationGone",
        },
    }  # fmt: skip
    gone = poll_loop(
        "AssociationGone",
        describe={"Resource": sdk("fsx", "describeDataRepositoryAssociations"),
                  "Parameters": {"AssociationIds.$": "States.Array($.dra.id)"}},
        item="$.Associations[0]", ready={}, failed=("AVAILABLE", "FAILED", "MISCONFIGURED"),
        on_failed="DeleteFileSystem", on_timeout="DeleteFileSystem", on_error="DeleteFileSystem",
    )  # fmt: skip
    # a describe that fails here is the association gone (DataRepositoryAssociationNotFound): not the run's error
    gone["DescribeAssociationGone"]["Catch"][0]["ResultPath"] = "$.cleanup_error"
    states |= gone
    states["DeleteFileSystem"] = {
        "Type": "Task", "Resource": sdk("fsx", "deleteFileSystem"), "Parameters": {"FileSystemId.$": "$.fsx.id"},
        "ResultPath": None,
        "Retry": [*api_retry(),  # BadRequest: the association is still being deleted
                  {"ErrorEquals": ["Fsx.BadRequestException"], "IntervalSeconds": 30, "BackoffRate": 1.5,
                   "MaxAttempts": 8}],
        "Catch": _catch("CleanupFailed", "$.cleanup_error"), "Next": "Finish",
    }  # fmt: skip
    states |= gone_loop(
        "FileSystemGone", describe={"Resource": sdk("fsx", "describeFileSystems"),
                                    "Parameters": {"FileSystemIds.$": "States.Array($.fsx.id)"}},
        items="$.FileSystems", then="Finish", field="Lifecycle",
    )  # fmt: skip
    states["CleanupFailed"] = {
        "Type": "Fail", "Error": "gwasflow.CleanupFailed",
        "Cause": "the FSx file system was not deleted (see DeleteFileSystem in the history); delete it by hand: "
                 "it is tagged gwasflow:execution with this execution's name",
    }  # fmt: skip
    states["Finish"] = {
        "Type": "Choice", "Choices": [{"Variable": "$.outcome", "IsPresent": True, "Next": "Failed"}],
        "Default": "RunSucceeded",
    }
    # one error name for every failed run (a Fail state may not raise a States.* name); the cause starts with the
    # error that ended the run, e.g. "gwasflow.ShardsFailed: ..." or "States.TaskFailed: {the Batch job}"
    cause = "States.Format('{}: {}', $.outcome.Error, $.outcome.Cause)"
    states["Failed"] = {"Type": "Pass", "Parameters": {"cause.$": cause}, "ResultPath": "$.failed", "Next": "RunFailed"}
    states["RunFailed"] = {"Type": "Fail", "Error": "gwasflow.RunFailed", "CausePath": "$.failed.cause"}
    states["RunSucceeded"] = {"Type": "Succeed"}
    return states
