"""The cleanup machine's definition (executed in ``test_sfn_cleanup_moto.py``)."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from gwasflow.export.sfn.cleanup import cleanup_definition
from tests.export import sfn_fixtures as fx


def _targets(state: dict[str, Any]) -> set[str]:
    found = {state.get("Next"), state.get("Default")}
    found |= {c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])}
    return {t for t in found if t}


def test_cleanup_definition__every_next_is_defined_and_every_state_reached() -> None:
    states = fx.export().cleanup["States"]
    reached, todo = set(), ["Configure"]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo += sorted(_targets(states[name]))  # KeyError: a Next to no state
    assert reached == set(states)  # Step Functions refuses a definition with a state nothing reaches


def test_cleanup_definition__finds_then_deletes_and_creates_nothing() -> None:
    definition = cleanup_definition(prefix="gwasflow", poll_seconds=30, max_polls=60)
    states = definition["States"]
    resources = [str(s.get("Resource", "")) for s in states.values()]
    assert not [r for r in resources if ":create" in r.lower() or ":submitJob" in r]
    order = ["FindJobQueue", "FindComputeEnvironment", "FindLaunchTemplate", "FindFileSystem", "Cleanup"]
    assert [states[order[0]]["Next"]] == ["JobQueueFound"]
    for found, then in pairwise(order):  # each find, found or not (or failed), goes on
        name = found.removeprefix("Find")
        if name != "FileSystem":
            assert states[f"{name}Found"]["Choices"][0]["Next"] == then and states[f"Keep{name}"]["Next"] == then
        assert states[found]["Catch"][0] == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.outcome", "Next": then}
    assert states["KeepFileSystem"]["Next"] == "FindAssociation" and states["KeepAssociation"]["Next"] == "Cleanup"
    filters = states["FindLaunchTemplate"]["Parameters"]["Filters"]
    assert {f["Name"] for f in filters} == {"launch-template-name", "tag:gwasflow:execution"}
    assert states["Configure"]["Parameters"]["run_id.$"] == "$.detail.name"  # the EventBridge event's
    assert states["NameUsable"]["Choices"][0]["Next"] == "NothingMade"
