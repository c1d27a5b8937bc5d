"""A whole demo run with inputs and outdir on S3 (moto server on loopback), against the same run done locally."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from gwasflow.commands.demo import write_demo
from gwasflow.store import SQLiteStore

BUCKET = "gwas-e2e"
DATA_FILES = ["cohort.bed", "cohort.bim", "cohort.fam", "cohort.pheno.txt", "cohort.covar.txt"]


def _gwasflow(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gwasflow", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False, env={**os.environ, **env})


@pytest.fixture(scope="module")
def s3(aws_endpoint: str) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, s3: Any) -> Path:
    """The small demo, uploaded to s3://gwas-e2e/data/, and its local run's merged results."""
    folder = tmp_path_factory.mktemp("demo") / "d"
    spec = write_demo(folder, n_samples=600, n_variants=3000)
    for name in DATA_FILES:
        s3.upload_file(str(folder / "data" / name), BUCKET, f"data/{name}")
    proc = _gwasflow(["run", str(spec), "--quiet"], folder, {})
    assert proc.returncode == 0, proc.stderr
    return folder


def _remote_spec(demo: Path, where: Path, prefix: str, **changes: Any) -> Path:
    data = yaml.safe_load((demo / "spec.yaml").read_text())
    data["datasets"][0]["bed"] = f"s3://{BUCKET}/data/cohort"
    data["phenotypes"]["file"] = f"s3://{BUCKET}/data/cohort.pheno.txt"
    data["covariates"]["file"] = f"s3://{BUCKET}/data/cohort.covar.txt"
    data["outdir"] = f"s3://{BUCKET}/{prefix}"
    data["workdir"] = str(where / "work")
    data.update(changes)
    where.mkdir(parents=True, exist_ok=True)
    path = where / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _keys(s3: Any, prefix: str) -> set[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return {obj["Key"][len(prefix):] for page in pages for obj in page.get("Contents", [])}


def _object(s3: Any, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_run__s3_inputs_and_outdir_give_the_local_results_and_publish_the_run(
    demo: Path, s3: Any, tmp_path: Path
) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = _gwasflow(["run", str(_remote_spec(demo, tmp_path / "r", "out")), "--quiet"], tmp_path, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    keys = _keys(s3, "out/")
    for pheno in ("Y1", "Y2"):
        remote = gzip.decompress(_object(s3, f"out/results/{pheno}.regenie.gz"))
        local = gzip.decompress((demo / "results" / f"{pheno}.regenie.gz").read_bytes())
        assert remote == local
    assert {"summary.tsv", ".gwasflow/gwasflow.sqlite", ".gwasflow/spec.json", ".gwasflow/SUCCEEDED"} <= keys
    assert any(k.startswith(".gwasflow/runs/") and "/logs/step1." in k for k in keys)
    assert not {"driver.lock", "driver.pid"} & {k.rsplit("/", 1)[-1] for k in keys}
    assert not (tmp_path / "r" / "work").exists(), "the workspace must be deleted"
    assert not any((tmp_path / "cache" / "gwasflow" / "runs").iterdir()), "the local run folder is published"


def test_run__failed_s3_run_deletes_its_workspace_and_publishes_the_failure(
    demo: Path, s3: Any, tmp_path: Path
) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "GWASFLOW_FAULTS": "rate=1,seed=1,kinds=crash"}
    spec = _remote_spec(demo, tmp_path / "r", "failed", retry={"max_attempts": 1})
    proc = _gwasflow(["run", str(spec), "--quiet"], tmp_path, env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert not (tmp_path / "r" / "work").exists(), "a failed run must delete its workspace"
    keys = _keys(s3, "failed/")
    assert {".gwasflow/FAILED", ".gwasflow/gwasflow.sqlite"} <= keys
    assert not any(k.startswith("results/") and k.endswith(".gz") for k in keys)


def test_run__cancelled_s3_run_deletes_its_workspace(demo: Path, s3: Any, tmp_path: Path) -> None:
    spec = _remote_spec(demo, tmp_path / "r", "cancelled")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "GWASFLOW_FAULTS": "rate=1,seed=1,kinds=hang"}
    proc = subprocess.Popen([sys.executable, "-m", "gwasflow", "run", str(spec), "--quiet"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        step1 = tmp_path / "r" / "work" / "step1"
        while not step1.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert step1.exists(), "step 1 never started"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert not (tmp_path / "r" / "work").exists(), "a cancelled run must delete its workspace"
    assert ".gwasflow/FAILED" in _keys(s3, "cancelled/")


def test_run__s3_outdir_with_a_run_needs_force_which_moves_the_earlier_run_to_history(
    demo: Path, s3: Any, tmp_path: Path
) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    spec = _remote_spec(demo, tmp_path / "r", "again")
    assert _gwasflow(["run", str(spec), "--quiet"], tmp_path, env).returncode == 0
    first = {k: _object(s3, f"again/{k}") for k in _keys(s3, "again/")}
    refused = _gwasflow(["run", str(spec), "--quiet"], tmp_path, env)
    assert refused.returncode == 2 and "--force" in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert {k: _object(s3, f"again/{k}") for k in _keys(s3, "again/")} == first
    spec = _remote_spec(demo, tmp_path / "r", "again", phenotypes={**yaml.safe_load(spec.read_text())["phenotypes"],
                                                                    "columns": ["Y1"]})
    forced = _gwasflow(["run", str(spec), "--quiet", "--force"], tmp_path, env)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    keys = _keys(s3, "again/")
    assert sorted(k for k in keys if k.startswith("results/")) == ["results/Y1.regenie.gz", "results/Y1.regenie.gz.tbi"]
    [old] = {k.split("/")[2] for k in keys if k.startswith(".gwasflow/history/")}
    assert _object(s3, f"again/.gwasflow/history/{old}/results/Y2.regenie.gz") == first["results/Y2.regenie.gz"]
    assert _object(s3, f"again/.gwasflow/history/{old}/SUCCEEDED") == first[".gwasflow/SUCCEEDED"]
    logs = [k for k in first if k.startswith(f".gwasflow/runs/{old}/logs/")]
    assert logs and all(_object(s3, f"again/{k}") == first[k] for k in logs)
    db = tmp_path / "store.sqlite"
    db.write_bytes(_object(s3, "again/.gwasflow/gwasflow.sqlite"))
    store = SQLiteStore(db)
    try:
        runs = [r.run_id for r in store.list_runs()]
    finally:
        store.close()
    assert len(runs) == 2 and runs[0] == old  # the published store keeps both runs
