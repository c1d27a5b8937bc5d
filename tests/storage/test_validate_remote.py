"""spec.load and spec.validate with inputs on S3: read in place, problems name the URIs."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml

from gwasflow.demo import write_demo
from gwasflow.errors import SpecError
from gwasflow.spec import load, validate

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
