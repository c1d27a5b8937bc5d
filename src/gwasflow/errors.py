"""The one exception tree of gwasflow.

Every error gwasflow raises on purpose is a :class:`GwasflowError`. The tree
decides exit codes, and for a submission whether trying again can help::

    GwasflowError                      exit 1 unless noted
    ├── SpecError                      exit 2: the run spec or an input is wrong; nothing started
    │     .problems: list[Problem]     every problem found, each naming field, file, line
    ├── EngineInputError               exit 2: the built-in regenie engine rejected its input
    ├── PlanError                      the planner cannot build a graph from valid input
    ├── StagingError                   copying inputs into / publishing out of the workspace failed
    ├── StoreError                     the run store is missing, locked or from another version
    └── SubmitError                    the executor refused a job (sbatch/SubmitJob failed)
          .permanent                   True: refused for good (bad partition, unsatisfiable memory); else transient
          .submitted                   {index in the batch: handle} of what was submitted before the failure

A job attempt that ends without its outputs is not an exception: it is data.
The executor reports it as an ``ExecStatus`` with a typed ``ExecCause``
(``core/states.py``), ``engine/classify.py`` turns it into an
``ErrorType``, the driver records it on the attempt, and ``engine/retry.py``
decides from the job's history of error types (``interrupted`` has its own
budget, a job the run cancelled is never retried, ``bad_input`` never is).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "EngineInputError",
    "GwasflowError",
    "PlanError",
    "Problem",
    "SpecError",
    "StagingError",
    "StoreError",
    "SubmitError",
]


class GwasflowError(Exception):
    """Base of every error gwasflow raises on purpose."""

    exit_code: int = 1


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a run spec or an input file.

    ``field`` is the dotted spec path (``phenotypes.columns[1]``); ``file`` and
    ``line`` locate the problem in an input file when there is one.
    """

    field: str
    message: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.field
        if self.file is not None:
            where += f" ({self.file}"
            where += f", line {self.line})" if self.line is not None else ")"
        return f"{where}: {self.message}"


class SpecError(GwasflowError):
    """The run spec or one of its inputs is invalid. Carries every problem found."""

    exit_code = 2

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        count = len(self.problems)
        super().__init__(f"invalid run spec: {count} problem{'s' if count != 1 else ''}\n{lines}")


class EngineInputError(GwasflowError):
    """The built-in regenie engine was given a bad flag or input file."""

    exit_code = 2


class PlanError(GwasflowError):
    """A graph cannot be built from this (valid) spec and data."""


class StagingError(GwasflowError):
    """Staging inputs into the workspace or publishing outputs failed."""


class StoreError(GwasflowError):
    """The run store cannot be opened or is inconsistent."""


class SubmitError(GwasflowError):
    """The executor refused to start a job.

    ``permanent``: the executor said the submission can never succeed as it is (an invalid partition, memory
    that no node has); otherwise the failure may pass (controller down, timeout, throttling) and the
    submission may be tried again. ``submitted`` maps positions in the batch that was being submitted to the
    handles of the attempts that *were* submitted before the failure: they exist on the executor and must be
    tracked, not submitted again.
    """

    def __init__(self, message: str, *, permanent: bool = False, submitted: Mapping[int, str] | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.submitted: dict[int, str] = dict(submitted or {})
