"""What the executed Step Functions tests need around moto 5.2's server (not a test module).

moto executes a state machine when ``stepfunctions.execute_state_machine`` is set (its interpreter
is a port of LocalStack's). What it runs as it is: Pass, Choice, Wait, Fail, Succeed, Retry and
Catch, intrinsic functions, the Distributed Map with an S3 ``ItemReader`` and ``ResultWriter``,
the DynamoDB ``putItem`` integration, AWS SDK integrations (``aws-sdk:fsx:*``,
``aws-sdk:dynamodb:query``) against moto's own backends, and ``batch:submitJob.sync`` (submit, then
DescribeJobs until SUCCEEDED or FAILED) against moto's Docker-less Batch.

What this module supplies, each where moto falls short of AWS:

* :func:`normalise_batch_integration`: moto's port leaves out the step that turns the state's
  ``JobName``/``JobQueue``... into the Batch API's ``jobName``/``jobQueue``... and the response back
  (``_normalise_parameters``/``_normalise_response`` are no-ops there, so every ``submitJob`` fails
  with ``States.Runtime: 'JobName'``). We wire in the two conversions moto's class already has
  (``_to_boto_request``/``_from_boto_response``), driven by botocore's Batch model, as AWS does.
* :class:`FsxShim`: moto's FSx backend has no ``Lifecycle`` and no Lustre ``MountName`` in
  ``DescribeFileSystems`` and no data
  repository association or task APIs. The shim adds them with AWS's response shapes: a file system
  is CREATING at creation and at the first describe, then AVAILABLE; an association CREATING then
  AVAILABLE, DELETING after ``DeleteDataRepositoryAssociation``, then
  ``DataRepositoryAssociationNotFound`` (described by id; by a ``file-system-id`` filter, no longer
  listed); a data repository task EXECUTING then SUCCEEDED. File system creation and deletion are
  moto's own.
* :func:`fail_jobs`: moto's Docker-less Batch marks every job SUCCEEDED; this makes the named jobs
  FAILED instead (the injected failure), every attempt.
* :func:`normalise_sdk_integration`: the same casing for the ``aws-sdk:*`` integrations (AWS takes
  their parameters in PascalCase and answers in PascalCase, ``DNSName`` as ``DnsName``; moto's port
  passes them to boto3 as they are, so ``aws-sdk:batch:*``, whose API is camelCase, fails), and the
  AWS spelling of their error names (``Batch.ClientException``, not ``batch.ClientException``).
* :class:`BatchShim`: moto deletes a job queue or a compute environment in any state; AWS refuses
  unless it is DISABLED (and, for a compute environment, in no queue). The shim refuses as AWS does,
  records the create and delete calls of queues, compute environments and launch templates in order,
  and at each job submission what the job's queue, its compute environment and the launch template
  were at that moment. moto reports a new queue or environment VALID at once and forgets a deleted one
  at once; the shim reports it CREATING at its first describe, and a deleted one once more as
  DELETED, as AWS may. Creation and deletion are moto's own.
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import pytest

__all__ = ["BatchShim", "FsxShim", "deploy", "fail_jobs", "file_systems", "history", "moto_config",
           "normalise_batch_integration", "normalise_sdk_integration", "run_execution"]


def moto_config(endpoint: str, config: dict[str, Any]) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/config", data=json.dumps(config).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def normalise_batch_integration(monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.session
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch import (
        StateTaskServiceBatch,
    )

    model = botocore.session.get_session().get_service_model("batch")
    by_lower = {name.lower(): name for name in model.operation_names}

    def operation(service: Any, action: str | None) -> Any:
        return model.operation_model(by_lower[(action or service.resource.api_action).replace("_", "").lower()])

    def parameters(self: Any, params: dict[str, Any], boto_service_name: str | None = None,
                   service_action_name: str | None = None) -> None:  # fmt: skip
        self._to_boto_request(params, operation(self, service_action_name).input_shape)

    def response(self: Any, response: Any, boto_service_name: str | None = None,
                 service_action_name: str | None = None) -> None:  # fmt: skip
        self._from_boto_response(response, operation(self, service_action_name).output_shape)

    monkeypatch.setattr(StateTaskServiceBatch, "_normalise_parameters", parameters)
    monkeypatch.setattr(StateTaskServiceBatch, "_normalise_response", response)


def normalise_sdk_integration(monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.session
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_aws_sdk as sdk

    session = botocore.session.get_session()

    def operation(service: Any, action: str | None) -> Any:
        model = session.get_service_model(service._get_boto_service_name())
        by_lower = {name.lower(): name for name in model.operation_names}
        return model.operation_model(by_lower[(action or service.resource.api_action).replace("_", "").lower()])

    def parameters(self: Any, params: dict[str, Any], boto_service_name: str | None = None,
                   service_action_name: str | None = None) -> None:  # fmt: skip
        self._to_boto_request(params, operation(self, service_action_name).input_shape)

    def response(self: Any, response: Any, boto_service_name: str | None = None,
                 service_action_name: str | None = None) -> None:  # fmt: skip
        self._from_boto_response(response, operation(self, service_action_name).output_shape)

    monkeypatch.setattr(sdk.StateTaskServiceAwsSdk, "_normalise_parameters", parameters)
    monkeypatch.setattr(sdk.StateTaskServiceAwsSdk, "_normalise_response", response)
    for name, spelled in (("batch", "Batch"), ("ec2", "Ec2"), ("fsx", "Fsx")):
        monkeypatch.setitem(sdk._SERVICE_ERROR_NAMES, name, spelled)


class BatchShim:
    """AWS's delete rules for Batch queues and compute environments, and a record (see the module docstring)."""

    def __init__(self) -> None:
        #: (call, name) in order: CreateLaunchTemplate, CreateComputeEnvironment, DeleteJobQueue, ...
        self.calls: list[tuple[str, str]] = []
        #: at each SubmitJob: job name, queue name, its state, its compute environment's name and state, the
        #: launch template the environment names, and that template's user data (decoded)
        self.submitted: list[dict[str, Any]] = []
        self._described: set[tuple[str, str]] = set()  # (kind, name) described once (CREATING), then as moto says
        self._deleted: dict[tuple[str, str], str] = {}  # (kind, name) -> ARN: the one DELETED entry still to report

    def _describe(self, found: list[dict[str, Any]], asked: list[str] | None, kind: str) -> list[dict[str, Any]]:
        """moto's answer with AWS's lifecycle: a new one CREATING at first, a deleted one DELETED once."""
        out = []
        for item in found:
            key = (kind, item[f"{kind}Name"])
            out.append(item if key in self._described else {**item, "status": "CREATING"})
            self._described.add(key)
        for (of, name), arn in list(self._deleted.items()):
            if of == kind and asked and {name, arn} & set(asked):
                out.append({f"{kind}Name": name, f"{kind}Arn": arn, "status": "DELETED", "state": "DISABLED"})
                del self._deleted[(of, name)]
        return out

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from moto.batch.exceptions import ClientException
        from moto.batch.models import BatchBackend
        from moto.batch_simple.models import BatchSimpleBackend
        from moto.ec2.models.launch_templates import LaunchTemplateBackend

        shim = self
        originals = {name: getattr(BatchBackend, name) for name in (
            "create_compute_environment", "create_job_queue", "delete_job_queue", "delete_compute_environment")}
        submit_job = BatchSimpleBackend.submit_job  # Docker-less Batch submits here
        describe = {"envs": BatchBackend.describe_compute_environments, "queues": BatchBackend.describe_job_queues}
        lt_create = LaunchTemplateBackend.create_launch_template
        lt_delete = LaunchTemplateBackend.delete_launch_template

        def create_env(backend: Any, *args: Any, **kwargs: Any) -> Any:
            shim.calls.append(("CreateComputeEnvironment", kwargs.get("compute_environment_name", args[:1])))
            return originals["create_compute_environment"](backend, *args, **kwargs)

        def create_queue(backend: Any, *args: Any, **kwargs: Any) -> Any:
            shim.calls.append(("CreateJobQueue", kwargs.get("queue_name", args[:1])))
            return originals["create_job_queue"](backend, *args, **kwargs)

        def delete_queue(backend: Any, name: str) -> None:
            queue = backend.get_job_queue(name)
            if queue is not None and queue.state != "DISABLED":
                raise ClientException(f"Job queue {queue.name} must be DISABLED before it is deleted")
            shim.calls.append(("DeleteJobQueue", queue.name if queue else name))
            if queue is not None:
                shim._deleted[("jobQueue", queue.name)] = queue.arn
            originals["delete_job_queue"](backend, name)

        def delete_env(backend: Any, name: str) -> None:
            env = backend.get_compute_environment(name)
            if env is not None and env.state != "DISABLED":
                raise ClientException(f"Compute environment {env.name} must be DISABLED before it is deleted")
            if env is not None and any(env in q.environments for q in backend._job_queues.values()):
                raise ClientException(f"Compute environment {env.name} is still in a job queue")
            shim.calls.append(("DeleteComputeEnvironment", env.name if env else name))
            if env is not None:
                shim._deleted[("computeEnvironment", env.name)] = env.arn
            originals["delete_compute_environment"](backend, name)

        def describe_envs(backend: Any, environments: list[str] | None = None) -> list[dict[str, Any]]:
            return shim._describe(describe["envs"](backend, environments), environments, "computeEnvironment")

        def describe_queues(backend: Any, job_queues: list[str] | None = None) -> list[dict[str, Any]]:
            return shim._describe(describe["queues"](backend, job_queues), job_queues, "jobQueue")

        def submit(backend: Any, job_name: str, job_def_id: str, job_queue: str, *args: Any, **kwargs: Any) -> Any:
            found = shim._snapshot(backend, job_name, job_queue)
            found["command"] = (kwargs.get("container_overrides") or {}).get("command")
            shim.submitted.append(found)
            return submit_job(backend, job_name, job_def_id, job_queue, *args, **kwargs)

        def create_template(backend: Any, name: str, *args: Any, **kwargs: Any) -> Any:
            shim.calls.append(("CreateLaunchTemplate", name))
            return lt_create(backend, name, *args, **kwargs)

        def delete_template(backend: Any, name: str, tid: str | None) -> Any:
            template = lt_delete(backend, name, tid)
            shim.calls.append(("DeleteLaunchTemplate", template.name))
            return template

        for name, func in (("create_compute_environment", create_env), ("create_job_queue", create_queue),
                           ("delete_job_queue", delete_queue), ("delete_compute_environment", delete_env),
                           ("describe_compute_environments", describe_envs), ("describe_job_queues", describe_queues)):
            monkeypatch.setattr(BatchBackend, name, func)
        monkeypatch.setattr(BatchSimpleBackend, "submit_job", submit)
        monkeypatch.setattr(LaunchTemplateBackend, "create_launch_template", create_template)
        monkeypatch.setattr(LaunchTemplateBackend, "delete_launch_template", delete_template)

    @staticmethod
    def _snapshot(backend: Any, job_name: str, job_queue: str) -> dict[str, Any]:
        import base64

        queue = backend.get_job_queue(job_queue)
        found: dict[str, Any] = {"job": job_name, "queue": queue.name if queue else None}
        if queue is None:
            return found
        env = queue.environments[0]
        template_id = env.compute_resources.get("launchTemplate", {}).get("launchTemplateId")
        template = backend.ec2_backend.launch_templates.get(template_id)
        data = template.latest_version().data if template else {}
        found.update(queue_state=queue.state, environment=env.name, environment_state=env.state,
                     environment_type=env.compute_resources.get("type"), template=template.name if template else None,
                     user_data=base64.b64decode(str(data.get("UserData", ""))).decode())  # fmt: skip
        return found


def fail_jobs(monkeypatch: pytest.MonkeyPatch, failing: Callable[[str], bool]) -> list[str]:
    """Batch jobs whose name ``failing`` accepts end FAILED; returns the names of every finished job."""
    from moto.batch_simple.models import BatchSimpleBackend

    original = BatchSimpleBackend._mark_job_as_finished
    finished: list[str] = []

    def mark(self: Any, include_start_attempt: bool, job: Any) -> None:
        original(self, include_start_attempt, job)
        finished.append(job.job_name)
        if failing(job.job_name):
            job.job_stopped = False
            job._mark_stopped(success=False)

    monkeypatch.setattr(BatchSimpleBackend, "_mark_job_as_finished", mark)
    return finished


class FsxShim:
    """The FSx pieces moto lacks (see the module docstring); ``calls`` lists every shimmed call."""

    def __init__(self) -> None:
        #: a file system's Lifecycle at creation, then at each describe (the last one repeats)
        self.fs_lifecycle = ["CREATING", "CREATING", "AVAILABLE"]
        self.calls: list[tuple[str, str]] = []
        self.seen: dict[str, int] = {}
        self.associations: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, Any]] = {}

    def _step(self, key: str, states: list[str]) -> str:
        n = self.seen.get(key, 0)
        self.seen[key] = n + 1
        return states[min(n, len(states) - 1)]

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from moto.core.exceptions import JsonRESTError
        from moto.fsx.models import FileSystem
        from moto.fsx.responses import FSxResponse

        shim, to_dict = self, FileSystem.to_dict

        def fs_dict(fs: Any) -> dict[str, Any]:
            found = to_dict(fs)
            lustre = {**found.get("LustreConfiguration", {}), "MountName": fs.file_system_id[-8:]}
            return {**found, "LustreConfiguration": lustre,
                    "Lifecycle": shim._step(fs.file_system_id, shim.fs_lifecycle)}  # fmt: skip

        def create_association(resp: Any) -> str:
            params = json.loads(resp.body)
            assoc = {"AssociationId": f"dra-{uuid.uuid4().hex[:17]}", "FileSystemId": params["FileSystemId"],
                     "FileSystemPath": params["FileSystemPath"], "DataRepositoryPath": params["DataRepositoryPath"],
                     "BatchImportMetaDataOnCreate": params.get("BatchImportMetaDataOnCreate", False)}  # fmt: skip
            shim.associations[assoc["AssociationId"]] = assoc
            shim.calls.append(("CreateDataRepositoryAssociation", assoc["AssociationId"]))
            return json.dumps({"Association": {**assoc, "Lifecycle": "CREATING"}})

        def describe_associations(resp: Any) -> str:
            asked = json.loads(resp.body)
            ids = asked.get("AssociationIds")
            if ids is None:  # Filters: [{"Name": "file-system-id", "Values": [...]}], AWS's one filter we use
                wanted = {v for f in asked.get("Filters", []) if f["Name"] == "file-system-id" for v in f["Values"]}
                ids = [i for i, a in shim.associations.items() if a["FileSystemId"] in wanted]
            found = []
            for assoc_id in ids:
                assoc = shim.associations.get(assoc_id)
                if assoc is None:
                    raise JsonRESTError("DataRepositoryAssociationNotFound", f"No association {assoc_id}")
                if assoc.get("deleting"):
                    if shim._step(assoc_id + "/delete", ["DELETING", "GONE"]) == "GONE":
                        del shim.associations[assoc_id]
                        if "AssociationIds" not in asked:  # a filter lists what exists, and this is gone
                            continue
                        raise JsonRESTError("DataRepositoryAssociationNotFound", f"No association {assoc_id}")
                    found.append({**assoc, "Lifecycle": "DELETING"})
                else:
                    found.append({**assoc, "Lifecycle": shim._step(assoc_id, ["CREATING", "AVAILABLE"])})
            return json.dumps({"Associations": [{k: v for k, v in a.items() if k != "deleting"} for a in found]})

        def delete_association(resp: Any) -> str:
            assoc_id = json.loads(resp.body)["AssociationId"]
            shim.associations[assoc_id]["deleting"] = True
            shim.calls.append(("DeleteDataRepositoryAssociation", assoc_id))
            return json.dumps({"AssociationId": assoc_id, "Lifecycle": "DELETING", "DeleteDataInFileSystem": False})

        def create_task(resp: Any) -> str:
            params = json.loads(resp.body)
            task = {"TaskId": f"task-{uuid.uuid4().hex[:17]}", "Type": params["Type"],
                    "FileSystemId": params["FileSystemId"], "Paths": params.get("Paths", [])}  # fmt: skip
            shim.tasks[task["TaskId"]] = task
            shim.calls.append(("CreateDataRepositoryTask", json.dumps(task["Paths"])))
            return json.dumps({"DataRepositoryTask": {**task, "Lifecycle": "PENDING"}})

        def describe_tasks(resp: Any) -> str:
            ids = json.loads(resp.body).get("TaskIds", [])
            return json.dumps({"DataRepositoryTasks": [
                {**shim.tasks[i], "Lifecycle": shim._step(i, ["EXECUTING", "SUCCEEDED"])} for i in ids]})

        monkeypatch.setattr(FileSystem, "to_dict", fs_dict)
        for name, func in (("create_data_repository_association", create_association),
                           ("describe_data_repository_associations", describe_associations),
                           ("delete_data_repository_association", delete_association),
                           ("create_data_repository_task", create_task),
                           ("describe_data_repository_tasks", describe_tasks)):  # fmt: skip
            monkeypatch.setattr(FSxResponse, name, func, raising=False)


def history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def run_execution(sfn: Any, machine_arn: str, payload: dict[str, Any], *, name: str,
                  timeout_s: float = 180.0) -> tuple[dict[str, Any], list[dict[str, Any]]]:  # fmt: skip
    """Start an execution, wait until it ends; (DescribeExecution, its history events)."""
    arn = sfn.start_execution(stateMachineArn=machine_arn, name=name, input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + timeout_s
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        if time.monotonic() > deadline:
            raise AssertionError(f"execution {name} still RUNNING after {timeout_s} s")
        time.sleep(0.2)
    return described, history(sfn, arn)


def entered(events: Iterable[dict[str, Any]]) -> list[str]:
    """Names of the states entered, in order (top level: a Map's items run in child executions)."""
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def deploy(aws: dict[str, Any], settings: dict[str, Any] | None = None, **spec_fields: Any) -> tuple[Any, str]:
    """Export the small plan, publish its manifest, register its job definitions, create the machine:
    (the export, the machine's ARN). ``aws`` is the ``aws`` fixture (``conftest.py``)."""
    import boto3

    from gwasflow.export.sfn.manifest import S3Location, publish_manifest
    from tests.export import sfn_fixtures as fx

    fsx = {**fx.FSX, "subnet_ids": [aws["subnet"]], "security_group_ids": [aws["group"]]}
    run = fx.spec(workspace={"kind": "fsx", "fsx": fsx}, **spec_fields)
    export = fx.export(run, failure_table=aws["table"], manifest_uri=f"s3://{aws['bucket']}/biobank/manifest",
                       **{"instance_profile": aws["profile"], "service_role": aws["service_role"], **(settings or {})})
    publish_manifest(export.manifest, S3Location.parse(f"s3://{aws['bucket']}/biobank/manifest"), boto3.client("s3"))
    batch = boto3.client("batch")
    for d in export.job_definitions.needed:
        batch.register_job_definition(jobDefinitionName=d["name"], type="container", containerProperties={
            "image": d["image"], "vcpus": d["vcpus"], "memory": d["memory_mb"], "command": ["true"]})  # fmt: skip
    sfn = boto3.client("stepfunctions")
    arn = sfn.create_state_machine(name=f"gwasflow-{uuid.uuid4().hex[:8]}", roleArn=aws["role"],
                                   definition=json.dumps(export.definition))["stateMachineArn"]  # fmt: skip
    return export, arn


def file_systems() -> list[dict[str, Any]]:
    import boto3

    return list(boto3.client("fsx").describe_file_systems()["FileSystems"])
