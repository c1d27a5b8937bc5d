"""The whole run as one Step Functions state machine (Amazon States Language).

::

    Configure, Config          execution input merged over the export's defaults -> $.config
    CheckName, NameUsable      the execution name names Batch resources: letters, digits, -, _ (names.py)
    CheckInput, ChooseVersion  skip_step1 needs predictions; regenie_version -> its job definitions
    CreateFileSystem ... AssociationReady            (fsx.py: FSx for Lustre + S3 association)
    MountCommand ... JobQueueReady                    (compute.py: a launch template that mounts it, a
                                                       compute environment and a job queue of this run)
    Step1OrSkip -> QC -> Step1                        (Batch .sync; with skip_step1: UsePredictions,
                                                       the given list copied where step 2 reads it)
    Step2                      Distributed Map over shards.json in S3 (ItemReader), MaxConcurrency
                               from executor.max_parallel, ToleratedFailurePercentage 0; per item:
                               dataset selected? -> Shard (Batch .sync, Retry) -> Catch: failure
                               record (DynamoDB putItem) -> the item ends "failed", the Map goes on
    CountFailures, FailuresPending    the final check, part 1: no failure record for this execution
    CheckOutputs               the final check, part 2: every selected shard's outputs exist
    Merge, Report              gwasflow in its container (python -m gwasflow.export.sfn.finish)
    ExportResults ...          outdir (and workdir with keep_workspace) exported to S3
    Cleanup ... Finish         queue, compute environment, launch template, association and file
                               system deleted on every path -> Succeed | Fail

Execution input (every key optional; defaults from the spec)::

    {"regenie_version": "4.1.2", "datasets": ["a", "b"], "skip_step1": false,
     "predictions": "/fsx/data/earlier/step1_pred.list", "poll_seconds": 15, "max_polls": 120,
     "max_vcpus": 256, "compute": {"type": "SPOT", "allocation": "SPOT_PRICE_CAPACITY_OPTIMIZED"}}

``compute`` (default ``{"type": "EC2", "allocation": "BEST_FIT_PROGRESSIVE"}``) is the run's compute
environment's instance kind and allocation strategy; ``max_vcpus`` (default: ``executor.max_parallel``
step 2 shards' vCPUs, or the largest job's if more) caps it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from gwasflow.core.states import Step
from gwasflow.export.sfn import compute
from gwasflow.export.sfn.asl import State, api_retry, fail_outcome, intrinsic_str, sdk
from gwasflow.export.sfn.batch import batch_task, failure_record
from gwasflow.export.sfn.cleanup import cleanup_definition
from gwasflow.export.sfn.fsx import LOOPS as FSX_LOOPS
from gwasflow.export.sfn.fsx import FsxLayout, cleanup_states, create_states, export_states
from gwasflow.export.sfn.jobdefs import FINISH_RESOURCES, JobDefinitions, job_definitions
from gwasflow.export.sfn.limits import Sizes, check_limits
from gwasflow.export.sfn.manifest import Manifest, S3Location, build_manifest
from gwasflow.export.sfn.names import check_states as name_check_states
from gwasflow.plan.model import Job, JobGraph, JobKind
from gwasflow.spec.model import RunSpec

__all__ = ["Export", "SfnSettings", "export_stepfunctions"]

_LOOPS = (*FSX_LOOPS, *compute.LOOPS)
_QUEUE = "$.queue.arn"  # the run's own job queue (compute.py)
FINISH_MODULE = "gwasflow.export.sfn.finish"


@dataclass(frozen=True)
class SfnSettings:
    """What the export needs beyond the spec."""

    failure_table: str  # DynamoDB table of failure records (run_id, failure_id keys, as failure_log.py)
    manifest_uri: str  # s3://bucket/prefix for shards.json, plan.json, manifest.json and the Map's results
    image: str | None = None  # the gwasflow image (QC, check, merge, report; both steps with the built-in engine)
    data_repository: str | None = None  # s3:// prefix linked to the file system (default: workspace.fsx's)
    job_definition_prefix: str = "gwasflow"
    regenie_versions: tuple[str, ...] = ()  # more versions the execution input may choose
    python: str = "python3"  # the interpreter in the gwasflow image
    # ARNs of the hosts' instance profile and of Batch's service role; the defaults are placeholders that the
    # CloudFormation template substitutes with its InstanceProfile and BatchServiceRole (cloudformation.py)
    instance_profile: str = "${InstanceProfileArn}"
    service_role: str = "${BatchServiceRoleArn}"


@dataclass(frozen=True)
class Export:
    definition: dict[str, Any]
    manifest: Manifest
    job_definitions: JobDefinitions
    sizes: Sizes
    cleanup: dict[str, Any]  # the cleanup machine (cleanup.py): what a stopped execution left, deleted


@dataclass(frozen=True)
class _Ctx:
    spec: RunSpec
    graph: JobGraph
    settings: SfnSettings
    defs: JobDefinitions
    where: S3Location
    layout: FsxLayout
    pred: str


def _layout(spec: RunSpec, settings: SfnSettings) -> FsxLayout:
    fsx = spec.workspace.fsx
    if spec.workspace.kind != "fsx" or fsx is None:
        raise ValueError("workspace: the Step Functions export runs on a transient FSx for Lustre; set "
                         "workspace: {kind: fsx, fsx: {subnet_ids: [...], data_repository: s3://...}}")  # fmt: skip
    repository = settings.data_repository or fsx.data_repository
    if not repository or not repository.startswith("s3://"):
        raise ValueError("workspace.fsx.data_repository: the s3:// prefix to link to the file system is needed")
    if not fsx.security_group_ids:
        raise ValueError("workspace.fsx.security_group_ids: the run's Batch hosts and its file system need a "
                         "security group that lets them talk Lustre (TCP 988 and 1018-1023 within the group)")
    return FsxLayout(fsx, repository, spec.name)


def _compute(ctx: _Ctx) -> compute.Compute:
    fsx = ctx.layout.fsx
    return compute.Compute(
        prefix=ctx.settings.job_definition_prefix, instance_profile=ctx.settings.instance_profile,
        service_role=ctx.settings.service_role, subnet_ids=tuple(fsx.subnet_ids),
        security_group_ids=tuple(fsx.security_group_ids), mount_path=fsx.mount_path, run_name=ctx.spec.name,
    )  # fmt: skip


def _max_vcpus(spec: RunSpec, graph: JobGraph) -> int:
    """The most vCPUs the run uses at once: ``executor.max_parallel`` step 2 shards (the Map's
    MaxConcurrency), or the largest single job (QC, step 1, the finishing jobs run alone)."""
    largest = max([FINISH_RESOURCES.cpus, *(job.resources.cpus for job in graph)])
    shard = max(job.resources.cpus for job in graph.by_step(Step.STEP2))
    return max(largest, max(1, spec.executor.max_parallel) * shard)


def _check_paths(spec: RunSpec, graph: JobGraph, layout: FsxLayout) -> None:
    """Every path a job reads or writes is on the file system; the outdir is in the S3-linked folder."""
    mount = layout.fsx.mount_path.rstrip("/") + "/"
    linked = layout.linked_folder + "/"
    if not (spec.outdir.rstrip("/") + "/").startswith(linked):
        raise ValueError(f"outdir: {spec.outdir} is not under {layout.linked_folder}, so it would not be "
                         f"exported to {layout.repository}")  # fmt: skip
    for job in graph:
        for path in (*job.inputs, *job.outputs):
            if not path.startswith(mount):
                raise ValueError(f"job {job.id}: {path} is not on the FSx file system (mounted at "
                                 f"{layout.fsx.mount_path}); put inputs under {layout.repository}")  # fmt: skip


def _polls(layout: FsxLayout) -> tuple[int, int]:
    """``poll_seconds`` and ``max_polls`` from ``workspace.fsx`` (``poll_interval_s``, ``timeout_s``)."""
    poll = max(1, round(layout.fsx.poll_interval_s))
    return poll, max(1, math.ceil(layout.fsx.timeout_s / poll))


def _configure(ctx: _Ctx, *, has_step1: bool) -> dict[str, State]:
    poll, max_polls = _polls(ctx.layout)
    defaults = {
        "regenie_version": ctx.defs.default_version, "datasets": ctx.spec.dataset_labels(),
        "skip_step1": not has_step1, "predictions": ctx.pred,
        "poll_seconds": poll, "max_polls": max_polls,
        "max_vcpus": _max_vcpus(ctx.spec, ctx.graph),
        "compute": {"type": "EC2", "allocation": "BEST_FIT_PROGRESSIVE"},
    }  # fmt: skip
    states: dict[str, State] = {
        "Configure": {"Type": "Pass", "Parameters": {"defaults": defaults, "input.$": "$"}, "Next": "Config"},
        "Config": {
            "Type": "Pass",
            "Parameters": {"config.$": "States.JsonMerge($.defaults, $.input, false)", "run_id.$": "$$.Execution.Name",
                           "names": {"compute.$": compute.name_parameter(ctx.settings.job_definition_prefix)},
                           "polls": {name: {"n": 0} for name in _LOOPS}},
            "Next": "CheckName",
        },
        **name_check_states(then="CheckInput"),
    }  # fmt: skip
    if not has_step1:  # the spec skips step 1: its commands read spec.step1.predictions, nothing else
        other = {"Not": {"Variable": "$.config.predictions", "StringEquals": ctx.pred}, "Next": "BadInput"}
        states["CheckInput"] = {"Type": "Choice", "Choices": [other], "Default": "ChooseVersion"}
        states["BadInput"] = {"Type": "Fail", "Error": "gwasflow.BadInput",
                              "Cause": f"predictions: this export reads {ctx.pred} (step1.predictions); export again"}
    else:
        no_pred = [{"Variable": "$.config.skip_step1", "BooleanEquals": True},
                   {"Variable": "$.config.predictions", "StringEquals": ctx.pred}]  # fmt: skip
        states["CheckInput"] = {"Type": "Choice", "Choices": [{"And": no_pred, "Next": "BadInput"}],
                                "Default": "ChooseVersion"}  # fmt: skip
        states["BadInput"] = {"Type": "Fail", "Error": "gwasflow.BadInput",
                              "Cause": "skip_step1: true needs predictions (an earlier step 1 _pred.list)"}
    states |= _choose_version(ctx.defs)
    return states


def _choose_version(defs: JobDefinitions) -> dict[str, State]:
    choices, states = [], {}
    for version, names in defs.by_version.items():
        state = "Use_" + re.sub(r"[^A-Za-z0-9]", "_", version)
        choices.append({"Variable": "$.config.regenie_version", "StringEquals": version, "Next": state})
        states[state] = {"Type": "Pass", "Result": names, "ResultPath": "$.jobdefs", "Next": "CreateFileSystem"}
    known = ", ".join(defs.by_version)
    return {
        "ChooseVersion": {"Type": "Choice", "Choices": choices, "Default": "UnknownVersion"},
        "UnknownVersion": {"Type": "Fail", "Error": "gwasflow.BadInput", "Cause": f"regenie_version: known: {known}"},
        **states,
    }


def _job(ctx: _Ctx, name: str, job: Job, *, definition: str, next_state: str,
         command: list[str] | str | None = None) -> dict[str, State]:  # fmt: skip
    """A one-job Batch state ``name``; a failure is recorded, then the run goes to the cleanup."""
    argv = list(job.argv) if command is None else command
    task = batch_task(ctx.spec, queue=_QUEUE, definition=definition, command=argv,
                      job_name=f"{ctx.spec.name}-{job.id}"[:128], resources=job.resources)
    task.update(ResultPath=None, Next=next_state,
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.outcome", "Next": f"Record{name}Failure"}])
    record = failure_record(ctx.spec, table=ctx.settings.failure_table, job_id=job.id, error="$.outcome",
                            resources=job.resources, next_state="Cleanup")  # fmt: skip
    return {name: task, f"Record{name}Failure": record}


def _step1_states(ctx: _Ctx) -> dict[str, State]:
    step1 = ctx.graph.by_step(Step.STEP1)[0]
    qc = ctx.graph.by_step(Step.QC)
    skip = {"Variable": "$.config.skip_step1", "BooleanEquals": True, "Next": "UsePredictions"}
    first = "QC" if qc else "Step1"
    states: dict[str, State] = {"Step1OrSkip": {"Type": "Choice", "Default": first, "Choices": [skip]}}
    copy = [ctx.settings.python, "-m", FINISH_MODULE, "predictions", "--from"]
    command = ("States.Array(" + ", ".join(intrinsic_str(a) for a in copy) + ", $.config.predictions, "
               + intrinsic_str("--to") + ", " + intrinsic_str(ctx.pred) + ")")  # fmt: skip
    job = Job(id="use-predictions", step=Step.STEP1, kind=JobKind.INTERNAL, resources=FINISH_RESOURCES)
    states |= _job(ctx, "UsePredictions", job, definition=ctx.defs.finish, next_state="Step2", command=command)
    if qc:
        assert ctx.defs.qc is not None  # job_definitions names one whenever the plan has a qc job
        states |= _job(ctx, "QC", qc[0], definition=ctx.defs.qc, next_state="Step1")
    states |= _job(ctx, "Step1", step1, definition="$.jobdefs.step1", next_state="Step2")
    return states


def _shard_processor(ctx: _Ctx, like: Job) -> State:
    task = batch_task(ctx.spec, queue="$.queue", definition="$.jobdef", job_name="$.item.job_name",
                      command="$.item.command", resources=like.resources)  # fmt: skip
    task.update(ResultPath=None, Next="ShardSucceeded",
                Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordShardFailure"}])
    done = {"job_id.$": "$.item.job_id"}
    return {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Selected",
        "States": {
            "Selected": {"Type": "Pass", "Parameters": {"yes.$": "States.ArrayContains($.datasets, $.item.dataset)"},
                         "ResultPath": "$.selected", "Next": "IsSelected"},
            "IsSelected": {"Type": "Choice", "Default": "Skipped",
                           "Choices": [{"Variable": "$.selected.yes", "BooleanEquals": True, "Next": "Shard"}]},
            "Skipped": {"Type": "Pass", "Parameters": {**done, "status": "skipped"}, "End": True},
            "Shard": task,
            "ShardSucceeded": {"Type": "Pass", "Parameters": {**done, "status": "succeeded"}, "End": True},
            "RecordShardFailure": failure_record(ctx.spec, table=ctx.settings.failure_table, job_id="$.item.job_id",
                                                 error="$.error", resources=like.resources, next_state="ShardFailed"),
            "ShardFailed": {"Type": "Pass", "Parameters": {**done, "status": "failed"}, "End": True},
        },
    }  # fmt: skip


def _step2_map(ctx: _Ctx) -> State:
    shards = ctx.graph.by_step(Step.STEP2)
    return {
        "Type": "Map",
        "Comment": f"{len(shards)} step 2 shards, listed in {ctx.where.uri('shards.json')}",
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
                       "Parameters": {"Bucket": ctx.where.bucket, "Key": ctx.where.key("shards.json")}},
        "ItemSelector": {"item.$": "$$.Map.Item.Value", "run_id.$": "$.run_id", "datasets.$": "$.config.datasets",
                         "jobdef.$": "$.jobdefs.step2", "queue.$": _QUEUE},
        "ItemProcessor": _shard_processor(ctx, shards[0]),
        "MaxConcurrency": ctx.spec.executor.max_parallel,
        "ToleratedFailurePercentage": 0.0,  # written 0.0: some ASL parsers read a bare 0 as an integer token
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                         "Parameters": {"Bucket": ctx.where.bucket, "Prefix": ctx.where.key("results")}},
        "ResultPath": "$.step2",
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.outcome", "Next": "Cleanup"}],
        "Next": "CountFailures",
    }  # fmt: skip


def _finish_command(ctx: _Ctx, action: str) -> str:
    args = [ctx.settings.python, "-m", FINISH_MODULE, action, "--plan", ctx.where.uri("plan.json"), "--datasets"]
    return ("States.Array(" + ", ".join(intrinsic_str(a) for a in args) + ", States.JsonToString($.config.datasets), "
            "'--skip-step1', States.JsonToString($.config.skip_step1))")  # fmt: skip


def _final_states(ctx: _Ctx) -> dict[str, State]:
    table = ctx.settings.failure_table
    count = {
        "Type": "Task", "Resource": sdk("dynamodb", "query"),
        "Parameters": {"TableName": table, "KeyConditionExpression": "run_id = :r", "Select": "COUNT",
                       "ConsistentRead": True, "ExpressionAttributeValues": {":r": {"S.$": "$.run_id"}}},
        "ResultSelector": {"count.$": "$.Count"}, "ResultPath": "$.failures", "Retry": api_retry(),
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.outcome", "Next": "Cleanup"}],
        "Next": "FailuresPending",
    }  # fmt: skip
    states: dict[str, State] = {
        "CountFailures": count,
        "FailuresPending": {"Type": "Choice", "Default": "CheckOutputs", "Choices": [
            {"Variable": "$.failures.count", "NumericGreaterThan": 0, "Next": "ShardsFailed"}]},
        "ShardsFailed": fail_outcome("gwasflow.ShardsFailed", f"step 2 shards failed: see the failure records in "
                                     f"DynamoDB table {table} (run_id = this execution's name)", "Cleanup"),
    }  # fmt: skip
    finish = ctx.defs.finish
    for name, action, after in (("CheckOutputs", "check", "Merge"), ("Merge", "merge", "Report"),
                                ("Report", "report", "ExportResults")):  # fmt: skip
        job = Job(id=action, step=Step.MERGE, kind=JobKind.INTERNAL, resources=FINISH_RESOURCES)
        states |= _job(ctx, name, job, definition=finish, next_state=after, command=_finish_command(ctx, action))
    return states


def _check_shape(spec: RunSpec, graph: JobGraph) -> None:
    """Refuse plans whose jobs the machine has no state for (it would run step 2 on lists nobody wrote)."""
    if not graph.by_step(Step.STEP2):
        raise ValueError("the plan has no step 2 shards")
    dataset_qc = [i for i, d in enumerate(spec.datasets) if d.qc is not None]
    if dataset_qc:
        raise ValueError(f"datasets[{dataset_qc[0]}].qc: the Step Functions export has no per-dataset QC state "
                         "yet; run that QC first (gwasflow qc) and give its list as variants.extract")
    if len(graph.by_step(Step.STEP1)) > 1 or len(graph.by_step(Step.QC)) > 1:
        raise ValueError("step1.level0_jobs: the Step Functions export runs step 1 as one job; "
                         "leave level0_jobs unset (or 1) for this export")


def export_stepfunctions(spec: RunSpec, graph: JobGraph, settings: SfnSettings) -> Export:
    """The state machine of ``graph`` and the manifest it reads (see the module docstring)."""
    _check_shape(spec, graph)
    layout = _layout(spec, settings)
    _check_paths(spec, graph, layout)
    step1 = graph.by_step(Step.STEP1)
    pred = step1[0].outputs[0] if step1 else str(spec.step1.predictions)
    defs = job_definitions(spec, graph, prefix=settings.job_definition_prefix, image=settings.image,
                           versions=settings.regenie_versions)  # fmt: skip
    ctx = _Ctx(spec, graph, settings, defs, S3Location.parse(settings.manifest_uri), layout, pred)
    states = _configure(ctx, has_step1=bool(step1))
    states |= create_states(layout, then="MountCommand")
    states |= compute.create_states(_compute(ctx), then="Step1OrSkip" if step1 else "Step2")
    if step1:
        states |= _step1_states(ctx)
    states["Step2"] = _step2_map(ctx)
    states |= _final_states(ctx)
    states |= export_states(layout, [spec.outdir, *([spec.workdir] if spec.keep_workspace else [])])
    states |= compute.cleanup_states(then="CleanupFileSystem")
    states |= cleanup_states()
    manifest = build_manifest(spec, graph)
    n = manifest.summary["jobs"]
    definition = {
        "Comment": f"gwasflow run {spec.name}: {n.get('step2', 0)} step 2 shards on the run's own AWS Batch "
                   f"queue, manifest {ctx.where.uri('manifest.json')}",
        "StartAt": "Configure",
        "States": states,
    }  # fmt: skip
    sizes = check_limits(definition, manifest.shards)
    poll, max_polls = _polls(layout)
    cleanup = cleanup_definition(prefix=settings.job_definition_prefix, poll_seconds=poll, max_polls=max_polls)
    return Export(definition, manifest, defs, sizes, cleanup)
