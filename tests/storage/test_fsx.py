"""The FSx for Lustre workspace lifecycle.

moto implements create_file_system, describe_file_systems and delete_file_system (without a
``Lifecycle`` field), and no data repository association call. So: moto (server mode, the
production code path) tests creation, the bounded wait and deletion of the file system; botocore's
Stubber tests the whole sequence with associations, in order, with the exact parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from gwasflow.errors import StagingError
from gwasflow.spec.model import FsxSpec
from gwasflow.storage.fsx import common_s3_prefix, fsx_workspace, mount_argv

SPEC = FsxSpec(subnet_ids=["subnet-0123456789abcdef0"], security_group_ids=["sg-0123456789abcdef0"],
               timeout_s=2, poll_interval_s=0.01)
REPO = "s3://bucket/cohort/"
FS_ID = "fs-0123456789abcdef0"
DRA_ID = "dra-0123456789abcdef0"


def _client() -> Any:
    return boto3.client("fsx", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x",
                        endpoint_url="http://127.0.0.1:9")


def _fs(lifecycle: str) -> dict[str, Any]:
    return {"FileSystemId": FS_ID, "Lifecycle": lifecycle, "DNSName": f"{FS_ID}.fsx.us-east-1.amazonaws.com",
            "LustreConfiguration": {"MountName": "abcd1234"}}


def _dra(lifecycle: str) -> dict[str, Any]:
    return {"AssociationId": DRA_ID, "FileSystemId": FS_ID, "Lifecycle": lifecycle}


@pytest.fixture
def stub() -> Iterator[tuple[Any, Stubber]]:
    client = _client()
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _expect_creation(stubber: Stubber) -> None:
    stubber.add_response("create_file_system", {"FileSystem": _fs("CREATING")}, {
        "FileSystemType": "LUSTRE", "StorageCapacity": 1200, "SubnetIds": ["subnet-0123456789abcdef0"],
        "SecurityGroupIds": ["sg-0123456789abcdef0"], "Tags": [{"Key": "gwasflow:run", "Value": "r"}],
        "LustreConfiguration": {"DeploymentType": "PERSISTENT_2", "PerUnitStorageThroughput": 125},
    })
    stubber.add_response("describe_file_systems", {"FileSystems": [_fs("CREATING")]}, {"FileSystemIds": [FS_ID]})
    stubber.add_response("describe_file_systems", {"FileSystems": [_fs("AVAILABLE")]}, {"FileSystemIds": [FS_ID]})
    stubber.add_response("create_data_repository_association", {"Association": _dra("CREATING")}, {
        "FileSystemId": FS_ID, "FileSystemPath": "/data", "DataRepositoryPath": REPO,
        "BatchImportMetaDataOnCreate": True,
    })


def _expect_deletion(stubber: Stubber, *, association: bool = True) -> None:
    if association:
        stubber.add_response("delete_data_repository_association", {"AssociationId": DRA_ID, "Lifecycle": "DELETING"},
                             {"AssociationId": DRA_ID, "DeleteDataInFileSystem": False})
        stubber.add_response("describe_data_repository_associations", {"Associations": [_dra("DELETING")]},
                             {"AssociationIds": [DRA_ID]})
        stubber.add_client_error("describe_data_repository_associations", "DataRepositoryAssociationNotFound")
    stubber.add_response("delete_file_system", {"FileSystemId": FS_ID, "Lifecycle": "DELETING"},
                         {"FileSystemId": FS_ID})
    stubber.add_client_error("describe_file_systems", "FileSystemNotFound")


def test_fsx_workspace__creates_waits_links_then_deletes_both(stub: tuple[Any, Stubber]) -> None:
    client, stubber = stub
    _expect_creation(stubber)
    stubber.add_response("describe_data_repository_associations", {"Associations": [_dra("AVAILABLE")]},
                         {"AssociationIds": [DRA_ID]})
    stubber.add_response("describe_file_systems", {"FileSystems": [_fs("AVAILABLE")]}, {"FileSystemIds": [FS_ID]})
    _expect_deletion(stubber)
    with fsx_workspace(client, SPEC, REPO, tags={"gwasflow:run": "r"}) as fs:
        assert (fs.file_system_id, fs.association_id, fs.mount_name) == (FS_ID, DRA_ID, "abcd1234")
        assert fs.mount.resolve("s3://bucket/cohort/chr1.bed") == "/fsx/data/chr1.bed"
        assert fs.mount.resolve("s3://bucket/elsewhere/x") is None
        assert mount_argv(fs, "/fsx")[-2:] == [f"{FS_ID}.fsx.us-east-1.amazonaws.com@tcp:/abcd1234", "/fsx"]


def test_fsx_workspace__failed_association_still_deletes_both(stub: tuple[Any, Stubber]) -> None:
    client, stubber = stub
    _expect_creation(stubber)
    stubber.add_response("describe_data_repository_associations", {"Associations": [_dra("FAILED")]},
                         {"AssociationIds": [DRA_ID]})
    _expect_deletion(stubber)
    with pytest.raises(StagingError, match=f"association {DRA_ID} is FAILED"), \
            fsx_workspace(client, SPEC, REPO, tags={"gwasflow:run": "r"}):
        pytest.fail("the block must not run")


def test_fsx_workspace__error_in_the_run_deletes_both_and_propagates(stub: tuple[Any, Stubber]) -> None:
    client, stubber = stub
    _expect_creation(stubber)
    stubber.add_response("describe_data_repository_associations", {"Associations": [_dra("AVAILABLE")]},
                         {"AssociationIds": [DRA_ID]})
    stubber.add_response("describe_file_systems", {"FileSystems": [_fs("AVAILABLE")]}, {"FileSystemIds": [FS_ID]})
    _expect_deletion(stubber)
    with pytest.raises(KeyboardInterrupt), fsx_workspace(client, SPEC, REPO, tags={"gwasflow:run": "r"}):
        raise KeyboardInterrupt


def test_fsx_workspace__on_moto_a_file_system_never_available_times_out_and_is_deleted(aws_endpoint: str) -> None:
    client = boto3.client("fsx")
    spec = SPEC.model_copy(update={"timeout_s": 1, "poll_interval_s": 0.05})
    with pytest.raises(StagingError, match=r"still .* after 1 s"), \
            fsx_workspace(client, spec, REPO, tags={"gwasflow:run": "moto"}):
        pytest.fail("the block must not run")
    left = [f for f in client.describe_file_systems()["FileSystems"]
            if {"Key": "gwasflow:run", "Value": "moto"} in f.get("Tags", [])]
    assert left == []


def test_common_s3_prefix__longest_shared_folder_or_a_clear_error() -> None:
    assert common_s3_prefix(["s3://b/c/x/chr1.bed", "s3://b/c/y/p.txt", "/local/cov.txt"]) == "s3://b/c/"
    assert common_s3_prefix(["s3://b/c/chr1.bed"]) == "s3://b/c/"
    with pytest.raises(StagingError, match="several buckets"):
        common_s3_prefix(["s3://a/x", "s3://b/y"])
    with pytest.raises(StagingError, match="no s3:// input"):
        common_s3_prefix([str(Path("/local/x"))])
