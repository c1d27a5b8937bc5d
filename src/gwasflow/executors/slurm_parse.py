"""Pure parsers of Slurm's command output: ``sbatch --parsable``, ``sacct --parsable2``, ``squeue``, ``scontrol``.

No I/O and no mapping to gwasflow's states here (that is :mod:`gwasflow.executors.slurm`'s job): each function
turns text into plain records, keeping Slurm's own state words. They are tested on text captured from a real
Slurm 22.05 in ``tests/executors/captured/``.

Job ids: an array task is ``<array job id>_<task id>`` (``13_5``); sacct and squeue show tasks that have not
started yet as one line with a range (``13_[4-9%2]``, ``13_[1,3,5-7]``), which is expanded here to one record per
task. Steps (``13_5.batch``, ``13_5.extern``, ``13_5.0``) are folded into their job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "SACCT_FIELDS",
    "SQUEUE_FORMAT",
    "SacctJob",
    "SqueueJob",
    "expand_job_ids",
    "parse_duration_s",
    "parse_exit_code",
    "parse_max_array_size",
    "parse_memory_mb",
    "parse_sacct",
    "parse_sbatch",
    "parse_squeue",
    "sbatch_refused_for_good",
]

#: the ``--format`` of the sacct call that :func:`parse_sacct` reads, in this order
SACCT_FIELDS = ("JobID", "State", "ExitCode", "MaxRSS", "Elapsed", "TotalCPU")
#: the ``--format`` of the squeue call that :func:`parse_squeue` reads (with ``--noheader``)
SQUEUE_FORMAT = "%i|%T|%r"

_RANGE = re.compile(r"^(?P<job>[0-9]+)_\[(?P<spec>[0-9,\-]+)(?:%[0-9]+)?\]$")
_MEMORY_UNITS = {"": 1 / (1024 * 1024), "K": 1 / 1024, "M": 1.0, "G": 1024.0, "T": 1024.0 * 1024, "P": 1024.0**3}


@dataclass(frozen=True)
class SacctJob:
    """One job or array task as sacct reports it (allocation line plus the usage of its steps).

    ``state`` is the first word of sacct's State (``CANCELLED`` of ``CANCELLED by 0``), ``state_detail`` the rest;
    ``exit_code`` and ``signal`` are the two halves of ExitCode (``0:125``); ``max_rss_mb`` is the largest MaxRSS
    of its steps (None when no step reported one).
    """

    job_id: str
    state: str
    state_detail: str = ""
    exit_code: int = 0
    signal: int = 0
    max_rss_mb: float | None = None
    elapsed_s: float | None = None
    cpu_s: float | None = None


@dataclass(frozen=True)
class SqueueJob:
    """One job or array task as squeue reports it: state (``PENDING``, ``RUNNING``...) and reason."""

    job_id: str
    state: str
    reason: str = ""


def parse_sbatch(text: str) -> str:
    """The job id that ``sbatch --parsable`` printed (``13`` or ``13;cluster``); ValueError if there is none."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("sbatch printed no job id")
    job_id = lines[-1].split(";", 1)[0]
    if not job_id.isdigit():
        raise ValueError(f"sbatch printed no job id: {lines[-1]!r}")
    return job_id


# The beginnings of sbatch's errors (its own checks, and slurmctld's errno strings after "Batch job submission
# failed: ") that say the request itself can never be accepted; any other error may pass (controller down or busy,
# a timeout, a submit limit) and is worth another try.
_REFUSED_FOR_GOOD = (
    "invalid partition",  # "invalid partition specified: x", "Invalid partition name specified"
    "invalid account",
    "invalid qos",
    "invalid job array specification",
    "invalid --",  # a malformed option value: "Invalid --time specification"
    "invalid generic resource",
    "invalid user id",
    "memory specification can not be satisfied",
    "memory required by task is not available",
    "requested node configuration is not available",
    "requested time limit is invalid",
    "access/permission denied",
)
_SBATCH_ERROR = re.compile(r"^sbatch: error: (?:Batch job submission failed: )?(?P<what>.+)$")


def sbatch_refused_for_good(stderr: str) -> bool:
    """Whether sbatch's error lines name a refusal that no retry can cure (bad partition, memory no node has).

    Only whole ``sbatch: error: ...`` lines are read, by their beginning; anything else (no such line, a
    controller that does not answer, a timeout) is not a refusal for good.
    """
    for line in stderr.splitlines():
        m = _SBATCH_ERROR.match(line.strip())
        if m and m["what"].lower().startswith(_REFUSED_FOR_GOOD):
            return True
    return False


def expand_job_ids(job_id: str) -> list[str]:
    """``13_[1,3-5%2]`` -> ``['13_1', '13_3', '13_4', '13_5']``; any other id as it is."""
    m = _RANGE.match(job_id)
    if m is None:
        return [job_id]
    out: list[str] = []
    for part in m["spec"].split(","):
        lo, _, hi = part.partition("-")
        out.extend(f"{m['job']}_{i}" for i in range(int(lo), int(hi or lo) + 1))
    return out


def parse_exit_code(text: str) -> tuple[int, int]:
    """sacct's ExitCode ``<exit status>:<signal>`` -> (exit status, signal); ``''`` -> (0, 0)."""
    code, _, sig = text.strip().partition(":")
    return int(code or 0), int(sig or 0)


def parse_duration_s(text: str) -> float | None:
    """Slurm durations -> seconds: ``1-02:03:04``, ``02:03:04``, ``03:04``, ``00:00.206``; None if empty or odd."""
    text = text.strip()
    if not text or text in {"INVALID", "UNLIMITED", "Partition_Limit"}:
        return None
    days, _, rest = text.rpartition("-")
    try:
        parts = [float(p) for p in rest.split(":")]
        seconds = float(days or 0) * 86400.0
    except ValueError:
        return None
    if len(parts) > 3:
        return None
    # ``a:b`` is minutes:seconds, ``a:b:c`` hours:minutes:seconds: fold left to right in base 60
    clock = 0.0
    for value in parts:
        clock = clock * 60.0 + value
    return seconds + clock


def parse_memory_mb(text: str) -> float | None:
    """sacct memory (``228K``, ``1.5G``, ``0``, bytes when unitless) -> MiB; None if empty."""
    text = text.strip()
    if not text:
        return None
    unit = text[-1].upper() if text[-1].isalpha() else ""
    number = text[:-1] if unit else text
    try:
        return float(number) * _MEMORY_UNITS[unit]
    except (KeyError, ValueError):
        return None


def parse_sacct(text: str) -> dict[str, SacctJob]:
    """``sacct --parsable2 --noheader --format=<SACCT_FIELDS>`` -> one record per job or array task, by id.

    Allocation lines give state, exit code, elapsed and CPU time; step lines only add their MaxRSS. A range of
    pending (or never started, then cancelled) tasks gives one record per task.
    """
    allocations: dict[str, list[str]] = {}
    peak: dict[str, float] = {}
    for line in text.splitlines():
        fields = line.rstrip("\n").split("|")
        if len(fields) < len(SACCT_FIELDS) or not fields[0]:
            continue
        job_id, _, step = fields[0].partition(".")
        if step:
            rss = parse_memory_mb(fields[3])
            if rss is not None:
                peak[job_id] = max(rss, peak.get(job_id, 0.0))
            continue
        for one in expand_job_ids(job_id):
            allocations[one] = fields
    out: dict[str, SacctJob] = {}
    for job_id, fields in allocations.items():
        state, _, detail = fields[1].strip().partition(" ")
        code, sig = parse_exit_code(fields[2])
        out[job_id] = SacctJob(
            job_id, state, detail, code, sig, peak.get(job_id), parse_duration_s(fields[4]), parse_duration_s(fields[5])
        )
    return out


def parse_squeue(text: str) -> dict[str, SqueueJob]:
    """``squeue --noheader --format='%i|%T|%r'`` -> one record per job or array task, by id (ranges expanded)."""
    out: dict[str, SqueueJob] = {}
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) < 2 or not fields[0]:
            continue
        reason = fields[2] if len(fields) > 2 else ""
        for job_id in expand_job_ids(fields[0]):
            out[job_id] = SqueueJob(job_id, fields[1], reason)
    return out


def parse_max_array_size(text: str) -> int | None:
    """``MaxArraySize`` from ``scontrol show config`` output; None if absent."""
    m = re.search(r"^MaxArraySize\s*=\s*([0-9]+)\s*$", text, re.MULTILINE)
    return int(m[1]) if m else None
