"""Staging: what is copied where, sizes, the progress callback, missing files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gwasflow.errors import StagingError
from gwasflow.plan.meta import DatasetMeta
from gwasflow.spec.model import RunSpec
from gwasflow.storage.staging import Mount, Transfer, copy_in, measure, plan_staging


class Recorder:
    def __init__(self) -> None:
        self.total = -1
        self.chunks: list[int] = []
        self.closed = False

    def start(self, description: str, total_bytes: int) -> None:
        self.total = total_bytes

    def advance(self, n_bytes: int) -> None:
        self.chunks.append(n_bytes)

    def close(self) -> None:
        self.closed = True


def _put(bucket: tuple[Any, str], key: str, data: bytes) -> str:
    client, name = bucket
    client.put_object(Bucket=name, Key=key, Body=data)
    return f"s3://{name}/{key}"


def _spec(bed: str, pheno: str, cov: str, **extra: Any) -> RunSpec:
    return RunSpec.model_validate({
        "name": "t", "datasets": [{"bed": bed, "label": "c"}],
        "phenotypes": {"file": pheno, "columns": ["Y1"]}, "covariates": {"file": cov, "columns": []},
        "workdir": "/w", "outdir": "s3://b/out", **extra,
    })


def _meta(prefix: str) -> DatasetMeta:
    return DatasetMeta("c", prefix, 4, 2, np.array(["1", "1"]), np.array([1, 2], dtype=np.int64))


def test_copy_in__copies_with_sizes_and_reports_every_byte(bucket: tuple[Any, str], tmp_path: Path) -> None:
    big = bytes(range(256)) * 40_000  # 10 MB: more than one read chunk
    sources = [_put(bucket, "in/a.bin", big), _put(bucket, "in/b.txt", b"hello\n")]
    transfers = [Transfer(sources[0], tmp_path / "x" / "a.bin"), Transfer(sources[1], tmp_path / "b.txt")]
    bar = Recorder()
    done = copy_in(transfers, bar)
    assert [t.size for t in done] == [len(big), 6]
    assert (tmp_path / "x" / "a.bin").read_bytes() == big and (tmp_path / "b.txt").read_bytes() == b"hello\n"
    assert bar.total == len(big) + 6 and sum(bar.chunks) == bar.total and len(bar.chunks) >= 3 and bar.closed
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.bin", "b.txt"], "no temp file left"


def test_measure__missing_remote_files_are_one_staging_error_naming_each(bucket: tuple[Any, str]) -> None:
    _, name = bucket
    here = _put(bucket, "in/here.txt", b"x")
    with pytest.raises(StagingError) as err:
        measure([Transfer(here, Path("/a")), Transfer(f"s3://{name}/in/gone1", Path("/b")),
                 Transfer(f"s3://{name}/in/gone2", Path("/c"))])
    assert f"s3://{name}/in/gone1" in str(err.value) and f"s3://{name}/in/gone2" in str(err.value)


def test_copy_in__missing_file_copies_nothing(bucket: tuple[Any, str], tmp_path: Path) -> None:
    _, name = bucket
    here = _put(bucket, "in/here.txt", b"x")
    with pytest.raises(StagingError, match="input not found"):
        copy_in([Transfer(here, tmp_path / "here.txt"), Transfer(f"s3://{name}/nope", tmp_path / "nope")])
    assert not list(tmp_path.iterdir())


def test_plan_staging__remote_inputs_go_to_the_workspace_local_ones_stay(tmp_path: Path) -> None:
    spec = _spec("s3://b/data/cohort", "s3://b/data/pheno.txt", str(tmp_path / "cov.txt"))
    plan = plan_staging(spec, [_meta("s3://b/data/cohort")], tmp_path / "ws")
    inputs = tmp_path / "ws" / "inputs"
    assert plan.spec.datasets[0].bed == str(inputs / "0_c" / "cohort")
    assert plan.datasets[0].prefix == str(inputs / "0_c" / "cohort")
    assert plan.spec.phenotypes.file == str(inputs / "phenotypes" / "pheno.txt")
    assert plan.spec.covariates is not None and plan.spec.covariates.file == str(tmp_path / "cov.txt")
    assert [t.source for t in plan.transfers] == [
        "s3://b/data/cohort.bed", "s3://b/data/cohort.bim", "s3://b/data/cohort.fam", "s3://b/data/pheno.txt"]
    assert plan.spec.outdir == spec.outdir, "staging rewrites inputs only"


def test_plan_staging__inputs_under_a_mount_are_rewritten_not_copied(tmp_path: Path) -> None:
    spec = _spec("s3://b/data/cohort", "s3://b/data/pheno.txt", "s3://other/cov.txt")
    plan = plan_staging(spec, [_meta("s3://b/data/cohort")], tmp_path / "ws",
                        mounts=[Mount("s3://b/data/", Path("/fsx/data"))])
    assert plan.spec.datasets[0].bed == "/fsx/data/cohort"
    assert plan.spec.phenotypes.file == "/fsx/data/pheno.txt"
    assert [t.source for t in plan.transfers] == ["s3://other/cov.txt"]


def test_plan_staging__remote_predictions_list_is_rewritten_to_staged_loco_files(
    bucket: tuple[Any, str], tmp_path: Path
) -> None:
    _, name = bucket
    pred = _put(bucket, "s1/fit_pred.list", b"Y1 fit_1.loco\n")
    _put(bucket, "s1/fit_1.loco", b"FID_IID a_a\n1 0.1\n")
    spec = _spec(str(tmp_path / "cohort"), str(tmp_path / "p.txt"), str(tmp_path / "c.txt"),
                 step1={"skip": True, "predictions": pred})
    plan = plan_staging(spec, [_meta(str(tmp_path / "cohort"))], tmp_path / "ws")
    staged_loco = tmp_path / "ws" / "inputs" / "step1" / "fit_1.loco"
    assert [(t.source, t.target) for t in plan.transfers] == [(f"s3://{name}/s1/fit_1.loco", staged_loco)]
    assert plan.spec.step1.predictions is not None
    assert Path(plan.spec.step1.predictions).read_text() == f"Y1 {staged_loco}\n"
