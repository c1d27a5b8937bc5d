"""Executors by name: ``make_executor("local", max_parallel=4)``, ``make_executor("slurm", partition="short")``.

The run spec names an executor kind and its settings; this is the one place
that maps the kind to a class. Unknown kinds and settings a backend does not
accept raise ``ValueError`` naming what is accepted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from gwasflow.executors.aws_batch import AwsBatchExecutor, AwsBatchSettings
from gwasflow.executors.base import Executor
from gwasflow.executors.local import LocalExecutor, LocalSettings
from gwasflow.executors.slurm import SlurmExecutor, SlurmSettings

__all__ = ["check_settings", "executor_kinds", "make_executor"]

# kind -> (factory, settings dataclass listing the accepted keyword settings)
_BACKENDS: dict[str, tuple[Callable[..., Executor], type[Any]]] = {
    "aws_batch": (AwsBatchExecutor, AwsBatchSettings),
    "local": (LocalExecutor, LocalSettings),
    "slurm": (SlurmExecutor, SlurmSettings),
}


def executor_kinds() -> list[str]:
    """The executor kinds this installation can make."""
    return sorted(_BACKENDS)


def make_executor(kind: str, **settings: Any) -> Executor:
    """A new executor of ``kind`` configured with ``settings`` (validated by the backend)."""
    try:
        factory, settings_type = _BACKENDS[kind]
    except KeyError:
        raise ValueError(f"unknown executor kind {kind!r}; known: {', '.join(executor_kinds())}") from None
    accepted = {f.name for f in dataclasses.fields(settings_type)}
    unknown = sorted(set(settings) - accepted)
    if unknown:
        raise ValueError(
            f"executor {kind!r}: unknown settings {unknown!r}; accepted: {', '.join(sorted(accepted))}"
        )
    return factory(**settings)


def check_settings(kind: str, settings: dict[str, Any]) -> list[str]:
    """Problems with an executor kind and its settings, without making the executor (for validation)."""
    if kind not in _BACKENDS:
        return [f"unknown executor kind {kind!r}; known: {', '.join(executor_kinds())}"]
    _, settings_type = _BACKENDS[kind]
    accepted = {f.name for f in dataclasses.fields(settings_type)}
    unknown = sorted(set(settings) - accepted)
    if unknown:
        return [f"unknown settings {unknown!r}; accepted: {', '.join(sorted(accepted))}"]
    try:
        settings_type(**settings)
    except (TypeError, ValueError) as exc:
        return [str(exc)]
    return []
