"""check_outputs: a typed problem for a job whose outputs are missing or incomplete."""

from __future__ import annotations

from pathlib import Path

from gwasflow.core.states import ErrorType, Step
from gwasflow.engine.classify import OutputProblem, classify
from gwasflow.engine.outputs import check_outputs
from gwasflow.plan.model import Job, JobKind


def _job(step: Step, *outputs: Path) -> Job:
    return Job(id="j", step=step, kind=JobKind.COMMAND, argv=("true",), outputs=tuple(str(p) for p in outputs))


def test_check_outputs__missing_is_typed_whatever_the_path_says(tmp_path: Path) -> None:
    gone = tmp_path / "truncated output" / "x.regenie.gz"  # the words in the path must not decide the type
    check = check_outputs(_job(Step.STEP2, gone))
    assert check is not None and check.problem is OutputProblem.MISSING
    assert str(gone) in check.detail and str(check).startswith("missing output: ")
    assert classify(exit_code=0, signal=None, output=check.problem) is ErrorType.MISSING_OUTPUT


def test_check_outputs__empty_prediction_list_is_truncated(tmp_path: Path) -> None:
    pred = tmp_path / "missing output_pred.list"
    pred.write_text("\n")
    check = check_outputs(_job(Step.STEP1, pred))
    assert check is not None and check.problem is OutputProblem.TRUNCATED
    assert "0 lines" in check.detail
    assert classify(exit_code=0, signal=None, output=check.problem) is ErrorType.TRUNCATED_OUTPUT


def test_check_outputs__complete_outputs_pass(tmp_path: Path) -> None:
    out = tmp_path / "merged.tsv"
    out.write_text("a\n")
    assert check_outputs(_job(Step.MERGE, out)) is None
