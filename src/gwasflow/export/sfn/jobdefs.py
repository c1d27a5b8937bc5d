"""The Batch job definitions the machine names, per regenie version.

AWS Batch cannot override a job's container image, so the regenie version (the image tag) is chosen
by choosing the job definition: the export names one definition per version and step (step 1 and
step 2 differ in resources), and the machine picks the set of the execution input's
``regenie_version`` (a Choice state, one branch per version the export knows). The gwasflow image
runs the QC job and the check, merge and report jobs (and both steps with the built-in engine,
under the version name ``builtin``). Names come from
:func:`gwasflow.executors.aws_batch.definition_name`, so definitions that the ``aws_batch``
executor registered are reused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gwasflow.core.states import Step
from gwasflow.executors.aws_batch import definition_name
from gwasflow.plan.commands import image_reference
from gwasflow.plan.model import JobGraph, Resources
from gwasflow.spec.model import EngineKind, RunSpec

__all__ = ["BUILTIN", "FINISH_RESOURCES", "JobDefinitions", "job_definitions"]

BUILTIN = "builtin"
#: check, merge and report: one vCPU; merging a biobank's results is streaming, 4 GiB is plenty.
FINISH_RESOURCES = Resources(cpus=1, memory_mb=4096, time_s=4 * 3600)


@dataclass(frozen=True)
class JobDefinitions:
    """``by_version[version]["step1"|"step2"]``, the gwasflow-image ``qc`` and ``finish`` names, and
    every definition to register (name, image, vCPUs, memory MiB)."""

    by_version: dict[str, dict[str, str]]
    default_version: str
    qc: str | None
    finish: str
    needed: list[dict[str, Any]]


class _Names:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.needed: dict[str, dict[str, Any]] = {}

    def name(self, image: str, res: Resources) -> str:
        found = definition_name(self.prefix, image, res.cpus, res.memory_mb, None)
        self.needed.setdefault(found, {"name": found, "image": image, "vcpus": res.cpus, "memory_mb": res.memory_mb})
        return found


def _step_resources(graph: JobGraph, step: Step) -> Resources | None:
    jobs = graph.by_step(step)
    return jobs[0].resources if jobs else None


def job_definitions(spec: RunSpec, graph: JobGraph, *, prefix: str, image: str | None,
                    versions: tuple[str, ...] = ()) -> JobDefinitions:  # fmt: skip
    """The definitions for ``spec``'s engine version and ``versions`` (other regenie versions)."""
    if not image:
        raise ValueError("no gwasflow container image: pass --image or set executor.settings.image "
                         "(it runs the check, merge and report jobs)")  # fmt: skip
    names = _Names(prefix)
    engine = spec.engine
    if engine.kind is EngineKind.REGENIE:
        if not engine.image:
            raise ValueError("engine.binary: Batch runs images; set engine.image (and version) for the export")
        images = {v: image_reference(engine.image, v) for v in dict.fromkeys([str(engine.version), *versions])}
        default = str(engine.version)
    else:
        if versions:
            raise ValueError("--regenie-version needs engine: {kind: regenie, image: ...}")
        images, default = {BUILTIN: image}, BUILTIN
    by_version: dict[str, dict[str, str]] = {}
    for version, img in images.items():
        by_version[version] = {
            step.value: names.name(img, res)
            for step in (Step.STEP1, Step.STEP2) if (res := _step_resources(graph, step)) is not None
        }  # fmt: skip
    qc_res = _step_resources(graph, Step.QC)
    qc = names.name(image, qc_res) if qc_res is not None else None
    finish = names.name(image, FINISH_RESOURCES)
    return JobDefinitions(by_version, default, qc, finish, list(names.needed.values()))
