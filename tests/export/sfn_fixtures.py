"""A small plan for the Step Functions export tests (not a test module)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gwasflow.export.sfn import Export, SfnSettings, export_stepfunctions
from gwasflow.plan.build import build_graph
from gwasflow.plan.meta import DatasetMeta
from gwasflow.plan.model import JobGraph
from gwasflow.spec.model import RunSpec

IMAGE = "ghcr.io/rgcgithub/regenie/regenie"
GWASFLOW_IMAGE = "example.org/gwasflow:1.0"
FSX = {"subnet_ids": ["subnet-0abc"], "security_group_ids": ["sg-0abc"], "deployment_type": "SCRATCH_2",
       "data_repository": "s3://gwas-inputs/biobank/", "poll_interval_s": 1, "timeout_s": 60}  # fmt: skip


def spec(**fields: Any) -> RunSpec:
    data: dict[str, Any] = {
        "name": "biobank",
        "datasets": [{"bed": "/fsx/data/in/a", "label": "a"}, {"bed": "/fsx/data/in/b", "label": "b"}],
        "phenotypes": {"file": "/fsx/data/in/p.txt", "columns": ["Y1", "Y2"]},
        "step2": {"variants_per_job": 2, "phenotypes_per_job": 2},
        "engine": {"kind": "regenie", "image": IMAGE, "version": "4.1.2"},
        "executor": {"kind": "local", "max_parallel": 50},
        "retry": {"max_attempts": 4, "max_interruptions": 3, "backoff_s": 10},
        "workspace": {"kind": "fsx", "fsx": FSX},
        "workdir": "/fsx/work",
        "outdir": "/fsx/data/out",
    }
    data.update(fields)
    return RunSpec.model_validate(data)


def graph(run: RunSpec) -> JobGraph:
    """Dataset a: 5 variants on chromosome 1, 4 on 2 (3 + 2 shards of <= 2); dataset b: 2 on chromosome 3."""
    chrom = np.array(["1"] * 5 + ["2"] * 4, dtype=np.str_)
    pos = np.array([1, 2, 3, 4, 5, 1, 2, 3, 4], dtype=np.int64)
    metas = [DatasetMeta("a", "/fsx/data/in/a", 100, len(pos), chrom, pos),
             DatasetMeta("b", "/fsx/data/in/b", 100, 2, np.array(["3", "3"]), np.array([7, 9], dtype=np.int64))]
    return build_graph(run, metas, python="python3")


def settings(**fields: Any) -> SfnSettings:
    data: dict[str, Any] = {"failure_table": "gwas-failures",
                            "manifest_uri": "s3://gwas-runs/biobank/manifest", "image": GWASFLOW_IMAGE}  # fmt: skip
    data.update(fields)
    return SfnSettings(**data)


def export(run: RunSpec | None = None, **fields: Any) -> Export:
    run = run or spec()
    return export_stepfunctions(run, graph(run), settings(**fields))


def export_graph(run: RunSpec, plan: JobGraph, **fields: Any) -> Export:
    return export_stepfunctions(run, plan, settings(**fields))
