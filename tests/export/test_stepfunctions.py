"""The Step Functions export: structure of the definition, and the definition accepted by moto's Step Functions.

moto stores a state machine without validating its Amazon States Language (it accepts any text), so the
structure is checked here: states present and reachable, every ``Next`` defined, the Map over every shard,
Retry/Catch on every Batch task.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gwasflow.executors.aws_batch import definition_name
from gwasflow.export.stepfunctions import (
    BATCH_SYNC,
    DYNAMODB_PUT,
    export_stepfunctions,
    main_export,
    required_job_definitions,
)
from gwasflow.plan.build import build_graph
from gwasflow.plan.meta import DatasetMeta
from gwasflow.plan.model import JobGraph, Step
from gwasflow.spec.model import RunSpec

IMAGE = "ghcr.io/rgcgithub/regenie/regenie"


def _spec(**fields: Any) -> RunSpec:
    data: dict[str, Any] = {
        "name": "biobank",
        "datasets": [{"bed": "/fsx/in/chr", "label": "a"}],
        "phenotypes": {"file": "/fsx/in/p.txt", "columns": ["Y1", "Y2"]},
        "step2": {"variants_per_job": 2, "phenotypes_per_job": 2},
        "engine": {"kind": "regenie", "image": IMAGE, "version": "4.1.2"},
        "executor": {"kind": "local", "max_parallel": 50},
        "retry": {"max_attempts": 4, "max_interruptions": 3, "backoff_s": 10},
        "workdir": "/fsx/work",
        "outdir": "/fsx/out",
    }
    data.update(fields)
    return RunSpec.model_validate(data)


def _graph(spec: RunSpec) -> JobGraph:
    chrom = np.array(["1"] * 5 + ["2"] * 4, dtype=np.str_)
    pos = np.array([1, 2, 3, 4, 5, 1, 2, 3, 4], dtype=np.int64)
    return build_graph(spec, [DatasetMeta("a", "/fsx/in/chr", 100, len(pos), chrom, pos)])


def _export(spec: RunSpec | None = None, failure_table: str | None = "gwas-failures") -> dict[str, Any]:
    spec = spec or _spec()
    return export_stepfunctions(
        spec, _graph(spec), job_queue="gwas-spot", job_definition_prefix="gwasflow", failure_table=failure_table
    )


def _all_states(states: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], str, dict[str, Any]]]:
    """(the States block it is in, name, state) for every state, Map processors included."""
    for name, state in states.items():
        yield states, name, state
        if state["Type"] == "Map":
            yield from _all_states(state["ItemProcessor"]["States"])


def test_export_stepfunctions__states_of_the_plan() -> None:
    definition = _export()
    states = definition["States"]
    assert definition["StartAt"] == "Stage"
    assert set(states) >= {"Stage", "Step1", "Shards", "Step2", "CollectFailures", "FinalCheck", "Cleanup",
                           "RunFailed", "StepsSucceeded"}  # fmt: skip
    assert states["Stage"]["Type"] == "Pass" and states["Stage"]["Next"] == "Step1"
    step1 = states["Step1"]
    assert step1["Type"] == "Task" and step1["Resource"] == BATCH_SYNC
    job = _graph(_spec()).by_step(Step.STEP1)[0]
    assert step1["Parameters"]["ContainerOverrides"]["Command"] == list(job.argv)
    assert step1["Parameters"]["JobDefinition"] == definition_name("gwasflow", f"{IMAGE}:v4.1.2", 1, 2048, None)
    assert states["FinalCheck"]["Type"] == "Choice" and states["RunFailed"]["Type"] == "Fail"
    assert states["Cleanup"]["Parameters"]["ContainerOverrides"]["Command"] == ["rm", "-rf", "--", "/fsx/work"]


def test_export_stepfunctions__map_over_every_shard_with_its_command() -> None:
    spec = _spec()
    shards = _graph(spec).by_step(Step.STEP2)
    states = _export(spec)["States"]
    items = states["Shards"]["Result"]
    assert len(shards) == 5 and len(items) == 5
    assert [i["command"] for i in items] == [list(j.argv) for j in shards]
    assert [i["job_id"] for i in items] == [j.id for j in shards]
    step2 = states["Step2"]
    assert step2["Type"] == "Map" and step2["ItemsPath"] == "$.shards" and step2["MaxConcurrency"] == 50
    assert step2["ItemSelector"]["command.$"] == "$$.Map.Item.Value.command"
    shard = step2["ItemProcessor"]["States"]["Shard"]
    assert shard["Resource"] == BATCH_SYNC
    assert shard["Parameters"]["ContainerOverrides"]["Command.$"] == "$.command"
    assert shard["Parameters"]["Timeout"] == {"AttemptDurationSeconds": 3600}


def test_export_stepfunctions__retry_and_catch_on_every_batch_task() -> None:
    tasks = [(n, s) for _, n, s in _all_states(_export()["States"]) if s.get("Resource") == BATCH_SYNC]
    assert {n for n, _ in tasks} == {"Step1", "Shard", "Cleanup"}
    for name, task in tasks:
        failed = [r for r in task["Retry"] if r["ErrorEquals"] == ["States.TaskFailed"]]
        assert failed == [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 10, "BackoffRate": 2.0,
                           "MaxAttempts": 3, "MaxDelaySeconds": 300}], name  # fmt: skip
        assert any("Batch.TooManyRequestsException" in r["ErrorEquals"] for r in task["Retry"])
        assert task["Catch"][0]["ErrorEquals"] == ["States.ALL"]
        strategy = task["Parameters"]["RetryStrategy"]
        assert strategy["Attempts"] == 4  # 1 + max_interruptions: spot reclaims retried by Batch itself
        assert strategy["EvaluateOnExit"][0] == {"OnStatusReason": "Host EC2*", "Action": "RETRY"}


def test_export_stepfunctions__catch_writes_failure_record_to_dynamodb() -> None:
    processor = _export()["States"]["Step2"]["ItemProcessor"]["States"]
    assert processor["Shard"]["Catch"][0]["Next"] == "RecordShardFailure"
    record = processor["RecordShardFailure"]
    assert record["Resource"] == DYNAMODB_PUT and record["Parameters"]["TableName"] == "gwas-failures"
    item = record["Parameters"]["Item"]
    assert item["run_id"] == {"S": "biobank"} and item["job_id"] == {"S.$": "$.job_id"}
    assert item["error_type"] == {"S.$": "$.error.Error"} and record["Next"] == "ShardFailed"
    assert processor["ShardFailed"]["Parameters"]["ok"] is False
    without = _export(failure_table=None)["States"]["Step2"]["ItemProcessor"]["States"]["RecordShardFailure"]
    assert without["Type"] == "Pass"


def test_export_stepfunctions__every_next_is_defined_and_every_state_reached() -> None:
    definition = _export()
    for block, name, state in _all_states(definition["States"]):
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])]
        for target in filter(None, targets):
            assert target in block, f"{name} -> {target}"
        assert state.get("End") or state.get("Next") or state["Type"] in ("Choice", "Succeed", "Fail"), name
    reached = {"Stage"}
    for _, _, state in _all_states(definition["States"]):
        reached |= {state.get("Next"), state.get("Default")} | {c["Next"] for c in state.get("Choices", [])}
        reached |= {c["Next"] for c in state.get("Catch", [])}
    assert set(definition["States"]) <= reached


def test_export_stepfunctions__keep_workspace_and_no_step1() -> None:
    spec = _spec(keep_workspace=True, step1={"skip": True, "predictions": "/fsx/in/pred.list"})
    states = _export(spec)["States"]
    assert "Step1" not in states and states["Stage"]["Next"] == "Shards"
    assert states["Cleanup"]["Type"] == "Pass" and states["Cleanup"]["Next"] == "RunFailed"


def test_export_stepfunctions__builtin_engine_needs_an_image() -> None:
    spec = _spec(engine={"kind": "builtin"})
    with pytest.raises(ValueError, match="no container image"):
        export_stepfunctions(spec, _graph(spec), job_queue="q", job_definition_prefix="gwasflow", failure_table=None)
    definition = export_stepfunctions(spec, _graph(spec), job_queue="q", job_definition_prefix="gwasflow",
                                      failure_table=None, image="example.org/gwasflow:1.0")  # fmt: skip
    assert definition["States"]["Step1"]["Parameters"]["JobDefinition"].startswith("gwasflow-gwasflow-1-0-")


def test_required_job_definitions__one_per_image_and_resources() -> None:
    needed = required_job_definitions(_graph(_spec()), job_definition_prefix="gwasflow")
    assert needed == [{"name": definition_name("gwasflow", f"{IMAGE}:v4.1.2", 1, 2048, None),
                       "image": f"{IMAGE}:v4.1.2", "vcpus": 1, "memory_mb": 2048}]  # fmt: skip


def test_export_stepfunctions__created_in_moto_step_functions(aws_endpoint: str) -> None:
    import boto3

    text = json.dumps(_export())
    iam = boto3.client("iam")
    role = iam.create_role(RoleName=f"gwasflow-sfn-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}")
    sfn = boto3.client("stepfunctions")
    arn = sfn.create_state_machine(name="gwasflow-biobank", definition=text, roleArn=role["Role"]["Arn"])[
        "stateMachineArn"
    ]
    stored = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
    assert stored == json.loads(text)
    assert stored["States"]["Step2"]["Type"] == "Map" and len(stored["States"]["Shards"]["Result"]) == 5


def test_main_export__writes_definition_from_a_spec_file(
    regenie_example: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = regenie_example / "inputs"
    spec = {
        "name": "example",
        "datasets": [{"bed": str(inputs / "example")}],
        "phenotypes": {"file": str(inputs / "phenotype.txt"), "columns": ["Y1", "Y2"]},
        "step2": {"variants_per_job": 250},
        "engine": {"kind": "regenie", "image": IMAGE, "version": "4.1.2"},
        "executor": {"kind": "local", "settings": {}},
        "failure_log": "dynamodb:gwas-failures",
        "workdir": str(tmp_path / "work"),
        "outdir": str(tmp_path / "out"),
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    out = tmp_path / "machine.json"
    assert main_export(path, "stepfunctions", out, job_queue="gwas-spot") == 0
    definition = json.loads(out.read_text())
    assert len(definition["States"]["Shards"]["Result"]) == 4
    record = definition["States"]["Step2"]["ItemProcessor"]["States"]["RecordShardFailure"]
    assert record["Parameters"]["TableName"] == "gwas-failures"
    assert "job definition gwasflow-regenie-v4-1-2-1c-2048m-" in capsys.readouterr().err
    assert main_export(path, "stepfunctions", out) == 2  # no job queue anywhere
    assert main_export(path, "airflow", out, job_queue="q") == 2


def test_export_stepfunctions__a_plan_with_step1_qc_is_refused() -> None:
    spec = _spec(step1={"qc": {"maf": 0.01}})
    graph = _graph(spec)
    assert graph.by_step(Step.QC), "the plan has a qc job"
    with pytest.raises(ValueError, match=r"^step1\.qc: the Step Functions export does not run the QC stage"):
        export_stepfunctions(spec, graph, job_queue="q", job_definition_prefix="gwasflow", failure_table=None)
