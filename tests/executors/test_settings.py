"""Executor settings as pydantic models: validated, one line per problem, printed with their help."""

from __future__ import annotations

import pytest

from gwasflow.cli import main
from gwasflow.executors.registry import check_settings, executor_kinds, settings_model
from gwasflow.executors.settings import LocalSettings, SlurmSettings


def test_main__executor_settings_prints_every_field_with_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["executor-settings", "slurm"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("executor: slurm")
    for name, info in SlurmSettings.model_fields.items():
        assert info.description and f"      {info.description}\n" in out
        assert f"\n  {name}: " in out
    assert "\n  max_parallel: int = 2\n" in out and "\n  partition: str | None = None\n" in out


def test_main__executor_settings_all_kinds_and_an_unknown_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["executor-settings"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[1] for line in out.splitlines() if line.startswith("executor: ")] == executor_kinds()
    assert main(["executor-settings", "kubernetes"]) == 2
    assert capsys.readouterr().err == "error: unknown executor kind 'kubernetes'; known: aws_batch, local, slurm\n"


def test_check_settings__one_line_per_problem_naming_the_setting() -> None:
    problems = check_settings("local", {"max_parallel": "4", "kill_grace_s": -1})
    assert problems == ["max_parallel: Input should be a valid integer",
                        "kill_grace_s: Input should be greater than or equal to 0"]


def test_settings_model__frozen_and_typed() -> None:
    settings = settings_model("local")(max_parallel=3)
    assert isinstance(settings, LocalSettings) and settings.max_parallel == 3 and settings.kill_grace_s == 5.0
    with pytest.raises(ValueError, match="frozen"):
        settings.max_parallel = 4  # type: ignore[misc]
    with pytest.raises(ValueError, match="unknown executor kind"):
        settings_model("nope")
