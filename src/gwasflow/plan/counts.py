"""How many jobs a plan has per step, and the batch sizes behind the step 2 count.

Step 2's job count is variant chunks (of at most ``step2.variants_per_job`` variants, per dataset and
chromosome) times phenotype groups (of at most ``step2.phenotypes_per_job`` traits): the figure a
scheduler or a Batch account must allow for. ``gwasflow plan`` prints it and the Step Functions
manifest records it.
"""

from __future__ import annotations

from typing import Any

from gwasflow.core.states import Step
from gwasflow.plan.model import JobGraph
from gwasflow.spec.model import RunSpec

__all__ = ["job_counts", "job_counts_line"]

_COMPUTE_STEPS = (Step.QC, Step.STEP1, Step.STEP2)


def job_counts(spec: RunSpec, graph: JobGraph) -> dict[str, Any]:
    """Jobs per step, the compute jobs among them, and step 2's chunks x groups with their batch sizes."""
    counts = graph.counts()
    shards = graph.by_step(Step.STEP2)
    chunks = {(j.meta.get("dataset"), j.meta.get("chrom"), j.meta.get("start")) for j in shards}
    return {
        "jobs": {step.value: counts[step] for step in Step if step in counts},
        "batch_jobs": sum(n for step, n in counts.items() if step in _COMPUTE_STEPS),
        "step2": {
            "variants_per_job": spec.step2.variants_per_job,
            "phenotypes_per_job": spec.step2.phenotypes_per_job,
            "variant_chunks": len(chunks),
            "phenotype_groups": len(shards) // len(chunks) if chunks else 0,
            "shards": len(shards),
        },
    }


def job_counts_line(spec: RunSpec, graph: JobGraph) -> str:
    """One line: compute jobs, and step 2 as chunks of <= V variants x groups of <= P phenotypes."""
    c = job_counts(spec, graph)
    s2 = c["step2"]
    return (f"{c['batch_jobs']} compute jobs; step 2: {s2['variant_chunks']} variant chunks of <= "
            f"{s2['variants_per_job']} variants x {s2['phenotype_groups']} phenotype groups of <= "
            f"{s2['phenotypes_per_job']} = {s2['shards']} jobs")
