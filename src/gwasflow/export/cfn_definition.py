"""What gwasflow's CloudFormation template reads in an exported state machine definition.

The Batch job definitions its tasks name (with the vCPUs and memory they ask for), the job queue and
failure table it names, where its hosts mount the file system, and the definition as ``Fn::Sub``
with the export's placeholders (``${InstanceProfileArn}``, ``${BatchServiceRoleArn}``) replaced by
the stack's own resources. Used by ``cloudformation.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

__all__ = ["BATCH_SUBMIT", "DYNAMODB_PREFIX", "JobDefinitionUse", "definition_string", "job_definitions_of",
           "mount_path_of", "named"]

BATCH_SUBMIT = "arn:aws:states:::batch:submitJob"
DYNAMODB_PREFIX = "arn:aws:states:::dynamodb:"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_SIZED = re.compile(r"-(\d+)c-(\d+)m-[0-9a-f]{10}$")  # the tail of executors.aws_batch.definition_name
Json = dict[str, Any]

class JobDefinitionUse(NamedTuple):
    """A job definition a machine names, with its vCPUs and memory; ``image`` None means the ImageUri parameter."""

    name: str
    vcpus: int
    memory_mb: int
    image: str | None = None


def _walk(node: Any) -> Iterator[Mapping[str, Any]]:
    """Every mapping in a JSON document, depth first (Map and Parallel branches included)."""
    if isinstance(node, Mapping):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _batch_tasks(definition: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for node in _walk(definition):
        if node.get("Type") == "Task" and str(node.get("Resource", "")).startswith(BATCH_SUBMIT):
            yield node


def _selected_names(definition: Mapping[str, Any]) -> set[str]:
    """Job definition names a machine picks at run time: the Results of its Pass states into ``$.jobdefs``."""
    return {str(name) for node in _walk(definition)
            if node.get("Type") == "Pass" and node.get("ResultPath") == "$.jobdefs"
            for name in (node.get("Result") or {}).values()}  # fmt: skip


def _use_from_name(name: str) -> JobDefinitionUse:
    """vCPUs and memory from a name of :func:`gwasflow.executors.aws_batch.definition_name` (``...-<n>c-<m>m-...``)."""
    found = _SIZED.search(name)
    if found is None:
        raise ValueError(f"job definition {name}: its vCPUs and memory are not in its name; pass --job-definitions")
    return JobDefinitionUse(name, int(found.group(1)), int(found.group(2)))


def job_definitions_of(definition: Mapping[str, Any]) -> list[JobDefinitionUse]:
    """The Batch job definitions the machine's tasks name, with the vCPUs and memory they ask for.

    Names are literal in a task, or chosen at run time from a Pass state's Result (``$.jobdefs``, one set
    per regenie version). ValueError when a literal task lacks its VCPU/MEMORY resource requirements
    (the template could not register it).
    """
    found: dict[str, JobDefinitionUse] = {}
    for task in _batch_tasks(definition):
        params = task.get("Parameters") or {}
        if "JobDefinition.$" in params:
            if not _selected_names(definition):
                raise ValueError(f"a Batch task's JobDefinition is chosen at run time ({params['JobDefinition.$']}) "
                                 "but no Pass state into $.jobdefs names the candidates")
            continue  # a run-time choice among the names of _selected_names
        name = params.get("JobDefinition")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"a Batch task's JobDefinition is not a literal name: {name!r}")
        reqs = {r.get("Type"): r.get("Value") for r in (params.get("ContainerOverrides") or {})
                .get("ResourceRequirements", [])}  # fmt: skip
        try:
            use = JobDefinitionUse(name, int(reqs["VCPU"]), int(reqs["MEMORY"]))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"job definition {name}: the task has no integer VCPU and MEMORY requirements") from None
        found.setdefault(name, use)
    for name in sorted(_selected_names(definition) - set(found)):
        found[name] = _use_from_name(name)
    return list(found.values())


def named(definition: Mapping[str, Any], key: str, resource_prefix: str) -> set[str]:
    """Literal values of ``Parameters[key]`` over the definition's tasks whose resource starts so."""
    return {str(n["Parameters"][key]) for n in _walk(definition)
            if n.get("Type") == "Task" and str(n.get("Resource", "")).startswith(resource_prefix)
            and isinstance((n.get("Parameters") or {}).get(key), str)}  # fmt: skip


#: Placeholders of the export (SfnSettings' defaults) and the attribute of the stack's resource that replaces each.
_SUBSTITUTIONS = {"InstanceProfileArn": "InstanceProfile.Arn", "BatchServiceRoleArn": "BatchServiceRole.Arn"}
_MKDIR = re.compile(r"^- mkdir -p (/\S*)$", re.MULTILINE)


def definition_string(definition: Mapping[str, Any]) -> Json:
    """The definition as ``Fn::Sub``: the export's placeholders become ``${InstanceProfile.Arn}`` and
    ``${BatchServiceRole.Arn}`` (the stack's ARNs); every other ``${`` in it is escaped (``${!``) so that
    CloudFormation leaves it as written. (The string form: the list form's variable map gains nothing.)"""
    text = json.dumps(definition, separators=(",", ":")).replace("${", "${!")
    for name, attribute in _SUBSTITUTIONS.items():
        text = text.replace("${!" + name + "}", "${" + attribute + "}")
    return {"Fn::Sub": text}


def mount_path_of(definition: Mapping[str, Any]) -> str:
    """Where the machine's hosts mount the file system (its ``MountCommand`` user data); ``/fsx`` without one."""
    for node in _walk(definition):
        if node.get("Type") == "Pass" and node.get("ResultPath") == "$.userdata":
            found = _MKDIR.search(str((node.get("Result") or {}).get("head", "")))
            if found:
                return found.group(1)
    return "/fsx"
