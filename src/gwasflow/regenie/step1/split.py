"""Step 1 split across jobs, as regenie runs it: ``--split-l0 PREFIX,N``, N ``--run-l0 MASTER,K``, ``--run-l1``.

regenie docs ("Options": ``--split-l0``, ``--run-l0``, ``--run-l1``,
``--l1-phenoList``, ``--keep-l0``) and its wiki page "Further parallelization
for level 0 models in Step 1":

* ``--split-l0`` cuts the step 1 blocks into N runs of consecutive blocks
  (:func:`~.l0files.partition_blocks`) and writes the master file and each
  job's variant list; it reads no phenotype;
* ``--run-l0`` runs level 0 on job K's variants only, with the shrinkage grid
  of all step 1 variants (the master file's first number), and writes one
  level 0 file per trait;
* ``--run-l1`` reads every job's level 0 files in master order, fits level 1
  for every trait (or those of ``--l1-phenoList``) and writes the LOCO files
  and ``<out>_pred.list``; then it deletes the level 0 files and variant
  lists it used, unless ``--keep-l0``.

Every job reads the same phenotypes, covariates and sample filters, so the
level 0 blocks computed apart are, bit for bit, those of a single-job run
and the LOCO predictions are the same. The files are regenie's own
(:mod:`.l0files`): either program can run any of the three stages.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gwasflow.errors import EngineInputError
from gwasflow.regenie.io.genotypes import GenotypeSource, open_genotypes
from gwasflow.regenie.io.lists import read_sample_list
from gwasflow.regenie.options import Options
from gwasflow.regenie.output import write_text_atomic
from gwasflow.regenie.runlog import RunLog
from gwasflow.regenie.step1 import ridge
from gwasflow.regenie.step1.l0files import (
    Master,
    MasterJob,
    l0_path,
    partition_blocks,
    read_l0,
    read_master,
    write_l0,
    write_master,
)
from gwasflow.regenie.step1.level0 import Blocks, level0, step1_blocks
from gwasflow.regenie.step1.loco import write_outputs
from gwasflow.regenie.step1.prepared import Prepared
from gwasflow.regenie.step1.stages import fit_level1, prepare

__all__ = ["run_split_job"]

F64 = NDArray[np.float64]


def run_split_job(opts: Options, log: RunLog) -> None:
    """Run the split stage ``opts`` names: ``--split-l0``, ``--run-l0`` or ``--run-l1``."""
    if opts.split_l0 is not None:
        _split(opts, log)
    elif opts.run_l0 is not None:
        _level0_job(opts, log)
    else:
        _level1(opts, log)


def _split(opts: Options, log: RunLog) -> None:
    assert opts.split_l0 is not None
    source = open_genotypes(opts)
    blocks = step1_blocks(source, opts)
    n_jobs = opts.split_l0.number
    log.add(f" * running level 0 in parallel across {len(blocks)} genotype blocks")
    if n_jobs > len(blocks):
        log.add("   -WARNING: Number of jobs cannot be greater than number of blocks.")
        n_jobs = len(blocks)
    prefix = opts.split_l0.path
    jobs, start = [], 0
    for k, n_blocks in enumerate(partition_blocks(len(blocks), n_jobs), start=1):
        mine = blocks[start:start + n_blocks]
        start += n_blocks
        ids = source.variants.ids[np.concatenate([block for _, block in mine])]
        job = MasterJob(f"{prefix}_job{k}", n_blocks, int(ids.shape[0]))
        write_text_atomic(f"{job.prefix}.snplist", "".join(f"{vid}\n" for vid in ids.tolist()))
        jobs.append(job)
    total = sum(int(block.size) for _, block in blocks)
    write_master(f"{prefix}.master", Master(total, opts.bsize, tuple(jobs)))
    log.add(f"   -using {n_jobs} jobs")
    log.add(f"   -master file written to [{prefix}.master]")
    log.add(f"   -variant list files written to [{prefix}_job*.snplist]")


def _genotyped_rows(prep: Prepared) -> tuple[int, NDArray[np.intp]]:
    """Rows of the level 0 files (the genotyped samples left by ``--keep``/``--remove``) and each analysed
    sample's row among them."""
    source: GenotypeSource = prep.source
    opts = prep.opts
    keys = list(zip(source.fid, source.iid, strict=True))
    listed = np.ones(len(keys), dtype=bool)
    if opts.keep:
        kept = read_sample_list(opts.keep, "--keep")
        listed = np.asarray([key in kept for key in keys], dtype=bool)
    elif opts.remove:
        removed = read_sample_list(opts.remove, "--remove")
        listed = np.asarray([key not in removed for key in keys], dtype=bool)
    position = np.cumsum(listed) - 1
    return int(listed.sum()), position[prep.analysis.fam_index].astype(np.intp)


def _check_blocks(blocks: Blocks, n_blocks: int, n_variants: int, where: str) -> None:
    found = sum(int(block.size) for _, block in blocks)
    if len(blocks) != n_blocks or found != n_variants:
        raise EngineInputError(f"{where}: {n_variants} variants in {n_blocks} blocks, but this run's step 1 "
                               f"variants make {found} in {len(blocks)} blocks (same genotypes, --extract and "
                               "--bsize as --split-l0?)")


def _level0_job(opts: Options, log: RunLog) -> None:
    assert opts.run_l0 is not None
    master = read_master(opts.run_l0.path, flag="--run-l0", bsize=opts.bsize)
    k = opts.run_l0.number
    if k > len(master.jobs):
        raise EngineInputError(f"--run-l0: job {k}, but {opts.run_l0.path} lists {len(master.jobs)} jobs")
    job = master.jobs[k - 1]
    log.add(f" * running jobs in parallel (job #{k})")
    job_opts = dataclasses.replace(opts, extract=[f"{job.prefix}.snplist"], exclude=[])
    prep = prepare(job_opts, log)
    blocks = step1_blocks(prep.source, job_opts)
    _check_blocks(blocks, job.n_blocks, job.n_variants, f"--run-l0: {opts.run_l0.path}: line {k + 1}")
    l0 = level0(prep.source, prep.analysis, prep.opts, prep.q, prep.y, prep.observed, log, blocks=blocks,
                n_variants=master.n_variants)
    n_rows, rows = _genotyped_rows(prep)
    binary = prep.eta0 is not None
    for p in range(prep.y.shape[1]):
        # samples outside the trait: regenie writes (0 - mean) / sd for quantitative traits, 0 for binary ones
        values = np.zeros((n_rows, l0.w.shape[1]))
        if not binary:
            values[:] = l0.fill[None, :, p]
        values[rows] = l0.w[:, :, p]
        if binary:
            values[rows[~prep.observed[:, p]]] = 0.0
        write_l0(l0_path(job.prefix, p + 1), values)
    log.add()
    log.add("Done writing level 0 predictions to file.")


def _traits(prep: Prepared) -> list[int]:
    names = prep.analysis.phenotype_names
    chosen = prep.opts.l1_pheno_list
    if chosen is None:
        return list(range(len(names)))
    unknown = [name for name in chosen if name not in names]
    if unknown:
        raise EngineInputError(f"--l1-phenoList: '{unknown[0]}' is not an analysed phenotype ({', '.join(names)})")
    return [i for i, name in enumerate(names) if name in chosen]


def _read_w(master: Master, trait: int, n_rows: int, rows: NDArray[np.intp], n_columns: int) -> F64:
    """Trait ``trait``'s (0-based) level 0 predictions of the analysed samples, every job's blocks in order."""
    n_shrink = len(ridge.H2_GRID)
    w = np.empty((rows.shape[0], n_columns))
    column = 0
    for job in master.jobs:
        width = job.n_blocks * n_shrink
        part = read_l0(l0_path(job.prefix, trait + 1), n_rows, width, flag="--run-l1")
        w[:, column:column + width] = part[rows]
        column += width
    return w


def _level1(opts: Options, log: RunLog) -> None:
    assert opts.run_l1 is not None
    master = read_master(opts.run_l1, flag="--run-l1", bsize=opts.bsize)
    prep = prepare(opts, log)
    blocks = step1_blocks(prep.source, prep.opts)
    _check_blocks(blocks, sum(job.n_blocks for job in master.jobs), master.n_variants, f"--run-l1: {opts.run_l1}")
    log.add(f" * using results from running {len(master.jobs)} parallel jobs at level 0")
    traits = _traits(prep)
    n_shrink = len(ridge.H2_GRID)
    chrom_of_column = np.repeat([chrom for chrom, _ in blocks], n_shrink).astype(np.int64)
    n_rows, rows = _genotyped_rows(prep)
    log.add()
    log.add(" Level 1 ridge with logistic regression..." if prep.eta0 is not None else " Level 1 ridge...")
    fits = []
    for p in traits:
        w = _read_w(master, p, n_rows, rows, chrom_of_column.shape[0])
        fits.append(fit_level1(prep, p, w, chrom_of_column, log))
    write_outputs(prep.opts, prep.analysis, fits, sorted(set(chrom_of_column.tolist())), log, traits=traits)
    if not opts.keep_l0:
        for job in master.jobs:
            for p in traits:
                Path(l0_path(job.prefix, p + 1)).unlink(missing_ok=True)
            Path(f"{job.prefix}.snplist").unlink(missing_ok=True)
