"""The cleanup half of the CloudFormation template: the rule, its role, the cleanup machine and its role."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gwasflow.export.cfn_cleanup import cleanup_for
from gwasflow.export.cloudformation import build_template, main
from tests.export import sfn_fixtures as fx

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gwasflow:latest"


def _sdk_calls(definition: dict[str, Any]) -> set[str]:
    calls = set()
    for state in definition["States"].values():
        resource = str(state.get("Resource", ""))
        if resource.startswith("arn:aws:states:::aws-sdk:"):
            service, _, action = resource.removeprefix("arn:aws:states:::aws-sdk:").partition(":")
            calls.add(f"{service}:{action[0].upper()}{action[1:]}")
    return calls


def _actions(role: dict[str, Any]) -> set[str]:
    return {a for s in role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"] for a in s["Action"]}


def test_cleanup_resources__rule_starts_the_cleanup_machine_on_stopped_runs_only() -> None:
    export = fx.export()
    resources = build_template(export.definition, image=IMAGE)["Resources"]
    rule = resources["CleanupRule"]["Properties"]
    assert rule["EventPattern"] == {"source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
                                    "detail": {"stateMachineArn": [{"Ref": "StateMachine"}],
                                               "status": ["ABORTED", "TIMED_OUT", "FAILED"]}}  # fmt: skip
    assert rule["Targets"] == [{"Id": "gwasflow-cleanup", "Arn": {"Ref": "CleanupStateMachine"},
                                "RoleArn": {"Fn::GetAtt": ["CleanupRuleRole", "Arn"]}}]  # fmt: skip
    rule_role = resources["CleanupRuleRole"]["Properties"]
    assert rule_role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}
    assert rule_role["Policies"][0]["PolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": {"Ref": "CleanupStateMachine"}}]
    machine = resources["CleanupStateMachine"]["Properties"]
    assert json.loads(machine["DefinitionString"]) == export.cleanup  # the export's, built from the definition
    assert machine["StateMachineName"] == {"Fn::Sub": "${StateMachineName}-cleanup"}


def test_cleanup_policy__allows_every_call_of_the_cleanup_machine_and_creates_nothing() -> None:
    export = fx.export()
    role = build_template(export.definition, image=IMAGE)["Resources"]["CleanupStateMachineRole"]
    calls, allowed = _sdk_calls(export.cleanup), _actions(role)
    assert {"batch:DescribeJobQueues", "ec2:DescribeLaunchTemplates", "fsx:DescribeFileSystems",
            "fsx:DeleteFileSystem", "batch:DeleteJobQueue"} <= calls  # fmt: skip
    assert calls - allowed == set()
    assert not [a for a in allowed if ":Create" in a or a == "iam:PassRole" or a.startswith("states:")]
    statements = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    delete_fs = next(s for s in statements if s["Action"] == ["fsx:DeleteFileSystem"])
    assert delete_fs["Condition"] == {"Null": {"aws:ResourceTag/gwasflow:execution": "false"}}  # a run's only


def test_cleanup_for__prefix_and_polls_of_the_run_machine() -> None:
    export = fx.export(job_definition_prefix="gwas_b")
    cleanup = cleanup_for(export.definition)
    assert cleanup == export.cleanup
    params = cleanup["States"]["Configure"]["Parameters"]
    assert params["names"] == {"compute.$": "States.Format('gwas_b-{}', $.detail.name)"}
    assert params["config"] == {"poll_seconds": 1, "max_polls": 60}  # the spec's poll_interval_s, timeout_s
    with pytest.raises(ValueError, match="pass --cleanup-definition"):
        cleanup_for({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}})


def test_main__cleanup_definition_file_is_embedded(tmp_path: Path) -> None:
    export = fx.export()
    machine, cleanup = tmp_path / "machine.json", tmp_path / "cleanup.json"
    machine.write_text(json.dumps(export.definition))
    given = {**export.cleanup, "Comment": "edited by hand"}
    cleanup.write_text(json.dumps(given))
    out = tmp_path / "t.yaml"
    assert main(["--definition", str(machine), "--image", IMAGE, "--cleanup-definition", str(cleanup),
                 "-o", str(out)]) == 0  # fmt: skip
    import yaml

    template = yaml.safe_load(out.read_text())
    assert json.loads(template["Resources"]["CleanupStateMachine"]["Properties"]["DefinitionString"]) == given
    cleanup.write_text("{")
    assert main(["--definition", str(machine), "--image", IMAGE, "--cleanup-definition", str(cleanup)]) == 2
