"""regenie's files for step 1 split across jobs: the master file, the jobs' variant lists, the level 0 predictions.

regenie docs ("Options": ``--split-l0``, ``--run-l0``, ``--run-l1``) and its
wiki page "Further parallelization for level 0 models in Step 1"; the layouts
below are those regenie v4.1.2 writes and reads:

* ``<PREFIX>.master``: a header line ``<n_variants> <bsize>`` (all step 1
  variants), then one line per job ``<PREFIX>_job<k> <n_blocks> <n_variants>``;
  the blocks of all jobs, in order, are the blocks of the whole run;
* ``<PREFIX>_job<k>.snplist``: the job's variant IDs, one per line;
* ``<PREFIX>_job<k>_l0_Y<p>``: for trait ``p`` (1-based, order of the
  analysed phenotypes), the job's level 0 predictions as raw little-endian
  float64: for each block, for each shrinkage value, one value per genotyped
  sample (the genotype file's samples left by ``--keep``/``--remove``, in file
  order), i.e. an (n_samples x n_blocks * n_shrink) matrix in column-major
  order. Predictions are centred and scaled over the trait's analysed samples;
  the other rows hold ``(0 - mean) / sd``, as regenie writes them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gwasflow.errors import EngineInputError
from gwasflow.regenie.output import write_text_atomic

__all__ = [
    "Master",
    "MasterJob",
    "l0_path",
    "partition_blocks",
    "read_l0",
    "read_master",
    "write_l0",
    "write_master",
]

F64 = NDArray[np.float64]
_LE_F64 = np.dtype("<f8")


@dataclass(frozen=True)
class MasterJob:
    """One job line of the master file."""

    prefix: str
    n_blocks: int
    n_variants: int


@dataclass(frozen=True)
class Master:
    """The master file: all step 1 variants, the block size, and the jobs in block order."""

    n_variants: int
    bsize: int
    jobs: tuple[MasterJob, ...]


def partition_blocks(n_blocks: int, n_jobs: int) -> list[int]:
    """Blocks per job: ``n_blocks // n_jobs`` each, one more for the first ``n_blocks % n_jobs`` jobs (as regenie)."""
    if not 1 <= n_jobs <= n_blocks:
        raise ValueError(f"cannot split {n_blocks} blocks into {n_jobs} jobs")
    size, extra = divmod(n_blocks, n_jobs)
    return [size + (1 if k < extra else 0) for k in range(n_jobs)]


def write_master(path: str, master: Master) -> None:
    lines = [f"{master.n_variants} {master.bsize}\n"]
    lines += [f"{job.prefix} {job.n_blocks} {job.n_variants}\n" for job in master.jobs]
    write_text_atomic(path, "".join(lines))


def _ints(fields: list[str], path: str, line_no: int) -> list[int]:
    try:
        values = [int(text) for text in fields]
    except ValueError:
        raise EngineInputError(f"{path}: line {line_no}: expected integers, got '{' '.join(fields)}'") from None
    if min(values) < 0:
        raise EngineInputError(f"{path}: line {line_no}: negative count")
    return values


def read_master(path: str, *, flag: str, bsize: int) -> Master:
    """Read and check a master file; ``bsize`` must be the one it was written with (``--bsize``)."""
    file = Path(path)
    if not file.is_file():
        raise EngineInputError(f"{flag}: master file not found: {path}")
    lines = file.read_text().splitlines()
    if not lines or len(lines[0].split()) != 2:
        raise EngineInputError(f"{flag}: {path}: line 1: expected '<n_variants> <bsize>'")
    n_variants, written_bsize = _ints(lines[0].split(), path, 1)
    if written_bsize != bsize:
        raise EngineInputError(f"{flag}: {path}: line 1: written with --bsize {written_bsize}, this run has {bsize}")
    jobs = []
    for line_no, line in enumerate(lines[1:], start=2):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3:
            raise EngineInputError(f"{flag}: {path}: line {line_no}: expected '<prefix> <n_blocks> <n_variants>'")
        n_blocks, n_job_variants = _ints(fields[1:], path, line_no)
        jobs.append(MasterJob(fields[0], n_blocks, n_job_variants))
    if not jobs:
        raise EngineInputError(f"{flag}: {path}: no job lines")
    if sum(job.n_variants for job in jobs) != n_variants:
        raise EngineInputError(f"{flag}: {path}: the jobs' variants do not add up to {n_variants} (line 1)")
    return Master(n_variants, written_bsize, tuple(jobs))


def l0_path(prefix: str, trait: int) -> str:
    """``<prefix>_l0_Y<trait>`` (``trait`` 1-based)."""
    return f"{prefix}_l0_Y{trait}"


def write_l0(path: str, values: F64) -> None:
    """``values`` (n_samples, n_columns) in column-major little-endian float64, written atomically."""
    final = Path(path)
    temp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
    try:
        with temp.open("wb") as handle:
            handle.write(np.asarray(values, dtype=_LE_F64).tobytes(order="F"))
        os.replace(temp, final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def read_l0(path: str, n_samples: int, n_columns: int, *, flag: str) -> F64:
    """The (n_samples, n_columns) matrix of a level 0 file; its size must match exactly."""
    file = Path(path)
    if not file.is_file():
        raise EngineInputError(f"{flag}: level 0 file not found: {path}")
    expected = 8 * n_samples * n_columns
    size = file.stat().st_size
    if size != expected:
        raise EngineInputError(f"{flag}: {path} has {size} bytes, expected {expected} "
                               f"({n_samples} samples x {n_columns} predictors)")
    data = np.fromfile(file, dtype=_LE_F64)
    result: F64 = data.reshape((n_columns, n_samples)).T.astype(np.float64)
    return result
