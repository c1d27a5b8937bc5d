"""Issue 12: genotype sources and filters in the regenie command lines, and the regenie versions they need."""

from __future__ import annotations

from typing import Any

import numpy as np

from gwasflow.core.states import Step
from gwasflow.plan.build import build_graph
from gwasflow.plan.commands import FLAGS, flags_for, genotype_flags, missing_flags, step2_flags
from gwasflow.plan.meta import DatasetMeta
from gwasflow.spec.model import GenoFormat, RunSpec


def _spec(**fields: Any) -> RunSpec:
    data: dict[str, Any] = {
        "name": "r",
        "datasets": [{"bgen": "/d/imp{chrom}.bgen", "sample": "/d/imp.sample", "chromosomes": "1-2",
                      "ref_first": True, "min_info": 0.4, "label": "imp"}, {"pgen": "/d/seq"}],
        "step1": {"genotypes": {"pgen": "/d/array"}},
        "phenotypes": {"file": "/d/p.txt", "columns": ["Y1", "Y2"]},
        "covariates": {"file": "/d/c.txt", "columns": ["V1"], "categorical": ["batch"], "max_categories": 20},
        "samples": {"remove": "/d/withdrawn.txt"},
        "variants": {"exclude": "/d/bad_snps.txt"},
        "step2": {"min_mac": 3},
        "strict": True,
        "test": "recessive",
        "workdir": "/w",
        "outdir": "/o",
    }
    data.update(fields)
    return RunSpec.model_validate(data)


def test_genotype_flags__each_format() -> None:
    assert genotype_flags(GenoFormat.BED, "/a") == ["--bed", "/a"]
    assert genotype_flags(GenoFormat.PGEN, "/a") == ["--pgen", "/a"]
    assert genotype_flags(GenoFormat.BGEN, "/a.bgen", sample="/a.sample", ref_first=True) == [
        "--bgen", "/a.bgen", "--sample", "/a.sample", "--ref-first"]


def test_step2_flags__filters_and_options() -> None:
    flags = step2_flags(_spec(), genotypes=["--pgen", "/p"], phenotypes=["Y1"], pred="/w/p.list", range_="1:1-9",
                        out="/w/s", min_info=0.4)
    text = " ".join(flags)
    for part in ("--catCovarList batch", "--maxCatLevels 20", "--remove /d/withdrawn.txt", "--strict",
                 "--exclude /d/bad_snps.txt", "--minMAC 3", "--minINFO 0.4", "--test recessive"):
        assert part in text


def test_flags_for__every_flag_has_a_version_and_old_regenie_is_refused() -> None:
    flags = flags_for(_spec())
    assert set(flags) <= set(FLAGS)
    assert {"--bgen", "--sample", "--ref-first", "--pgen", "--minINFO", "--catCovarList", "--exclude"} <= set(flags)
    assert dict(missing_flags("1.0.6.4", flags)) == {
        "--exclude": "1.0.6.5", "--range": "1.0.6.8", "--catCovarList": "2.0.1", "--maxCatLevels": "2.0.1"}
    assert missing_flags("4.1.2", flags) == []


def _meta(label: str, fmt: GenoFormat, prefix: str, chrom: str, **extra: Any) -> DatasetMeta:
    pos = np.arange(1, 11, dtype=np.int64)
    return DatasetMeta(label, prefix, 5, 10, np.full(10, chrom, dtype=np.str_), pos, fmt=fmt, **extra)


def test_build_graph__step1_genotypes_and_one_shard_set_per_file() -> None:
    spec = _spec(step2={"variants_per_job": 5})
    metas = [
        _meta("step1", GenoFormat.PGEN, "/d/array", "1", step1_only=True),
        _meta("imp_1", GenoFormat.BGEN, "/d/imp1.bgen", "1", sample="/d/imp.sample", ref_first=True, min_info=0.4),
        _meta("imp_2", GenoFormat.BGEN, "/d/imp2.bgen", "2", sample="/d/imp.sample", ref_first=True, min_info=0.4),
        _meta("d1", GenoFormat.PGEN, "/d/seq", "3"),
    ]
    graph = build_graph(spec, metas)
    step1 = graph["step1"]
    assert step1.argv[step1.argv.index("--pgen") + 1] == "/d/array"
    assert {"/d/array.pgen", "/d/array.pvar", "/d/array.psam", "/d/withdrawn.txt"} <= set(step1.inputs)
    shards = graph.by_step(Step.STEP2)
    assert [s.meta["dataset"] for s in shards] == ["imp_1"] * 2 + ["imp_2"] * 2 + ["d1"] * 2
    bgen = shards[2]
    assert bgen.argv[bgen.argv.index("--bgen") + 1] == "/d/imp2.bgen" and "--ref-first" in bgen.argv
    assert {"/d/imp2.bgen", "/d/imp.sample", "/d/bad_snps.txt"} <= set(bgen.inputs)
    pgen = shards[-1]
    assert "--minINFO" not in pgen.argv and pgen.argv[pgen.argv.index("--pgen") + 1] == "/d/seq"
    assert all(s.meta["filtered"] for s in shards), "--exclude makes row counts unknowable"
    assert all("planned_rows" not in m.meta for m in graph.by_step(Step.MERGE))
