"""A biobank-sized plan exported within Step Functions' limits.

22 chromosomes x 500,000 imputed BGEN variants (11 million), ``variants_per_job`` 2,000: 5,500 step 2
shards. The dataset metadata is synthetic (positions only, as ``plan/genofiles.py`` reads them from a
``.bgi`` index); nothing is written to disk.
"""

from __future__ import annotations

import json
import time

import numpy as np

from gwasflow.core.states import Step
from gwasflow.export.sfn.limits import MAX_DEFINITION_BYTES, MAX_PAYLOAD_BYTES
from gwasflow.plan.build import build_graph
from gwasflow.plan.meta import DatasetMeta
from gwasflow.plan.model import JobGraph
from gwasflow.spec.genotypes import STEP1_LABEL, GenoFormat
from gwasflow.spec.model import RunSpec
from tests.export import sfn_fixtures as fx

N_CHROM, PER_CHROM, PER_JOB = 22, 500_000, 2_000


def _biobank() -> tuple[RunSpec, JobGraph]:
    run = fx.spec(
        datasets=[{"label": "imp", "bgen": "/fsx/data/imp/chr{chrom}.bgen", "sample": "/fsx/data/imp/imp.sample",
                   "chromosomes": f"1-{N_CHROM}"}],
        phenotypes={"file": "/fsx/data/pheno.txt", "columns": [f"T{i}" for i in range(20)]},
        step2={"variants_per_job": PER_JOB, "phenotypes_per_job": 20},
        step1={"genotypes": {"bed": "/fsx/data/array/cal"}},
    )  # fmt: skip
    pos = np.arange(1, PER_CHROM + 1, dtype=np.int64) * 50
    metas = [DatasetMeta(f.label, f.source, 487_409, PER_CHROM, np.full(PER_CHROM, str(f.chrom)), pos,
                         fmt=GenoFormat.BGEN, sample=f.sample) for f in run.dataset_files()]  # fmt: skip
    array = np.arange(1, 2_201, dtype=np.int64)
    metas.append(DatasetMeta(STEP1_LABEL, "/fsx/data/array/cal", 487_409, len(array),
                             np.repeat([str(c) for c in range(1, 23)], 100), array, step1_only=True))
    return run, build_graph(run, metas, python="python3")


def test_export_stepfunctions__biobank_plan_within_step_functions_limits() -> None:
    run, graph = _biobank()
    started = time.perf_counter()
    export = fx.export_graph(run, graph)
    seconds = time.perf_counter() - started
    shards = export.manifest.shards
    assert len(shards) == N_CHROM * PER_CHROM // PER_JOB == 5_500
    assert len(graph.by_step(Step.STEP2)) == len(shards)
    assert export.sizes.definition < MAX_DEFINITION_BYTES // 20  # ~27 KB: the definition holds no shard
    assert export.sizes.largest_item < 4 * 1024  # one Map item (a child execution's input): ~0.5 KB
    inline = len(json.dumps(shards, separators=(",", ":")).encode())
    assert inline > 10 * MAX_PAYLOAD_BYTES  # the list the old inline Map carried: why it lives in S3 now
    configure = len(json.dumps(export.definition["States"]["Configure"]["Parameters"]).encode())
    assert configure < 4 * 1024  # the largest top-level state input: defaults + execution input
    summary = export.manifest.summary
    assert summary["step2"] == {"variants_per_job": PER_JOB, "phenotypes_per_job": 20, "variant_chunks": 5_500,
                                "phenotype_groups": 1, "shards": 5_500}  # fmt: skip
    assert summary["batch_jobs"] == 5_501  # step 1 + step 2
    small = fx.export().sizes.definition
    assert abs(export.sizes.definition - small) < 2_000  # grows with datasets and names, not with shards
    assert seconds < 30, f"export took {seconds:.1f} s"
