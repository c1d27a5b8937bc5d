"""Build the job graph of a run: a pure function of the spec and the dataset metadata.

Jobs, in topological order::

    qc                                       COMMAND  (with step1.qc) gwasflow qc on the step 1 genotypes
    step1                                    COMMAND  (unless step1.skip)
      or step1-split, step1-l0-<k>, step1-l1[-p<group>]  COMMAND  with step1.level0_jobs > 1 (plan/step1split.py)
    step2-<label>-c<chrom>_<index>-p<group>  COMMAND  one per dataset file x chunk x phenotype group
    merge-<phenotype>                        INTERNAL action "merge", one per phenotype
    report                                   INTERNAL action "report"
    cleanup                                  INTERNAL action "cleanup"

Step 1 runs on ``step1.genotypes`` when given (it is not tested in step 2), else on the dataset
``step1.dataset`` names, else the first (its first file when it is split by chromosome). Step 2 runs
on every file of every dataset (``{chrom}`` templates expanded, labels ``<label>_<chrom>``), with the
file's own ``--bed``/``--pgen``/``--bgen [--sample] [--ref-first]`` and ``--minINFO``.

Paths: step 1 writes under ``<workdir>/step1/``, shards under
``<workdir>/step2/``, merged results go to ``<outdir>/results/`` and the
summary to ``<outdir>/summary.tsv``. Output names follow regenie's:
``<out>_pred.list``, ``<out>_<k>.loco``, ``<out>_<pheno>.regenie[.gz]``,
``<out>.log``.

With ``step1.qc`` the ``qc`` job writes ``<workdir>/qc/step1.snplist``, ``.keep`` and ``.qc.json``;
step 1 depends on it and reads ``--extract <snplist> --keep <keep>`` (the keep list already applies
``samples.keep``/``samples.remove``). Step 2 is not filtered by the step 1 QC.
"""

from __future__ import annotations

import functools
import re
import shlex
import sys
from collections.abc import Sequence
from typing import Any, NamedTuple

from gwasflow.core.states import Step
from gwasflow.errors import PlanError
from gwasflow.plan.chunking import Chunk, chrom_sort_key, chunk_variants, group_phenotypes
from gwasflow.plan.commands import (
    Launcher,
    dataset_qc_argv,
    genotype_flags,
    launcher_for,
    qc_argv,
    step1_flags,
    step2_flags,
)
from gwasflow.plan.meta import DatasetMeta
from gwasflow.plan.model import Job, JobGraph, JobKind, Resources, gc_paused
from gwasflow.plan.step1split import Step1Feed, count_blocks, split_step1
from gwasflow.spec.model import ResourceSpec, RunSpec

__all__ = ["build_graph", "safe_id_part", "summarize"]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_chrom_key = functools.lru_cache(maxsize=1024)(chrom_sort_key)


def safe_id_part(text: str) -> str:
    """``text`` with every character outside ``[A-Za-z0-9_.-]`` replaced by ``_``."""
    return _UNSAFE.sub("_", text)


def _resources(spec: ResourceSpec) -> Resources:
    return Resources(cpus=spec.cpus, memory_mb=spec.memory_mb, time_s=spec.time_s)


class _Shard(NamedTuple):
    """Bookkeeping for one step 2 shard, kept for the merge jobs."""

    job_id: str
    dataset_index: int
    meta: DatasetMeta
    chunk: Chunk
    group_index: int
    out: str
    filtered: bool  # filters beyond --minMAC may drop rows: the merge cannot expect one per planned variant


def build_graph(spec: RunSpec, datasets: Sequence[DatasetMeta], *, python: str = sys.executable) -> JobGraph:
    """The :class:`JobGraph` of ``spec`` over ``datasets`` (one per ``spec.datasets``, same order).

    The cyclic garbage collector is paused while the graph is built: a
    100,000-shard plan allocates millions of small acyclic containers and
    repeated full collections over them would double the build time.
    """
    with gc_paused():
        return _build(spec, datasets, python)


def _build(spec: RunSpec, datasets: Sequence[DatasetMeta], python: str) -> JobGraph:
    expected = [f.label for f in spec.dataset_files()]
    step2_sets = [d for d in datasets if not d.step1_only]
    if [d.label for d in step2_sets] != expected:
        raise PlanError(f"dataset metadata {[d.label for d in step2_sets]} does not match spec files {expected}")
    if (spec.step1.genotypes is not None) != any(d.step1_only for d in datasets):
        raise PlanError("step1.genotypes and the step 1 metadata disagree")
    launcher = launcher_for(spec.engine, python=python)
    jobs: list[Job] = []
    step1 = _step1(spec, datasets, launcher, jobs, python)
    shards = _step2(spec, step2_sets, launcher, step1, jobs, python)
    merges = _merges(spec, shards, jobs)
    report_meta: dict[str, Any] = {"phenotypes": list(spec.phenotypes.columns), "outdir": spec.outdir}
    qc_table: tuple[str, ...] = ()
    if "qc" in {j.id for j in jobs[:2]}:
        report_meta["qc_json"] = jobs[0].meta["qc_json"]
        qc_table = (f"{spec.outdir}/qc.tsv",)
    jobs.append(
        Job(
            id="report",
            step=Step.REPORT,
            kind=JobKind.INTERNAL,
            action="report",
            deps=tuple(merges),
            inputs=tuple(j.outputs[0] for j in jobs[-len(merges) :]),
            outputs=(f"{spec.outdir}/summary.tsv", f"{spec.outdir}/report.html", *qc_table),
            meta=report_meta,
        )
    )
    jobs.append(
        Job(
            id="cleanup",
            step=Step.CLEANUP,
            kind=JobKind.INTERNAL,
            action="cleanup",
            deps=("report",),
            meta={"workdir": spec.workdir, "keep_workspace": spec.keep_workspace},
        )
    )
    return JobGraph(jobs)


def _table_inputs(spec: RunSpec) -> list[str]:
    files = [spec.phenotypes.file]
    if spec.covariates is not None:
        files.append(spec.covariates.file)
    return files


def _qc(spec: RunSpec, meta: DatasetMeta, python: str, jobs: list[Job]) -> tuple[str, str] | None:
    """The ``qc`` job before step 1 (with ``step1.qc``); returns its (snplist, keep) for step 1."""
    if spec.step1.qc is None:
        return None
    out = f"{spec.workdir}/qc/step1"
    outputs = (f"{out}.snplist", f"{out}.keep", f"{out}.qc.json")
    jobs.append(
        Job(
            id="qc",
            step=Step.QC,
            kind=JobKind.COMMAND,
            argv=qc_argv(spec, python=python, fmt=meta.fmt, prefix=meta.prefix, out=out),
            inputs=(*meta.files(), *_list_inputs(spec)),
            outputs=outputs,
            resources=_resources(spec.step1.resources),
            meta={"dataset": meta.label, "n_variants": meta.n_variants, "qc_json": outputs[2]},
        )
    )
    return outputs[0], outputs[1]


def _step1(spec: RunSpec, datasets: Sequence[DatasetMeta], launcher: Launcher, jobs: list[Job],
           python: str) -> Step1Feed:
    if spec.step1.skip:
        assert spec.step1.predictions is not None  # guaranteed by Step1Spec
        return Step1Feed((spec.step1.predictions,), ((spec.step1.predictions,),), ((),))
    meta = _step1_set(spec, datasets)
    label = meta.label
    qc_lists = _qc(spec, meta, python, jobs)
    out = f"{spec.workdir}/step1/{spec.name}"
    flags = step1_flags(spec, genotypes=_genotypes(meta), out=out, lowmem_prefix=f"{spec.workdir}/step1/tmp",
                        qc_lists=qc_lists)
    n_pheno = len(spec.phenotypes.columns)
    pred = f"{out}_pred.list"
    locos = tuple(f"{out}_{k}.loco" for k in range(1, n_pheno + 1))
    job_meta: dict[str, Any] = {
        "dataset": label,
        "phenotypes": list(spec.phenotypes.columns),
        "n_variants": meta.n_variants,
        "log": f"{out}.log",
    }
    if launcher.image:
        job_meta["image"] = launcher.image
    inputs = (*meta.files(), *_table_inputs(spec), *_list_inputs(spec), *(qc_lists or ()))
    if spec.step1.level0_jobs > 1:
        n_blocks = count_blocks(meta.chrom, spec.step1.bsize)
        split = split_step1(spec, launcher, genotypes=_genotypes(meta), n_blocks=n_blocks, qc_lists=qc_lists,
                            inputs=inputs, deps=("qc",) if qc_lists else (),
                            resources=_resources(spec.step1.resources), meta=job_meta)
        if split is not None:
            jobs.extend(split[0])
            return split[1]
    jobs.append(
        Job(
            id="step1",
            step=Step.STEP1,
            kind=JobKind.COMMAND,
            argv=launcher.argv(flags),
            deps=("qc",) if qc_lists else (),
            inputs=inputs,
            outputs=(pred, *locos),
            resources=_resources(spec.step1.resources),
            meta=job_meta,
        )
    )
    return Step1Feed((pred,), ((pred, *locos),), (("step1",),))


def _step1_set(spec: RunSpec, datasets: Sequence[DatasetMeta]) -> DatasetMeta:
    """``step1.genotypes``; else the dataset ``step1.dataset`` names (its first file), else the first dataset."""
    if spec.step1.genotypes is not None:
        return next(d for d in datasets if d.step1_only)
    label = spec.step1.dataset or spec.dataset_labels()[0]
    index = spec.dataset_labels().index(label)
    first = next(f for f in spec.dataset_files() if f.index == index)
    return next(d for d in datasets if d.label == first.label and not d.step1_only)


def _genotypes(meta: DatasetMeta) -> list[str]:
    return genotype_flags(meta.fmt, meta.prefix, sample=meta.sample, ref_first=meta.ref_first)


def _list_inputs(spec: RunSpec) -> list[str]:
    """Sample and variant list files the commands read."""
    names = (spec.samples.keep, spec.samples.remove, spec.variants.extract, spec.variants.exclude)
    return [path for path in names if path]


class _ArgvTemplate:
    """A step 2 argv with the shard-specific ``--range`` and ``--out`` values left to fill.

    Built once per dataset x phenotype group with the same builder as every
    other command, then copied per shard: 100,000 shards cost one list copy each.
    """

    _RANGE = "\0range"
    _OUT = "\0out"

    def __init__(self, launcher: Launcher, flags: list[str]) -> None:
        self._argv = list(launcher.argv(flags))
        self._i_range = self._argv.index(self._RANGE)
        self._i_out = self._argv.index(self._OUT)

    @classmethod
    def step2(
        cls, spec: RunSpec, launcher: Launcher, meta: DatasetMeta, group: Sequence[str], pred: str,
        qc_extract: str | None,
    ) -> _ArgvTemplate:
        flags = step2_flags(spec, genotypes=_genotypes(meta), phenotypes=group, pred=pred, range_=cls._RANGE,
                            out=cls._OUT, min_info=meta.min_info, qc_extract=qc_extract)
        return cls(launcher, flags)

    def fill(self, range_: str, out: str) -> tuple[str, ...]:
        argv = self._argv.copy()
        argv[self._i_range] = range_
        argv[self._i_out] = out
        return tuple(argv)


def _dataset_qc(spec: RunSpec, meta: DatasetMeta, python: str, jobs: list[Job]) -> tuple[str, str] | None:
    """The ``qc-<file>`` job of a file whose dataset has ``qc``; returns its (job id, variant list)."""
    qc = spec.datasets[{f.label: f.index for f in spec.dataset_files()}[meta.label]].qc
    if qc is None:
        return None
    job_id = f"qc-{safe_id_part(meta.label)}"
    out = f"{spec.workdir}/qc/{safe_id_part(meta.label)}"
    outputs = (f"{out}.snplist", f"{out}.keep", f"{out}.qc.json")
    argv = dataset_qc_argv(qc, python=python, fmt=meta.fmt, prefix=meta.prefix, out=out,
                           threads=spec.step2.resources.cpus)
    jobs.append(Job(id=job_id, step=Step.QC, kind=JobKind.COMMAND, argv=argv, inputs=meta.files(), outputs=outputs,
                    resources=_resources(spec.step2.resources),
                    meta={"dataset": meta.label, "n_variants": meta.n_variants, "qc_json": outputs[2]}))
    return job_id, outputs[0]


def _step2(
    spec: RunSpec, datasets: Sequence[DatasetMeta], launcher: Launcher, step1: Step1Feed, jobs: list[Job], python: str
) -> list[_Shard]:
    groups = group_phenotypes(spec.phenotypes.columns, spec.step2.phenotypes_per_job)
    ext = ".regenie.gz" if spec.step2.gz else ".regenie"
    resources = _resources(spec.step2.resources)
    tables = (*_table_inputs(spec), *_list_inputs(spec))
    shards: list[_Shard] = []
    for d_index, meta in enumerate(datasets):
        chunks = chunk_variants(meta.chrom, meta.pos, spec.step2.variants_per_job)
        chunks.sort(key=lambda c: (_chrom_key(c.chrom), c.start))
        qc = _dataset_qc(spec, meta, python, jobs)
        feeds = [step1.group(g) for g in range(len(groups))]
        deps = [feed[2] if qc is None else (*feed[2], qc[0]) for feed in feeds]
        inputs = [(*meta.files(), *tables, *feed[1], *(qc[1:] if qc else ())) for feed in feeds]
        templates = [_ArgvTemplate.step2(spec, launcher, meta, group, feed[0], qc and qc[1])
                     for group, feed in zip(groups, feeds, strict=True)]
        label = safe_id_part(meta.label)
        filtered = _filtered(spec, meta) or qc is not None
        for chunk in chunks:
            chunk_id = f"step2-{label}-c{safe_id_part(chunk.chrom)}_{chunk.index:05d}"
            range_ = chunk.range
            for g_index, group in enumerate(groups):
                job_id = f"{chunk_id}-p{g_index:03d}"
                out = f"{spec.workdir}/step2/{job_id}"
                job_meta: dict[str, Any] = {
                    "dataset": meta.label,
                    "chrom": chunk.chrom,
                    "start": chunk.start,
                    "end": chunk.end,
                    "n_variants": chunk.n_variants,
                    "phenotypes": list(group),
                    "log": f"{out}.log",
                }
                if launcher.image:
                    job_meta["image"] = launcher.image
                if filtered:
                    job_meta["filtered"] = True
                jobs.append(
                    Job(
                        id=job_id,
                        step=Step.STEP2,
                        kind=JobKind.COMMAND,
                        argv=templates[g_index].fill(range_, out),
                        deps=deps[g_index],
                        inputs=inputs[g_index],
                        outputs=tuple([f"{out}_{p}{ext}" for p in group]),
                        resources=resources,
                        meta=job_meta,
                    )
                )
                shards.append(_Shard(job_id, d_index, meta, chunk, g_index, out, filtered))
    return shards


def _filtered(spec: RunSpec, meta: DatasetMeta) -> bool:
    """Whether filters beyond the low-MAC count in the log drop rows (``--minINFO``, ``--extract``, ``--exclude``)."""
    return meta.min_info is not None or bool(spec.variants.extract or spec.variants.exclude)


def _merges(spec: RunSpec, shards: list[_Shard], jobs: list[Job]) -> list[str]:
    """One merge per phenotype; shards in chromosome/position order, datasets in spec order on ties."""
    groups = group_phenotypes(spec.phenotypes.columns, spec.step2.phenotypes_per_job)
    ext = ".regenie.gz" if spec.step2.gz else ".regenie"
    ordered = sorted(shards, key=lambda s: (_chrom_key(s.chunk.chrom), s.chunk.start, s.dataset_index, s.chunk.index))
    per_group: list[list[_Shard]] = [[] for _ in groups]
    for shard in ordered:
        per_group[shard.group_index].append(shard)
    ids: list[str] = []
    for group, mine in zip(groups, per_group, strict=True):
        if not mine:
            raise PlanError(f"no step 2 shard tests phenotypes {', '.join(group)}")
        deps = tuple([s.job_id for s in mine])
        outs = [s.out for s in mine]
        logs = [f"{out}.log" for out in outs]
        rows = sum(s.chunk.n_variants for s in mine)
        exact = not any(s.filtered for s in mine)
        for pheno in group:
            results = [f"{out}_{pheno}{ext}" for out in outs]
            job_id = f"merge-{safe_id_part(pheno)}"
            result = f"{spec.outdir}/results/{pheno}.regenie.gz"
            jobs.append(
                Job(
                    id=job_id,
                    step=Step.MERGE,
                    kind=JobKind.INTERNAL,
                    action="merge",
                    deps=deps,
                    inputs=tuple(results),
                    outputs=(result, f"{result}.tbi"),  # the merged result and its tabix index
                    meta={
                        "phenotype": pheno,
                        "shards": results,
                        "shard_logs": logs.copy(),
                        **({"planned_rows": rows} if exact else {}),
                    },
                )
            )
            ids.append(job_id)
    return ids


def summarize(graph: JobGraph) -> str:
    """A human-readable plan: jobs per step, then each command (shell-quoted for display only)."""
    counts = graph.counts()
    lines = [f"{len(graph)} jobs"]
    lines += [f"  {step.value:<8} {counts[step]}" for step in Step if step in counts]
    lines.append("")
    for job in graph:
        if job.kind is JobKind.COMMAND:
            image = job.meta.get("image")
            where = f" [image {image}]" if image else ""
            lines.append(f"{job.id}{where}:\n  {shlex.join(job.argv)}")
        else:
            lines.append(f"{job.id}: {job.action} (after {len(job.deps)} job{'s' if len(job.deps) != 1 else ''})")
    return "\n".join(lines) + "\n"
