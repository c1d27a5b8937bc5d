"""Step 1 as split jobs (``step1.level0_jobs: N``), the way regenie parallelizes level 0.

Jobs, all of step ``step1``, in order::

    step1-split           --split-l0 <prefix>,N        writes <prefix>.master and <prefix>_job<k>.snplist
    step1-l0-<k>          --run-l0 <prefix>.master,k   k = 1..N, writes <prefix>_job<k>_l0_Y<p> per trait
    step1-l1              --run-l1 <prefix>.master     LOCO files and <out>_pred.list, as the single step 1 job
    (or step1-l1-p<g>     ... --l1-phenoList <group>   one per step 2 phenotype group, when there are several)

Every job gets the single job's flags (phenotypes, covariates, sample and QC
lists, ``--bsize``, ``--threads``), so either engine computes the same LOCO
predictions as one job would. ``--keep-l0`` keeps the level 0 files for a
retried level 1 job (cleanup deletes the workspace). With several phenotype
groups, step 2 shards of group ``g`` read the prediction list of
``step1-l1-p<g>``, which names that group's traits only.

N is capped at the number of blocks of the step 1 genotypes (per chromosome,
``ceil(variants / bsize)``); regenie refuses fewer than 2 jobs, so with one
block the plan keeps the single step 1 job. QC or ``--extract`` lists can
leave fewer blocks than the metadata shows: then ``--split-l0`` writes fewer
jobs and the missing variant lists fail the ``step1-split`` job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gwasflow.core.states import Step
from gwasflow.plan.chunking import group_phenotypes
from gwasflow.plan.commands import Launcher, step1_flags
from gwasflow.plan.model import Job, JobKind, Resources
from gwasflow.spec.model import RunSpec

__all__ = ["Step1Feed", "count_blocks", "split_step1"]


@dataclass(frozen=True)
class Step1Feed:
    """What step 2 reads from step 1: per step 2 phenotype group (or one entry for all groups), the prediction
    list, the files the shard needs and the jobs it waits for."""

    preds: tuple[str, ...]
    inputs: tuple[tuple[str, ...], ...]
    deps: tuple[tuple[str, ...], ...]

    def group(self, index: int) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
        i = index if len(self.preds) > 1 else 0
        return self.preds[i], self.inputs[i], self.deps[i]


def count_blocks(chrom: npt.NDArray[np.str_], bsize: int) -> int:
    """Step 1 blocks of a genotype file: ``ceil(n / bsize)`` per chromosome."""
    _, counts = np.unique(chrom, return_counts=True)
    return int(sum(-(-int(c) // bsize) for c in counts.tolist()))


@dataclass(frozen=True)
class _Common:
    spec: RunSpec
    launcher: Launcher
    genotypes: list[str]
    qc_lists: tuple[str, str] | None
    inputs: tuple[str, ...]
    resources: Resources
    meta: dict[str, Any]

    def job(self, job_id: str, out: str, split: list[str], *, deps: tuple[str, ...], inputs: Sequence[str],
            outputs: Sequence[str], **meta: Any) -> Job:
        flags = step1_flags(self.spec, genotypes=self.genotypes, out=out, lowmem_prefix="", qc_lists=self.qc_lists,
                            split=split)
        return Job(id=job_id, step=Step.STEP1, kind=JobKind.COMMAND, argv=self.launcher.argv(flags), deps=deps,
                   inputs=(*self.inputs, *inputs), outputs=tuple(outputs), resources=self.resources,
                   meta={**self.meta, "log": f"{out}.log", **meta})


def split_step1(spec: RunSpec, launcher: Launcher, *, genotypes: list[str], n_blocks: int,
                qc_lists: tuple[str, str] | None, inputs: tuple[str, ...], deps: tuple[str, ...],
                resources: Resources, meta: dict[str, Any]) -> tuple[list[Job], Step1Feed] | None:
    """The split step 1 jobs and what step 2 reads from them; None when one job it is (fewer than 2 jobs)."""
    n_jobs = min(spec.step1.level0_jobs, n_blocks)
    if n_jobs < 2:
        return None
    common = _Common(spec, launcher, genotypes, qc_lists, inputs, resources, meta)
    folder = f"{spec.workdir}/step1"
    prefix = f"{folder}/{spec.name}_l0split"
    master = f"{prefix}.master"
    n_pheno = len(spec.phenotypes.columns)
    snplists = [f"{prefix}_job{k}.snplist" for k in range(1, n_jobs + 1)]
    jobs = [common.job("step1-split", f"{folder}/{spec.name}_split", ["--split-l0", f"{prefix},{n_jobs}"],
                       deps=deps, inputs=(), outputs=(master, *snplists), level0_jobs=n_jobs)]
    level0_files: list[list[str]] = [[] for _ in range(n_pheno)]
    for k in range(1, n_jobs + 1):
        files = [f"{prefix}_job{k}_l0_Y{p}" for p in range(1, n_pheno + 1)]
        for p, path in enumerate(files):
            level0_files[p].append(path)
        jobs.append(common.job(f"step1-l0-{k:03d}", f"{folder}/{spec.name}_l0_{k:03d}", ["--run-l0", f"{master},{k}"],
                               deps=("step1-split",), inputs=(master, snplists[k - 1]), outputs=files, job=k))
    l0_ids = tuple(job.id for job in jobs[1:])
    groups = group_phenotypes(spec.phenotypes.columns, spec.step2.phenotypes_per_job)
    columns = list(spec.phenotypes.columns)
    preds, feed_inputs, feed_deps = [], [], []
    for g, group in enumerate(groups):
        several = len(groups) > 1
        job_id = f"step1-l1-p{g:03d}" if several else "step1-l1"
        out = f"{folder}/{spec.name}_p{g:03d}" if several else f"{folder}/{spec.name}"
        traits = [columns.index(name) for name in group]
        pred = f"{out}_pred.list"
        locos = [f"{out}_{t + 1}.loco" for t in traits]
        split = ["--run-l1", master, "--keep-l0", *(["--l1-phenoList", ",".join(group)] if several else [])]
        reads = [path for t in traits for path in level0_files[t]]
        jobs.append(common.job(job_id, out, split, deps=l0_ids, inputs=(master, *reads), outputs=(pred, *locos),
                               phenotypes=list(group)))
        preds.append(pred)
        feed_inputs.append((pred, *locos))
        feed_deps.append((job_id,))
    return jobs, Step1Feed(tuple(preds), tuple(feed_inputs), tuple(feed_deps))
