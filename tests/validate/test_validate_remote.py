"""spec.load and gwasflow.validate with inputs on S3: read in place, problems name the URIs."""

from __future__ import annotations

import importlib.util
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gwasflow.commands.demo import write_demo
from gwasflow.errors import SpecError
from gwasflow.spec import load
from gwasflow.storage import probe
from gwasflow.validate import validate

FILES = ["cohort.bed", "cohort.bim", "cohort.fam", "cohort.pheno.txt", "cohort.covar.txt"]


@pytest.fixture
def remote_spec(bucket: tuple[Any, str], tmp_path: Path) -> tuple[Path, str]:
    client, name = bucket
    write_demo(tmp_path / "d", n_samples=40, n_variants=30)
    for f in FILES:
        client.upload_file(str(tmp_path / "d" / "data" / f), name, f"data/{f}")
    data = yaml.safe_load((tmp_path / "d" / "spec.yaml").read_text())
    data["datasets"][0]["bed"] = f"s3://{name}/data/cohort"
    data["phenotypes"]["file"] = f"s3://{name}/data/cohort.pheno.txt"
    data["covariates"]["file"] = f"s3://{name}/data/cohort.covar.txt"
    data["phenotypes"]["min_samples"] = 20  # a 40-sample cohort keeps the upload small
    data["outdir"] = f"s3://{name}/out"
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, name


def test_load__keeps_uris_and_resolves_local_paths(remote_spec: tuple[Path, str]) -> None:
    path, name = remote_spec
    spec = load(path)
    assert spec.datasets[0].bed == f"s3://{name}/data/cohort" and spec.outdir == f"s3://{name}/out"
    assert spec.workdir == str(path.parent / "work")


def test_validate__reads_remote_inputs_in_place(remote_spec: tuple[Path, str]) -> None:
    path, name = remote_spec
    metas = validate(load(path))
    assert (metas[0].prefix, metas[0].n_samples, metas[0].n_variants) == (f"s3://{name}/data/cohort", 40, 30)
    assert not list(path.parent.glob("work*")), "validation stages nothing"


def test_validate__remote_problems_name_field_and_uri(bucket: tuple[Any, str], remote_spec: tuple[Path, str]) -> None:
    client, name = bucket
    path, _ = remote_spec
    client.delete_object(Bucket=name, Key="data/cohort.bed")
    client.put_object(Bucket=name, Key="data/cohort.pheno.txt", Body=b"FID IID Y1 Y2\nf1 i1 x 1\n")
    with pytest.raises(SpecError) as err:
        validate(load(path))
    found = {(p.field, p.file, p.message.split(" (")[0]) for p in err.value.problems}
    assert ("datasets[0].bed", f"s3://{name}/data/cohort.bed", "file not found") in found
    assert any(f == "phenotypes.columns[0]" and u == f"s3://{name}/data/cohort.pheno.txt" for f, u, _ in found)


@pytest.mark.skipif(importlib.util.find_spec("gcsfs") is not None, reason="gcsfs is installed here")
def test_validate__gs_without_gcsfs_and_a_uri_workdir_are_spec_errors(remote_spec: tuple[Path, str]) -> None:
    path, _ = remote_spec
    data = yaml.safe_load(path.read_text())
    data["phenotypes"]["file"] = "gs://b/pheno.txt"
    data["workdir"] = "s3://b/work"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError) as err:
        validate(load(path))
    messages = {p.field: p.message for p in err.value.problems}
    assert messages["phenotypes.file"] == "gs:// needs the Python package gcsfs (pip install gcsfs)"
    assert "not a URI" in messages["workdir"]


SECRET = "wJalrXUtnFEMI-K7MDENG-sekrit"


@pytest.fixture
def closed_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """AWS_ENDPOINT_URL set to a loopback port nothing listens on (and throwaway keys), for this test only."""
    import s3fs

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    s3fs.S3FileSystem.clear_instance_cache()  # instances remember the endpoint they were made with
    yield endpoint
    s3fs.S3FileSystem.clear_instance_cache()


def test_validate__unreachable_storage_is_one_problem_naming_field_and_url_within_seconds(
    remote_spec: tuple[Path, str], closed_endpoint: str
) -> None:
    path, name = remote_spec
    spec = load(path)
    started = time.monotonic()
    with pytest.raises(SpecError) as err:
        validate(spec)
    elapsed = time.monotonic() - started
    [problem] = err.value.problems
    assert (problem.field, problem.file) == ("datasets[0].bed", f"s3://{name}/data/cohort")
    assert problem.message == (f"storage unreachable: EndpointConnectionError: Could not connect to the endpoint "
                               f'URL: "{closed_endpoint}/{name}/data/cohort"')
    assert elapsed < 15, f"{elapsed:.1f} s"  # one request, two refused attempts (0.6 s idle); s3fs's loop: ~100 s


def test_unreachable_field__absent_objects_and_buckets_are_answers(bucket: tuple[Any, str]) -> None:
    _, name = bucket
    fields = [("phenotypes.file", f"s3://{name}/no/such/file.txt"), ("outdir", "s3://no-such-bucket-here/x")]
    assert probe.unreachable_field(fields) is None
    assert probe.unreachable_field([("workdir", "/local/path")]) is None


def test_read_text__backend_errors_become_oserror(closed_endpoint: str) -> None:
    with pytest.raises(OSError, match=r"^EndpointConnectionError: Could not connect") as err:
        probe.read_text("s3://some-bucket/pheno.txt")
    assert type(err.value) is OSError
    assert probe.exists("s3://some-bucket/pheno.txt") is False


def test_validate__remote_prediction_list_entry_with_credentials_is_refused_redacted(
    bucket: tuple[Any, str], remote_spec: tuple[Path, str]
) -> None:
    client, name = bucket
    path, _ = remote_spec
    client.put_object(Bucket=name, Key="step1/pred.list", Body=(
        f"Y1 s3://{name}/step1/out_1.loco\nY2 s3://AKIAEXAMPLE:{SECRET}@{name}/step1/out_2.loco\n"
    ).encode())
    client.put_object(Bucket=name, Key="step1/out_1.loco", Body=b"FID_IID\n")
    data = yaml.safe_load(path.read_text())
    data["step1"] = {"skip": True, "predictions": f"s3://{name}/step1/pred.list"}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError) as err:
        validate(load(path))
    found = [(p.field, p.file, p.line, p.message) for p in err.value.problems if p.field == "step1.predictions"]
    assert found == [("step1.predictions", f"s3://{name}/step1/pred.list", 2,
                      f"LOCO entry s3://***@{name}/step1/out_2.loco: a URL with credentials")]
    assert SECRET not in str(err.value)


def test_unreachable_field__a_server_that_never_answers_is_given_up_on_within_30_s(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import s3fs

    with socket.socket() as server:  # accepts connections (the kernel does), never answers a request
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        endpoint = f"http://127.0.0.1:{server.getsockname()[1]}"
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        s3fs.S3FileSystem.clear_instance_cache()
        started = time.monotonic()
        try:
            problem = probe.unreachable_field([("phenotypes.file", "s3://bucket/pheno.txt")])
        finally:
            s3fs.S3FileSystem.clear_instance_cache()
        elapsed = time.monotonic() - started
    assert problem is not None and problem.field == "phenotypes.file"
    assert problem.message.startswith("storage unreachable: ReadTimeoutError: Read timeout on endpoint URL")
    assert 10 <= elapsed < 30, f"{elapsed:.1f} s"  # 2 attempts x 10 s read timeout, no s3fs retry loop


def test_unreachable_field__no_credentials_is_said_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import s3fs

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    s3fs.S3FileSystem.clear_instance_cache()
    try:
        problem = probe.unreachable_field([("outdir", "s3://bucket/out")])
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
    assert problem is not None
    assert (problem.field, problem.file) == ("outdir", "s3://bucket/out")
    assert problem.message == "no credentials for the storage: NoCredentialsError: Unable to locate credentials"


@pytest.mark.parametrize(
    "raised", [PermissionError("denied at https://u:sekrit@host/b"), ValueError("bad https://u:sekrit@host/b")]
)
def test_read_text__errors_keep_their_kind_and_lose_credentials(
    monkeypatch: pytest.MonkeyPatch, raised: Exception
) -> None:
    class Failing:
        def cat_file(self, path: str) -> bytes:
            raise raised

    monkeypatch.setattr(probe, "filesystem", lambda uri, fail_fast=False: (Failing(), uri))
    with pytest.raises(OSError) as err:
        probe.read_text("s3://b/k")
    assert isinstance(err.value, PermissionError) is isinstance(raised, PermissionError)
    assert "sekrit" not in str(err.value) and "https://***@host/b" in str(err.value)
