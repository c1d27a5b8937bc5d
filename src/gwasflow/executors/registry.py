"""Executors by name: ``make_executor("local", max_parallel=4)``, ``make_executor("slurm", partition="short")``.

The run spec names an executor kind and its settings; this is the one place
that maps the kind to a class. Unknown kinds and settings a backend does not
accept raise ``ValueError`` naming what is accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from gwasflow.core.states import ExecutorKind
from gwasflow.executors.aws_batch import AwsBatchExecutor
from gwasflow.executors.base import Executor
from gwasflow.executors.local import LocalExecutor
from gwasflow.executors.settings import AwsBatchSettings, ExecutorSettings, LocalSettings, SlurmSettings, describe
from gwasflow.executors.slurm import SlurmExecutor

__all__ = ["check_settings", "executor_kinds", "format_settings", "make_executor", "settings_model"]

# kind -> (factory, settings model listing the accepted keyword settings)
_BACKENDS: dict[ExecutorKind, tuple[Callable[..., Executor], type[ExecutorSettings]]] = {
    ExecutorKind.AWS_BATCH: (AwsBatchExecutor, AwsBatchSettings),
    ExecutorKind.LOCAL: (LocalExecutor, LocalSettings),
    ExecutorKind.SLURM: (SlurmExecutor, SlurmSettings),
}


def executor_kinds() -> list[str]:
    """The executor kinds this installation can make."""
    return sorted(kind.value for kind in _BACKENDS)


def _backend(kind: str) -> tuple[Callable[..., Executor], type[ExecutorSettings]]:
    """The factory and settings model of the kind named by a spec or an argument (``ValueError`` if none)."""
    if kind not in executor_kinds():
        raise ValueError(f"unknown executor kind {kind!r}; known: {', '.join(executor_kinds())}")
    return _BACKENDS[ExecutorKind(kind)]


def settings_model(kind: str) -> type[ExecutorSettings]:
    """The settings model of an executor kind (``ValueError`` for an unknown kind)."""
    return _backend(kind)[1]


def format_settings(kind: str) -> str:
    """The settings of an executor kind for people: one block per setting (name, type, default, description)."""
    lines = [f"executor: {kind}   (run spec: executor.kind: {kind}, executor.settings: {{...}})"]
    for name, annotation, default, description in describe(settings_model(kind)):
        lines.append(f"  {name}: {annotation} = {default}")
        lines.append(f"      {description}")
    return "\n".join(lines)


def make_executor(kind: str, **settings: Any) -> Executor:
    """A new executor of ``kind`` configured with ``settings`` (validated by the backend)."""
    factory, settings_type = _backend(kind)
    accepted = set(settings_type.model_fields)
    unknown = sorted(set(settings) - accepted)
    if unknown:
        raise ValueError(
            f"executor {kind!r}: unknown settings {unknown!r}; accepted: {', '.join(sorted(accepted))}"
        )
    return factory(**settings)


def check_settings(kind: str, settings: dict[str, Any]) -> list[str]:
    """Problems with an executor kind and its settings, without making the executor (for validation)."""
    try:
        _, settings_type = _backend(kind)
    except ValueError as exc:
        return [str(exc)]
    accepted = set(settings_type.model_fields)
    unknown = sorted(set(settings) - accepted)
    if unknown:
        return [f"unknown settings {unknown!r}; accepted: {', '.join(sorted(accepted))}"]
    try:
        settings_type(**settings)
    except ValidationError as exc:
        return [problem_line(e) for e in exc.errors()]
    return []


def problem_line(error: Mapping[str, Any]) -> str:
    """One pydantic error as one line naming the setting (``sbatch_args: Input should be a valid list``)."""
    where = ".".join(str(part) for part in error.get("loc", ()))
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
