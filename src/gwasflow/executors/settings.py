"""Typed settings of every executor: pydantic models, validated on construction, with help beside each field.

The run spec's ``executor.settings`` mapping becomes one of these models (``executors/registry.py``);
an unknown key or a value of the wrong type or range is refused with a line naming the setting.
``gwasflow executor-settings [KIND]`` prints each field with its type, default and description
(:func:`describe`).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["AwsBatchSettings", "ExecutorSettings", "LocalSettings", "SlurmSettings", "describe"]

#: sbatch options gwasflow sets itself (``sbatch_args`` may not)
SBATCH_OWN_OPTIONS = ("--array", "-a", "--parsable", "--output", "-o", "--error", "-e", "--wrap", "--chdir", "-D")


class ExecutorSettings(BaseModel):
    """What every executor's settings share: frozen, no unknown keys, no silent type conversion."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class LocalSettings(ExecutorSettings):
    """Settings of the local executor."""

    max_parallel: int = Field(default=2, ge=1, description="child processes running at once (>= 1)")
    kill_grace_s: float = Field(default=5.0, ge=0, description="seconds between SIGTERM and SIGKILL on timeout "
                                "or cancel (>= 0)")


def _default_spool() -> str:
    return str(Path.home() / ".cache" / "gwasflow" / "slurm")


class SlurmSettings(ExecutorSettings):
    """Settings of the Slurm executor."""

    max_parallel: int = Field(default=2, ge=1, description="running tasks per job array (the %N throttle, >= 1)")
    partition: str | None = Field(default=None, min_length=1, description="sbatch --partition (cluster default "
                                  "if unset)")
    account: str | None = Field(default=None, min_length=1, description="sbatch --account")
    qos: str | None = Field(default=None, min_length=1, description="sbatch --qos")
    sbatch_args: list[str] = Field(default_factory=list, description="extra sbatch arguments, one list item per "
                                   "argument (never a shell string)")
    poll_min_s: float = Field(default=1.0, gt=0, description="seconds between status queries after a change (> 0)")
    poll_max_s: float = Field(default=30.0, gt=0, description="longest interval between status queries while "
                              "nothing changes")
    max_array_size: int | None = Field(default=None, ge=1, description="tasks per array at most; default: "
                                       "MaxArraySize of the cluster, or 1001")
    slurm_conf: str | None = Field(default=None, min_length=1, description="slurm.conf for the client commands "
                                   "(sets SLURM_CONF); default: theirs")
    spool_dir: str = Field(default_factory=_default_spool, min_length=1, description="folder for batch scripts, "
                           "manifests and task results; must be visible to the nodes")
    python: str = Field(default=sys.executable, min_length=1, description="Python interpreter with gwasflow "
                        "installed, on the nodes")
    kill_grace_s: float = Field(default=5.0, ge=0, description="seconds between SIGTERM and SIGKILL when a task "
                                "exceeds its time (>= 0)")
    lost_after_s: float = Field(default=120.0, gt=0, description="a handle Slurm has not shown for this long "
                                "after submission is LOST")
    command_timeout_s: float = Field(default=120.0, gt=0, description="seconds to wait for one "
                                     "sbatch/sacct/squeue/scancel call")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        own = [a for a in self.sbatch_args if a.split("=", 1)[0] in SBATCH_OWN_OPTIONS]
        if own:
            raise ValueError(f"slurm executor: sbatch_args may not set {own!r}: gwasflow sets these itself")
        if self.poll_max_s < self.poll_min_s:
            raise ValueError(f"slurm executor: poll_max_s ({self.poll_max_s}) < poll_min_s ({self.poll_min_s})")
        if self.slurm_conf is not None and not Path(self.slurm_conf).is_file():
            raise ValueError(f"slurm executor: slurm_conf {self.slurm_conf!r} is not a file")
        return self


class AwsBatchSettings(ExecutorSettings):
    """Settings of the AWS Batch executor."""

    job_queue: str = Field(default="", description="name or ARN of the Batch job queue (required)")
    region: str | None = Field(default=None, min_length=1, description="AWS region; default: the boto3 "
                               "configuration")
    image: str | None = Field(default=None, min_length=1, description="container image for submissions that name "
                              "none (e.g. a gwasflow image)")
    job_role_arn: str | None = Field(default=None, pattern=r"^arn:", description="IAM role ARN the containers run "
                                     "as (S3 access to inputs and outputs)")
    max_parallel: int = Field(default=2, ge=1, description="accepted, not enforced: the compute environment's "
                              "maxvCpus bounds Batch")
    array_min: int = Field(default=2, ge=2, description="submit as array jobs when at least this many submissions "
                           "share resources")
    poll_min_s: float = Field(default=5.0, ge=0, description="seconds between DescribeJobs rounds after a change")
    poll_max_s: float = Field(default=60.0, ge=0, description="longest interval between rounds while idle")
    tags: dict[str, str] = Field(default_factory=dict, description="tags on job definitions and jobs")
    log_group: str = Field(default="/aws/batch/job", description="CloudWatch log group of the jobs")
    job_definition_prefix: str = Field(default="gwasflow", pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$",
                                       description="prefix of job definition names (1-40 letters, digits, - or _)")
    lost_after_s: float = Field(default=600.0, ge=0, description="a handle DescribeJobs has not returned for this "
                                "long is LOST")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.job_queue:
            raise ValueError("aws_batch executor: job_queue is required (name or ARN of an existing job queue)")
        if self.poll_max_s < self.poll_min_s:
            raise ValueError(f"aws_batch executor: poll_max_s ({self.poll_max_s}) must be >= poll_min_s "
                             f"({self.poll_min_s})")
        return self


def describe(model: type[ExecutorSettings]) -> list[tuple[str, str, str, str]]:
    """(name, type, default, description) of every setting of ``model``, in declaration order."""
    rows = []
    for name, info in model.model_fields.items():
        kind = re.sub(r"\b(typing|builtins)\.", "", str(info.annotation).replace("<class '", "").replace("'>", ""))
        default: Any = info.get_default(call_default_factory=True)
        rows.append((name, kind, "(required)" if name == "job_queue" else repr(default), info.description or ""))
    return rows
