"""Export a run's plan as an AWS Step Functions state machine (Amazon States Language).

For teams that want AWS to drive a run without a long-lived gwasflow process. The machine runs the
plan's command jobs on AWS Batch with the ``.sync`` integration (Step Functions waits for each job)::

    Stage (Pass) -> Step1 (Task) -> Shards (Pass) -> Step2 (Map over shards: Task, Retry, Catch
    -> RecordFailure) -> CollectFailures (Pass) -> FinalCheck (Choice)
        -> all shards succeeded: StepsSucceeded (Succeed; the workspace is kept for the merge)
        -> a failure: DeleteWorkspace (Task, unless keep_workspace) -> RunFailed (Fail)

What it maps and how:

* Staging is a Pass state: the workspace is read in place (e.g. an FSx for Lustre file system linked
  to the S3 inputs, mounted at the same path in the Batch containers), nothing is copied.
* Every command runs as ``arn:aws:states:::batch:submitJob.sync`` with its argv as
  ``ContainerOverrides.Command`` (a list, never a shell string), vCPU and memory as resource
  overrides and the time limit as ``Timeout.AttemptDurationSeconds``. Job definitions are named as
  the ``aws_batch`` executor names them (:func:`gwasflow.executors.aws_batch.definition_name`), so
  definitions that executor registered are reused; :func:`required_job_definitions` lists them.
* Retries: a failed Batch job surfaces as ``States.TaskFailed`` whatever the cause, so Step Functions
  cannot tell an out-of-memory kill from a crash. ``States.TaskFailed`` is retried
  ``retry.max_attempts - 1`` times with the spec's back-off; Batch API errors (throttling) have their
  own Retry; interruptions (spot reclaim: status reason ``Host EC2*``) are retried by Batch itself
  through the job's ``RetryStrategy`` (``1 + retry.max_interruptions`` attempts, at most 10), which is
  where Batch exposes the reason. Memory/time escalation is not expressible and is not exported.
* A step 2 shard that still fails is caught, its failure record written (DynamoDB ``putItem`` in the
  layout of ``engine/failure_log.py`` when ``failure_table`` is given) and the Map carries on with the
  other shards; the final check fails the run if any shard failed.

Not exported: the merge and report actions, which gwasflow runs in its own process; after a
successful execution they are run with gwasflow against the kept workspace. The shard list is
embedded in the definition; Step Functions caps a definition at 1 MB and a state's payload at
256 KiB, which bounds an inline Map to a few hundred regenie shards (:data:`MAX_PAYLOAD_BYTES` is
checked here).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from gwasflow.executors.aws_batch import definition_name
from gwasflow.plan.model import Job, JobGraph, JobKind, Step
from gwasflow.spec.model import RunSpec

__all__ = ["MAX_PAYLOAD_BYTES", "export_stepfunctions", "main_export", "required_job_definitions"]

BATCH_SYNC = "arn:aws:states:::batch:submitJob.sync"
DYNAMODB_PUT = "arn:aws:states:::dynamodb:putItem"
MAX_PAYLOAD_BYTES = 256 * 1024  # Step Functions: largest input/output of one state
_BATCH_API_ERRORS = ["Batch.AWSBatchException", "Batch.TooManyRequestsException", "Batch.ServerException"]


def _image(job: Job, image: str | None) -> str:
    found = job.meta.get("image") or image
    if not found:
        raise ValueError(f"job {job.id}: no container image (engine: regenie with image, or pass image=)")
    return str(found)


def required_job_definitions(graph: JobGraph, *, job_definition_prefix: str, image: str | None = None
                             ) -> list[dict[str, Any]]:  # fmt: skip
    """The Batch job definitions the exported machine names: name, image, vCPUs, memory MiB."""
    seen: dict[str, dict[str, Any]] = {}
    for job in graph:
        if job.kind is JobKind.COMMAND:
            img, res = _image(job, image), job.resources
            name = definition_name(job_definition_prefix, img, res.cpus, res.memory_mb, None)
            seen.setdefault(name, {"name": name, "image": img, "vcpus": res.cpus, "memory_mb": res.memory_mb})
    return list(seen.values())


def _retry(spec: RunSpec) -> list[dict[str, Any]]:
    policy = spec.retry
    rules: list[dict[str, Any]] = [
        {"ErrorEquals": _BATCH_API_ERRORS, "IntervalSeconds": 5, "BackoffRate": 2.0, "MaxAttempts": 6},
    ]
    if policy.max_attempts > 1:
        rules.append({
            "ErrorEquals": ["States.TaskFailed"],
            "IntervalSeconds": max(1, round(policy.backoff_s)),
            "BackoffRate": 2.0,
            "MaxAttempts": policy.max_attempts - 1,
            "MaxDelaySeconds": max(1, round(policy.max_backoff_s)),
        })  # fmt: skip
    return rules


def _batch_task(spec: RunSpec, job: Job, *, job_queue: str, prefix: str, image: str | None,
                command: list[str] | None) -> dict[str, Any]:  # fmt: skip
    """A ``submitJob.sync`` Task for ``job``; ``command`` None means the Map item's ``$.command``."""
    res = job.resources
    name = definition_name(prefix, _image(job, image), res.cpus, res.memory_mb, None)
    overrides: dict[str, Any] = {
        "ResourceRequirements": [
            {"Type": "VCPU", "Value": str(res.cpus)},
            {"Type": "MEMORY", "Value": str(res.memory_mb)},
        ],
        "Environment": [{"Name": f"{v}_NUM_THREADS", "Value": str(res.cpus)} for v in ("OPENBLAS", "OMP", "MKL")],
    }
    if command is None:
        overrides["Command.$"] = "$.command"
    else:
        overrides["Command"] = command
    params: dict[str, Any] = {
        "JobQueue": job_queue,
        "JobDefinition": name,
        "ContainerOverrides": overrides,
        "Timeout": {"AttemptDurationSeconds": max(60, res.time_s)},
        "RetryStrategy": {
            "Attempts": min(10, 1 + spec.retry.max_interruptions),
            "EvaluateOnExit": [
                {"OnStatusReason": "Host EC2*", "Action": "RETRY"},
                {"OnReason": "*", "Action": "EXIT"},
            ],
        },
        "Tags": {"gwasflow:run": spec.name},
    }
    if command is None:
        params["JobName.$"] = "$.job_name"
    else:
        params["JobName"] = f"{spec.name}-{job.id}"[:128]
    return {"Type": "Task", "Resource": BATCH_SYNC, "Parameters": params, "Retry": _retry(spec)}


def _record_failure(spec: RunSpec, failure_table: str | None, job_id_path: str, next_state: str) -> dict[str, Any]:
    """The state that writes a failure record (DynamoDB putItem, else a Pass that keeps it in the output)."""
    if failure_table is None:
        return {"Type": "Pass", "Comment": "no failure_table: the failure stays in the execution history",
                "ResultPath": None, "Next": next_state}  # fmt: skip
    item = {
        "run_id": {"S": spec.name},
        "failure_id": {"S.$": f"States.Format('{{}}#{{}}', {job_id_path}, $$.Execution.Name)"},
        "job_id": {"S.$": job_id_path},
        "attempt": {"N": "0"},
        "error_type": {"S.$": "$.error.Error"},
        "reason": {"S.$": "$.error.Cause"},
        "log_tail": {"S": "-"},
        "resources": {"S": "{}"},
        "action": {"S": "none"},
    }
    return {
        "Type": "Task", "Resource": DYNAMODB_PUT, "Parameters": {"TableName": failure_table, "Item": item},
        "ResultPath": None, "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 3}],
        "Next": next_state,
    }  # fmt: skip


def _shard_items(spec: RunSpec, shards: list[Job]) -> list[dict[str, Any]]:
    return [{"job_id": j.id, "job_name": f"{spec.name}-{j.id}"[:128], "command": list(j.argv)} for j in shards]


def _map_state(spec: RunSpec, shards: list[Job], *, job_queue: str, prefix: str, image: str | None,
               failure_table: str | None) -> dict[str, Any]:  # fmt: skip
    task = _batch_task(spec, shards[0], job_queue=job_queue, prefix=prefix, image=image, command=None)
    task["ResultSelector"] = {"job_id.$": "$.JobId", "status.$": "$.Status"}
    task["ResultPath"] = "$.batch"
    task["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordShardFailure"}]
    task["Next"] = "ShardSucceeded"
    return {
        "Type": "Map",
        "Comment": f"{len(shards)} step 2 shards",
        "ItemsPath": "$.shards",
        "ItemSelector": {
            "job_id.$": "$$.Map.Item.Value.job_id",
            "job_name.$": "$$.Map.Item.Value.job_name",
            "command.$": "$$.Map.Item.Value.command",
        },
        "MaxConcurrency": spec.executor.max_parallel,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": "Shard",
            "States": {
                "Shard": task,
                "ShardSucceeded": {"Type": "Pass", "Parameters": {"job_id.$": "$.job_id", "ok": True}, "End": True},
                "RecordShardFailure": _record_failure(spec, failure_table, "$.job_id", "ShardFailed"),
                "ShardFailed": {"Type": "Pass", "Parameters": {"job_id.$": "$.job_id", "ok": False}, "End": True},
            },
        },
        "ResultPath": "$.step2",
        "Next": "CollectFailures",
    }


def export_stepfunctions(spec: RunSpec, graph: JobGraph, *, job_queue: str, job_definition_prefix: str,
                         failure_table: str | None, image: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The Amazon States Language definition of ``graph`` (see the module docstring for what it maps)."""
    shards = graph.by_step(Step.STEP2)
    if not shards:
        raise ValueError("the plan has no step 2 shards")
    if graph.by_step(Step.QC):
        # the machine has no QC state yet: without it step 1 would read lists nobody wrote
        raise ValueError("step1.qc: the Step Functions export does not run the QC stage yet; run QC with "
                         "gwasflow, or export without step1.qc")
    step1 = graph.by_step(Step.STEP1)
    if len(step1) > 1:  # the machine has one Step1 state: it would run the split job alone
        raise ValueError("step1.level0_jobs: the Step Functions export runs step 1 as one job; set level0_jobs: 1")
    kw: dict[str, Any] = {"job_queue": job_queue, "prefix": job_definition_prefix, "image": image}
    items = _shard_items(spec, shards)
    size = len(json.dumps(items))
    if size > MAX_PAYLOAD_BYTES // 2:
        raise ValueError(f"{len(shards)} shards take {size} bytes, over the inline Map's payload budget "
                         f"({MAX_PAYLOAD_BYTES // 2}); raise step2.variants_per_job")  # fmt: skip
    states: dict[str, Any] = {
        "Stage": {
            "Type": "Pass", "Comment": "inputs are read in place from the workspace file system",
            "Result": {"name": spec.name, "workdir": spec.workdir, "outdir": spec.outdir},
            "ResultPath": "$.run", "Next": "Step1" if step1 else "Shards",
        },
    }  # fmt: skip
    if step1:
        task = _batch_task(spec, step1[0], command=list(step1[0].argv), **kw)
        task.update(
            ResultPath=None,
            Next="Shards",
            Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordStep1Failure"}],
        )
        states["Step1"] = task
        states["RecordStep1Failure"] = _record_failure(spec, failure_table, "States.Format('step1')", "Cleanup")
    states["Shards"] = {"Type": "Pass", "Result": items, "ResultPath": "$.shards", "Next": "Step2"}
    states["Step2"] = _map_state(spec, shards, failure_table=failure_table, **kw)
    states["CollectFailures"] = {
        "Type": "Pass", "Parameters": {"failed.$": "$.step2[?(@.ok == false)].job_id"},
        "ResultPath": "$.check", "Next": "FinalCheck",
    }  # fmt: skip
    states["FinalCheck"] = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.check.failed[0]", "IsPresent": True, "Next": "Cleanup"}],
        "Default": "StepsSucceeded",
    }
    states["StepsSucceeded"] = {"Type": "Succeed", "Comment": "workspace kept: merge and report run in gwasflow"}
    states["Cleanup"] = _cleanup(spec, step1[0] if step1 else shards[0], **kw)
    states["RunFailed"] = {
        "Type": "Fail",
        "Error": "gwasflow.RunFailed",
        "Cause": "a job failed; see the failure records",
    }
    return {
        "Comment": f"gwasflow run {spec.name}: step 1, {len(shards)} step 2 shards on AWS Batch queue {job_queue}",
        "StartAt": "Stage",
        "States": states,
    }


def _cleanup(spec: RunSpec, like: Job, *, job_queue: str, prefix: str, image: str | None) -> dict[str, Any]:
    """Delete the workspace after a failure (a Batch job in the same image), or keep it if asked."""
    if spec.keep_workspace:
        return {"Type": "Pass", "Comment": "keep_workspace: true", "Next": "RunFailed"}
    task = _batch_task(spec, like, job_queue=job_queue, prefix=prefix, image=image,
                       command=["rm", "-rf", "--", spec.workdir])  # fmt: skip
    task["Parameters"]["JobName"] = f"{spec.name}-delete-workspace"[:128]
    task.update(
        ResultPath=None,
        Next="RunFailed",
        Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.cleanup_error", "Next": "RunFailed"}],
    )
    return task


def main_export(spec_path: Path, fmt: str, out: Path | None, *, job_queue: str | None = None,
                job_definition_prefix: str = "gwasflow", failure_table: str | None = None,
                image: str | None = None) -> int:  # fmt: skip
    """``gwasflow export --format stepfunctions SPEC``: write the definition to ``out`` (or stdout).

    ``job_queue``, ``image`` and ``failure_table`` default to the spec's ``executor.settings.job_queue``,
    ``executor.settings.image`` and ``failure_log: dynamodb:TABLE``. Prints the job definitions the
    machine names to stderr. Returns the exit status (2 on a bad spec or missing setting).
    """
    from gwasflow.errors import GwasflowError
    from gwasflow.plan.build import build_graph
    from gwasflow.spec import load, validate

    if fmt != "stepfunctions":
        print(f"gwasflow export: unknown format {fmt!r}; known: stepfunctions", file=sys.stderr)
        return 2
    try:
        spec = load(spec_path)
        settings = spec.executor.settings
        job_queue = job_queue or settings.get("job_queue")
        image = image or settings.get("image")
        if failure_table is None and (spec.failure_log or "").startswith("dynamodb:"):
            failure_table = str(spec.failure_log).removeprefix("dynamodb:")
        if not job_queue:
            raise ValueError("no job queue: pass one or set executor.settings.job_queue")
        graph = build_graph(spec, validate(spec))
        definition = export_stepfunctions(
            spec, graph, job_queue=str(job_queue), job_definition_prefix=job_definition_prefix,
            failure_table=failure_table, image=image,
        )  # fmt: skip
        needed = required_job_definitions(graph, job_definition_prefix=job_definition_prefix, image=image)
    except (GwasflowError, ValueError, OSError) as exc:
        print(f"gwasflow export: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(definition, indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)
    for d in needed:
        print(f"job definition {d['name']}: image {d['image']}, {d['vcpus']} vCPU, {d['memory_mb']} MiB",
              file=sys.stderr)  # fmt: skip
    return 0
