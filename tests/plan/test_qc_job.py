"""Issue 12: the ``qc`` job before step 1 (``step1.qc``) and the lists step 1 reads from it."""

from __future__ import annotations

from typing import Any

import numpy as np

from gwasflow.core.states import Step
from gwasflow.plan.build import build_graph, summarize
from gwasflow.plan.commands import flags_for
from gwasflow.plan.meta import DatasetMeta
from gwasflow.plan.model import JobGraph
from gwasflow.spec.model import GenoFormat, RunSpec

QC = {"maf": 0.01, "geno": 0.1, "mind": 0.2, "hwe": 1e-6, "prune": {"window": 50, "step": 5, "r2": 0.2},
      "engine": "builtin"}


def _spec(**fields: Any) -> RunSpec:
    data: dict[str, Any] = {
        "name": "r",
        "datasets": [{"bgen": "/d/imp.bgen", "label": "imp"}],
        "step1": {"genotypes": {"bed": "/d/array"}, "qc": QC},
        "phenotypes": {"file": "/d/p.txt", "columns": ["Y1"]},
        "samples": {"remove": "/d/withdrawn.txt"},
        "workdir": "/w",
        "outdir": "/o",
    }
    data.update(fields)
    return RunSpec.model_validate(data)


def _meta(label: str, fmt: GenoFormat, prefix: str, **extra: Any) -> DatasetMeta:
    pos = np.arange(1, 11, dtype=np.int64)
    return DatasetMeta(label, prefix, 5, 10, np.full(10, "1", dtype=np.str_), pos, fmt=fmt, **extra)


def _graph(spec: RunSpec) -> JobGraph:
    metas = [_meta("step1", GenoFormat.BED, "/d/array", step1_only=True), _meta("imp", GenoFormat.BGEN, "/d/imp.bgen")]
    return build_graph(spec, metas, python="/py")


def _value(argv: tuple[str, ...], flag: str) -> str:
    assert argv.count(flag) == 1, (flag, argv)
    return argv[argv.index(flag) + 1]


def test_build_graph__qc_job_before_step1() -> None:
    graph = _graph(_spec())
    qc = graph["qc"]
    assert qc.step is Step.QC and next(iter(graph)) is qc
    assert qc.argv[:4] == ("/py", "-m", "gwasflow", "qc")
    assert _value(qc.argv, "--bed") == "/d/array" and _value(qc.argv, "--out") == "/w/qc/step1"
    assert _value(qc.argv, "--maf") == "0.01" and _value(qc.argv, "--hwe") == "1e-06"
    assert _value(qc.argv, "--engine") == "builtin" and _value(qc.argv, "--remove") == "/d/withdrawn.txt"
    window = qc.argv.index("--indep-pairwise")
    assert qc.argv[window + 1 : window + 4] == ("50", "5", "0.2")
    assert qc.outputs == ("/w/qc/step1.snplist", "/w/qc/step1.keep", "/w/qc/step1.qc.json")
    assert {"/d/array.bed", "/d/array.bim", "/d/array.fam", "/d/withdrawn.txt"} <= set(qc.inputs)


def test_build_graph__step1_depends_on_qc_and_reads_its_lists() -> None:
    graph = _graph(_spec())
    step1 = graph["step1"]
    assert step1.deps == ("qc",)
    assert _value(step1.argv, "--extract") == "/w/qc/step1.snplist"
    assert _value(step1.argv, "--keep") == "/w/qc/step1.keep"
    assert "--remove" not in step1.argv, "the qc keep list already leaves the removed samples out"
    assert {"/w/qc/step1.snplist", "/w/qc/step1.keep"} <= set(step1.inputs)
    shard = graph.by_step(Step.STEP2)[0]
    assert "--extract" not in shard.argv and _value(shard.argv, "--remove") == "/d/withdrawn.txt"
    assert "--keep" not in shard.argv, "step 2 is not filtered by the step 1 QC"
    assert "qc       1" in summarize(graph)


def test_build_graph__spec_keep_goes_to_qc_only() -> None:
    graph = _graph(_spec(samples={"keep": "/d/cohort.txt"}))
    assert _value(graph["qc"].argv, "--keep") == "/d/cohort.txt"
    assert _value(graph["step1"].argv, "--keep") == "/w/qc/step1.keep"
    assert _value(graph.by_step(Step.STEP2)[0].argv, "--keep") == "/d/cohort.txt"


def test_build_graph__no_qc_job_without_step1_qc() -> None:
    graph = _graph(_spec(step1={"genotypes": {"bed": "/d/array"}}))
    assert "qc" not in graph and graph.by_step(Step.QC) == []
    step1 = graph["step1"]
    assert step1.deps == () and "--extract" not in step1.argv
    assert _value(step1.argv, "--remove") == "/d/withdrawn.txt"


def test_build_graph__qc_on_the_step1_dataset_in_the_old_form() -> None:
    spec = _spec(datasets=[{"pgen": "/d/all", "label": "all"}], step1={"qc": {"mac": 5}})
    graph = build_graph(spec, [_meta("all", GenoFormat.PGEN, "/d/all")], python="/py")
    assert _value(graph["qc"].argv, "--pgen") == "/d/all" and _value(graph["qc"].argv, "--engine") == "auto"
    assert graph["step1"].deps == ("qc",)


def test_flags_for__qc_adds_extract_to_step1() -> None:
    assert "--extract" in flags_for(_spec())
    assert "--extract" not in flags_for(_spec(step1={"genotypes": {"bed": "/d/array"}}))


def test_job_graph__qc_job_round_trips() -> None:
    graph = _graph(_spec())
    again = JobGraph.from_dict(graph.to_dict())
    assert again["qc"] == graph["qc"] and again["qc"].step is Step.QC
