"""The job graph: what the planner produces and the scheduler consumes.

A :class:`JobGraph` is immutable, topologically ordered and JSON-serializable
(``to_dict`` / ``from_dict``), so the driver can persist it in the run store
and a resumed run works from exactly the graph it started with.
"""

from __future__ import annotations

import contextlib
import enum
import gc
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from gwasflow.core.states import Step

__all__ = ["Job", "JobGraph", "JobKind", "Resources", "gc_paused"]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (reference counting still frees memory).

    Building or serializing a 100,000-job graph allocates millions of small
    acyclic containers; the collector's repeated passes over them cost more
    than the work itself (``benchmarks/bench_plan.py``).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class JobKind(enum.StrEnum):
    """How a job runs.

    ``COMMAND`` jobs are argv lists handed to an executor (local process,
    Slurm, Batch). ``INTERNAL`` jobs are actions the driver performs itself
    (merge, report, cleanup), named by ``Job.action``.
    """

    COMMAND = "command"
    INTERNAL = "internal"


@dataclass(frozen=True)
class Resources:
    """What one attempt of a job asks the executor for."""

    cpus: int = 1
    memory_mb: int = 2048
    time_s: int = 3600

    def to_dict(self) -> dict[str, int]:
        return {"cpus": self.cpus, "memory_mb": self.memory_mb, "time_s": self.time_s}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Resources:
        return cls(cpus=int(data["cpus"]), memory_mb=int(data["memory_mb"]), time_s=int(data["time_s"]))


@dataclass(frozen=True)
class Job:
    """One node of the graph.

    ``id`` is deterministic (same spec and data, same id), e.g.
    ``step2-d0-c1_000001-p00``. ``outputs`` are the files the job must leave
    behind on success (the driver checks them). ``meta`` holds step-specific
    facts: for step 2 shards ``dataset``, ``chrom``, ``start``, ``end``,
    ``n_variants``, ``phenotypes`` and ``log``; for merge ``phenotype``,
    ``shards``, ``shard_logs`` and ``planned_rows`` (see ``plan/build.py``).
    """

    id: str
    step: Step
    kind: JobKind
    argv: tuple[str, ...] = ()
    action: str = ""
    deps: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    resources: Resources = field(default_factory=Resources)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "step": self.step.value,
            "kind": self.kind.value,
            "argv": list(self.argv),
            "action": self.action,
            "deps": list(self.deps),
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "resources": self.resources.to_dict(),
            "meta": dict(self.meta),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Job:
        return cls(
            id=str(data["id"]),
            step=Step(data["step"]),
            kind=JobKind(data["kind"]),
            argv=tuple(data.get("argv", ())),
            action=str(data.get("action", "")),
            deps=tuple(data.get("deps", ())),
            inputs=tuple(data.get("inputs", ())),
            outputs=tuple(data.get("outputs", ())),
            resources=Resources.from_dict(data["resources"]),
            meta=dict(data.get("meta", {})),
        )


class JobGraph:
    """Jobs in topological order, addressable by id."""

    def __init__(self, jobs: list[Job]) -> None:
        self._jobs: dict[str, Job] = {}
        for job in jobs:
            if job.id in self._jobs:
                raise ValueError(f"duplicate job id {job.id!r}")
            missing = [d for d in job.deps if d not in self._jobs]
            if missing:
                raise ValueError(f"job {job.id!r} depends on {missing!r}, not defined before it")
            self._jobs[job.id] = job
        self._dependents: dict[str, list[str]] = {jid: [] for jid in self._jobs}
        for job in jobs:
            for dep in job.deps:
                self._dependents[dep].append(job.id)

    def __iter__(self) -> Iterator[Job]:
        return iter(self._jobs.values())

    def __len__(self) -> int:
        return len(self._jobs)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._jobs

    def __getitem__(self, job_id: str) -> Job:
        return self._jobs[job_id]

    def dependents(self, job_id: str) -> list[str]:
        """Ids of the jobs that list ``job_id`` as a dependency."""
        return list(self._dependents[job_id])

    def by_step(self, step: Step) -> list[Job]:
        return [j for j in self._jobs.values() if j.step is step]

    def counts(self) -> dict[Step, int]:
        out: dict[Step, int] = {}
        for job in self._jobs.values():
            out[job.step] = out.get(job.step, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        with gc_paused():
            return {"jobs": [j.to_dict() for j in self._jobs.values()]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobGraph:
        return cls([Job.from_dict(j) for j in data["jobs"]])
