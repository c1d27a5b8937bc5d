from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest

from gwasflow.core.states import Step
from gwasflow.errors import PlanError
from gwasflow.plan.build import build_graph, summarize
from gwasflow.plan.meta import DatasetMeta
from gwasflow.plan.model import JobGraph, JobKind
from gwasflow.spec.model import RunSpec


def _spec(**fields: Any) -> RunSpec:
    data: dict[str, Any] = {
        "name": "run",
        "datasets": [{"bed": "/d/a", "label": "a"}, {"bed": "/d/b"}],
        "phenotypes": {"file": "/d/p.txt", "columns": ["Y1", "Y2", "Y3"]},
        "covariates": {"file": "/d/c.txt", "columns": ["V1"]},
        "step1": {"bsize": 100},
        "step2": {"variants_per_job": 2, "phenotypes_per_job": 2, "bsize": 200},
        "engine": {"threads": 2},
        "workdir": "/w",
        "outdir": "/o",
    }
    data.update(fields)
    return RunSpec.model_validate(data)


def _meta(label: str, prefix: str, chrom: list[str], pos: list[int]) -> DatasetMeta:
    return DatasetMeta(label, prefix, 10, len(pos), np.array(chrom, dtype=np.str_), np.array(pos, dtype=np.int64))


def _datasets() -> list[DatasetMeta]:
    # dataset a: chromosomes out of order in the .bim (X first) -> 2 + 1 + 1 chunks
    a = _meta("a", "/d/a", ["X", "X", "10", "2", "2", "2"], [5, 6, 1, 3, 4, 9])
    b = _meta("d1", "/d/b", ["2", "2"], [1, 2])
    return [a, b]


def test_build_graph__job_order_and_counts() -> None:
    graph = build_graph(_spec(), _datasets(), python="/py")
    steps = [j.step for j in graph]
    assert steps == sorted(steps, key=list(Step).index)
    assert graph.counts() == {Step.STEP1: 1, Step.STEP2: 10, Step.MERGE: 3, Step.REPORT: 1, Step.CLEANUP: 1}
    assert [j.id for j in graph][-5:] == ["merge-Y1", "merge-Y2", "merge-Y3", "report", "cleanup"]


def test_build_graph__step1_command() -> None:
    job = build_graph(_spec(), _datasets(), python="/py")["step1"]
    assert job.kind is JobKind.COMMAND
    assert job.argv == (
        "/py", "-m", "gwasflow", "regenie",
        "--step", "1", "--bed", "/d/a", "--phenoFile", "/d/p.txt", "--phenoColList", "Y1,Y2,Y3",
        "--covarFile", "/d/c.txt", "--covarColList", "V1", "--bsize", "100",
        "--lowmem", "--lowmem-prefix", "/w/step1/tmp", "--threads", "2", "--out", "/w/step1/run",
    )  # fmt: skip
    assert job.outputs == (
        "/w/step1/run_pred.list", "/w/step1/run_1.loco", "/w/step1/run_2.loco", "/w/step1/run_3.loco",
    )  # fmt: skip
    assert job.resources.memory_mb == 2048


def test_build_graph__step1_on_named_dataset() -> None:
    spec = _spec(datasets=[{"bed": "/d/a", "label": "a"}, {"bed": "/d/b", "label": "b"}], step1={"dataset": "b"})
    datasets = _datasets()
    datasets[1] = _meta("b", "/d/b", ["2", "2"], [1, 2])
    job = build_graph(spec, datasets)["step1"]
    assert job.argv[job.argv.index("--bed") + 1] == "/d/b"


def test_build_graph__step2_shards() -> None:
    graph = build_graph(_spec(), _datasets(), python="/py")
    shards = graph.by_step(Step.STEP2)
    ids = [j.id for j in shards]
    assert ids[:4] == [
        "step2-a-c2_00000-p000",
        "step2-a-c2_00000-p001",
        "step2-a-c2_00001-p000",
        "step2-a-c2_00001-p001",
    ]
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+", i) for i in ids)
    job = graph["step2-a-cX_00000-p001"]
    assert job.deps == ("step1",)
    argv = list(job.argv)
    assert argv[argv.index("--range") + 1] == "X:5-6"
    assert argv[argv.index("--phenoColList") + 1] == "Y3"
    assert argv[argv.index("--pred") + 1] == "/w/step1/run_pred.list"
    assert argv[-3:] == ["--gz", "--out", "/w/step2/step2-a-cX_00000-p001"]
    assert job.outputs == ("/w/step2/step2-a-cX_00000-p001_Y3.regenie.gz",)
    assert dict(job.meta) == {
        "dataset": "a", "chrom": "X", "start": 5, "end": 6, "n_variants": 2,
        "phenotypes": ["Y3"], "log": "/w/step2/step2-a-cX_00000-p001.log",
    }  # fmt: skip


def test_build_graph__merge_order_and_rows() -> None:
    merge = build_graph(_spec(), _datasets())["merge-Y1"]
    assert merge.action == "merge"
    shards = [s.rsplit("/", 1)[1] for s in merge.meta["shards"]]
    assert shards == [
        "step2-d1-c2_00000-p000_Y1.regenie.gz",  # chr2:1-2 (dataset d1) before chr2:3-4 (dataset a)
        "step2-a-c2_00000-p000_Y1.regenie.gz",
        "step2-a-c2_00001-p000_Y1.regenie.gz",
        "step2-a-c10_00000-p000_Y1.regenie.gz",
        "step2-a-cX_00000-p000_Y1.regenie.gz",
    ]
    assert merge.meta["shard_logs"][0] == "/w/step2/step2-d1-c2_00000-p000.log"
    assert merge.meta["planned_rows"] == 8
    assert merge.outputs == ("/o/results/Y1.regenie.gz", "/o/results/Y1.regenie.gz.tbi")
    assert set(merge.deps) == {s.rsplit("/", 1)[1].removesuffix("_Y1.regenie.gz") for s in merge.meta["shards"]}


def test_build_graph__report_and_cleanup() -> None:
    graph = build_graph(_spec(), _datasets())
    assert graph["report"].deps == ("merge-Y1", "merge-Y2", "merge-Y3")
    assert graph["report"].outputs == ("/o/summary.tsv", "/o/report.html")
    assert (graph["cleanup"].action, graph["cleanup"].deps) == ("cleanup", ("report",))


def test_build_graph__skipped_step1_uses_predictions() -> None:
    spec = _spec(step1={"skip": True, "predictions": "/prev/run_pred.list"}, step2={"gz": False})
    graph = build_graph(spec, _datasets())
    assert "step1" not in graph
    job = graph.by_step(Step.STEP2)[0]
    assert job.deps == ()
    assert job.argv[job.argv.index("--pred") + 1] == "/prev/run_pred.list"
    assert "--gz" not in job.argv
    assert job.outputs[0].endswith("_Y1.regenie")


def test_build_graph__image_engine() -> None:
    spec = _spec(engine={"kind": "regenie", "image": "ghcr.io/rgcgithub/regenie/regenie", "version": "4.1.2"})
    graph = build_graph(spec, _datasets())
    for job in graph:
        if job.kind is JobKind.COMMAND:
            assert job.argv[0] == "regenie"
            assert job.meta["image"] == "ghcr.io/rgcgithub/regenie/regenie:v4.1.2"


def test_build_graph__binary_engine() -> None:
    spec = _spec(engine={"kind": "regenie", "binary": "/opt/regenie", "version": "4.1.2"}, step1={"lowmem": False})
    job = build_graph(spec, _datasets())["step1"]
    assert job.argv[:3] == ("/opt/regenie", "--step", "1")
    assert "--lowmem" not in job.argv


def test_build_graph__deterministic_and_json_round_trip() -> None:
    one = build_graph(_spec(), _datasets(), python="/py").to_dict()
    two = build_graph(_spec(), _datasets(), python="/py").to_dict()
    assert json.dumps(one) == json.dumps(two)
    assert JobGraph.from_dict(json.loads(json.dumps(one))).to_dict() == one


def test_build_graph__labels_must_match_spec() -> None:
    with pytest.raises(PlanError, match="does not match"):
        build_graph(_spec(), _datasets()[:1])


def test_summarize__counts_and_quoted_commands() -> None:
    spec = _spec(workdir="/my work")
    text = summarize(build_graph(spec, _datasets(), python="/py"))
    assert text.startswith("16 jobs\n  step1    1\n  step2    10\n  merge    3\n")
    assert "'/my work/step1/run'" in text
    assert "report: report (after 3 jobs)" in text


def test_job_counts_line__chunks_times_groups_with_batch_sizes() -> None:
    from gwasflow.plan.counts import job_counts, job_counts_line

    spec = _spec()
    graph = build_graph(spec, _datasets(), python="/py")
    counts = job_counts(spec, graph)
    assert counts["step2"] == {"variants_per_job": 2, "phenotypes_per_job": 2, "variant_chunks": 5,
                               "phenotype_groups": 2, "shards": 10}
    assert counts["batch_jobs"] == 11  # step 1 + 10 shards; merge, report and cleanup run in the driver
    assert job_counts_line(spec, graph) == ("11 compute jobs; step 2: 5 variant chunks of <= 2 variants x "
                                            "2 phenotype groups of <= 2 = 10 jobs")
