"""``step1.level0_jobs``: the split step 1 graph (split, level 0 jobs, level 1 per phenotype group) and its spec."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from gwasflow.core.states import Step
from gwasflow.plan.build import build_graph
from gwasflow.plan.commands import flags_for, missing_flags
from gwasflow.plan.meta import DatasetMeta
from gwasflow.plan.step1split import count_blocks
from gwasflow.spec.model import RunSpec

COMMON = ("--step", "1", "--bed", "/d/a", "--phenoFile", "/d/p.txt", "--phenoColList", "Y1,Y2,Y3",
          "--covarFile", "/d/c.txt", "--covarColList", "V1", "--bsize", "2")


def _spec(level0_jobs: int = 3, per_job: int = 2, **fields: Any) -> RunSpec:
    data: dict[str, Any] = {
        "name": "run",
        "datasets": [{"bed": "/d/a", "label": "a"}],
        "phenotypes": {"file": "/d/p.txt", "columns": ["Y1", "Y2", "Y3"]},
        "covariates": {"file": "/d/c.txt", "columns": ["V1"]},
        "step1": {"bsize": 2, "level0_jobs": level0_jobs},
        "step2": {"variants_per_job": 4, "phenotypes_per_job": per_job},
        "engine": {"threads": 1},
        "workdir": "/w",
        "outdir": "/o",
    }
    data.update(fields)
    return RunSpec.model_validate(data)


def _datasets(n_variants: int = 9) -> list[DatasetMeta]:
    chrom = (["1"] * 5 + ["2"] * n_variants)[:n_variants]  # bsize 2: 3 blocks on chromosome 1, the rest on 2
    pos = list(range(1, n_variants + 1))
    return [DatasetMeta("a", "/d/a", 10, n_variants, np.array(chrom, dtype=np.str_), np.array(pos, dtype=np.int64))]


def test_build_graph__level0_jobs_split_step1() -> None:
    graph = build_graph(_spec(), _datasets(), python="/py")
    step1 = graph.by_step(Step.STEP1)
    assert [j.id for j in step1] == ["step1-split", "step1-l0-001", "step1-l0-002", "step1-l0-003",
                                     "step1-l1-p000", "step1-l1-p001"]
    split, l0_2 = graph["step1-split"], graph["step1-l0-002"]
    l1_0, l1_1 = graph["step1-l1-p000"], graph["step1-l1-p001"]
    prefix = "/w/step1/run_l0split"
    assert split.argv == ("/py", "-m", "gwasflow", "regenie", *COMMON, "--split-l0", f"{prefix},3", "--threads", "1",
                          "--out", "/w/step1/run_split")
    assert split.outputs == (f"{prefix}.master", *(f"{prefix}_job{k}.snplist" for k in (1, 2, 3)))
    assert l0_2.argv[-8:] == ("--bsize", "2", "--run-l0", f"{prefix}.master,2", "--threads", "1", "--out",
                              "/w/step1/run_l0_002")
    assert l0_2.deps == ("step1-split",)
    assert l0_2.outputs == tuple(f"{prefix}_job2_l0_Y{p}" for p in (1, 2, 3))
    assert {f"{prefix}.master", f"{prefix}_job2.snplist", "/d/a.bed", "/d/p.txt"} <= set(l0_2.inputs)
    assert l1_1.argv[-9:] == ("--run-l1", f"{prefix}.master", "--keep-l0", "--l1-phenoList", "Y3", "--threads", "1",
                              "--out", "/w/step1/run_p001")
    assert "--l1-phenoList" in l1_0.argv and l1_0.argv[l1_0.argv.index("--l1-phenoList") + 1] == "Y1,Y2"
    assert l1_1.argv[l1_1.argv.index("--l1-phenoList") + 1] == "Y3"
    assert l1_0.deps == l1_1.deps == ("step1-l0-001", "step1-l0-002", "step1-l0-003")
    assert l1_1.outputs == ("/w/step1/run_p001_pred.list", "/w/step1/run_p001_3.loco")  # Y3 keeps its number
    assert f"{prefix}_job3_l0_Y3" in l1_1.inputs and f"{prefix}_job3_l0_Y1" not in l1_1.inputs
    assert "--lowmem" not in l1_0.argv


def test_build_graph__level0_jobs_step2_reads_its_groups_predictions() -> None:
    graph = build_graph(_spec(), _datasets(), python="/py")
    for shard in graph.by_step(Step.STEP2):
        group = shard.id[-3:]
        pred = shard.argv[shard.argv.index("--pred") + 1]
        assert pred == f"/w/step1/run_p{group}_pred.list"
        assert shard.deps == (f"step1-l1-p{group}",)
        assert pred in shard.inputs


def test_build_graph__level0_jobs_one_group_writes_what_the_single_job_writes() -> None:
    single = build_graph(_spec(level0_jobs=1, per_job=3), _datasets(), python="/py")
    split = build_graph(_spec(level0_jobs=2, per_job=3), _datasets(), python="/py")
    assert [j.id for j in split.by_step(Step.STEP1)] == ["step1-split", "step1-l0-001", "step1-l0-002", "step1-l1"]
    assert split["step1-l1"].outputs == single["step1"].outputs
    assert "--l1-phenoList" not in split["step1-l1"].argv
    for a, b in zip(single.by_step(Step.STEP2), split.by_step(Step.STEP2), strict=True):
        assert a.argv == b.argv and a.inputs == b.inputs
        assert (a.deps, b.deps) == (("step1",), ("step1-l1",))


@pytest.mark.parametrize(("n_variants", "jobs", "expected"), [(9, 10, 5), (3, 4, 2), (2, 4, 0)])
def test_build_graph__level0_jobs_capped_at_the_blocks(n_variants: int, jobs: int, expected: int) -> None:
    graph = build_graph(_spec(level0_jobs=jobs), _datasets(n_variants), python="/py")
    l0 = [j for j in graph.by_step(Step.STEP1) if j.id.startswith("step1-l0-")]
    assert len(l0) == expected
    if expected == 0:  # one block: the single step 1 job (regenie needs 2 jobs or more)
        assert [j.id for j in graph.by_step(Step.STEP1)] == ["step1"]


def test_count_blocks__per_chromosome() -> None:
    assert count_blocks(np.array(["1"] * 5 + ["2"] * 4 + ["X"], dtype=np.str_), 2) == 3 + 2 + 1


def test_build_graph__level0_jobs_with_the_real_regenie() -> None:
    spec = _spec(engine={"kind": "regenie", "binary": "/opt/regenie", "version": "4.1.2"})
    job = build_graph(spec, _datasets(), python="/py")["step1-l0-001"]
    assert job.argv[0] == "/opt/regenie" and "--run-l0" in job.argv


@pytest.mark.parametrize("value", [0, -1, 2.5, "two"])
def test_step1_spec__level0_jobs_must_be_a_positive_integer(value: Any) -> None:
    with pytest.raises(ValidationError, match="level0_jobs"):
        _spec(level0_jobs=value)


def test_step1_spec__level0_jobs_refused_with_skip() -> None:
    with pytest.raises(ValidationError, match="level0_jobs splits step 1"):
        _spec(step1={"skip": True, "predictions": "/p.list", "level0_jobs": 2})


def test_missing_flags__level0_jobs_needs_regenie_1_0_7_and_groups_3_1() -> None:
    grouped = flags_for(_spec())
    assert {"--split-l0", "--run-l0", "--run-l1", "--keep-l0", "--l1-phenoList"} <= set(grouped)
    assert [f for f, _ in missing_flags("3.0.3", grouped)] == ["--l1-phenoList"]
    assert {f for f, _ in missing_flags("1.0.6.9", grouped)} >= {"--split-l0", "--run-l0", "--run-l1", "--keep-l0"}
    assert missing_flags("3.0.3", flags_for(_spec(per_job=3))) == []  # one group: no --l1-phenoList
    assert "--split-l0" not in flags_for(_spec(level0_jobs=1))
