"""Issue 12: BGEN datasets in object storage are validated in place (header, .bgi, .sample) and staged whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gwasflow.errors import SpecError
from gwasflow.spec import load
from gwasflow.storage.staging import plan_staging
from gwasflow.validate import validate
from tests.biobank_files import make_biobank


@pytest.fixture
def remote_biobank(bucket: tuple[Any, str], tmp_path: Path) -> tuple[Path, str]:
    client, name = bucket
    made = make_biobank(tmp_path, n_samples=120, n_variants=60)
    for path in sorted((tmp_path / "imputed").iterdir()):
        client.upload_file(str(path), name, f"imp/{path.name}")
    spec = made["spec"] | {"phenotypes": made["spec"]["phenotypes"] | {"min_samples": 20}}
    spec["datasets"][0] |= {"bgen": f"s3://{name}/imp/ukb_imp_chr{{chrom}}.bgen",
                            "sample": f"s3://{name}/imp/ukb_imp.sample"}
    path = tmp_path / "remote.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path, name


def test_validate__remote_bgen_read_in_place(remote_biobank: tuple[Path, str]) -> None:
    path, name = remote_biobank
    local = path.parent / "local.yaml"
    local.write_text(path.read_text().replace(f"s3://{name}/imp/", "imputed/"))
    remote_metas = validate(load(path))
    local_metas = validate(load(local))
    assert [m.prefix for m in remote_metas[1:]] == [f"s3://{name}/imp/ukb_imp_chr{c}.bgen" for c in (1, 2)]
    assert [(m.n_samples, m.n_variants, m.pos.tolist()) for m in remote_metas] == [
        (m.n_samples, m.n_variants, m.pos.tolist()) for m in local_metas]


def test_validate__remote_bgen_without_index_is_refused(bucket: tuple[Any, str],
                                                        remote_biobank: tuple[Path, str]) -> None:
    client, name = bucket
    path, _ = remote_biobank
    client.delete_object(Bucket=name, Key="imp/ukb_imp_chr2.bgen.bgi")
    with pytest.raises(SpecError) as err:
        validate(load(path))
    assert [(p.field, p.file, p.message) for p in err.value.problems] == [
        ("datasets[0].bgen", f"s3://{name}/imp/ukb_imp_chr2.bgen.bgi", "dataset imp, chromosome 2: a BGEN file in "
         "object storage needs its .bgi index (planning would read the whole file)")]


def test_plan_staging__remote_bgen_files_index_and_sample_are_copied(remote_biobank: tuple[Path, str]) -> None:
    path, name = remote_biobank
    spec = load(path)
    plan = plan_staging(spec, validate(spec), path.parent / "ws")
    sources = {t.source for t in plan.transfers}
    for c in (1, 2):
        assert {f"s3://{name}/imp/ukb_imp_chr{c}.bgen", f"s3://{name}/imp/ukb_imp_chr{c}.bgen.bgi"} <= sources
    assert f"s3://{name}/imp/ukb_imp.sample" in sources
    bgen = [m for m in plan.datasets if not m.step1_only]
    assert all(m.prefix.startswith(str(path.parent / "ws" / "inputs")) for m in bgen)
    assert all(m.sample is not None and not m.sample.startswith("s3://") for m in bgen)
