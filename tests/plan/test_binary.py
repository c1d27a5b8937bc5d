"""Binary traits in the plan: --bt in both steps, the chosen correction and its threshold in step 2."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gwasflow.core.states import Step
from gwasflow.plan.build import build_graph
from gwasflow.plan.commands import FLAGS, flags_for, step1_flags, step2_flags

from .test_build import _datasets, _spec


def _step2(**fields: object) -> list[str]:
    return step2_flags(_spec(**fields), genotypes=["--bed", "p"], phenotypes=["Y1"], pred="x", range_="1:1-9", out="o")


@pytest.mark.parametrize(
    ("correction", "expected"),
    [
        (None, ["--bt", "--firth", "--approx", "--pThresh", "0.05"]),
        ("firth_approx", ["--bt", "--firth", "--approx", "--pThresh", "0.05"]),
        ("firth", ["--bt", "--firth", "--pThresh", "0.05"]),
        ("spa", ["--bt", "--spa", "--pThresh", "0.05"]),
    ],
)
def test_step2_flags__binary_correction(correction: str | None, expected: list[str]) -> None:
    flags = _step2(trait="binary", correction=correction)
    assert flags[flags.index("--bt") : flags.index("--bt") + len(expected)] == expected


def test_step2_flags__pthresh_is_passed_on() -> None:
    flags = _step2(trait="binary", correction="spa", pthresh=0.01)
    assert flags[flags.index("--pThresh") + 1] == "0.01"


def test_step1_flags__binary_adds_bt_only() -> None:
    flags = step1_flags(_spec(trait="binary"), genotypes=["--bed", "p"], out="o", lowmem_prefix="t")
    assert "--bt" in flags and "--firth" not in flags and "--spa" not in flags


def test_step_flags__quantitative_has_no_binary_flags() -> None:
    for flag in ("--bt", "--firth", "--spa", "--pThresh", "--approx"):
        assert flag not in _step2()


def test_flags_for__binary_flags_have_versions() -> None:
    assert set(flags_for(_spec(trait="binary", correction="firth"))) <= set(FLAGS)


def test_run_spec__correction_needs_binary_and_pthresh_in_range() -> None:
    with pytest.raises(ValidationError, match="binary"):
        _spec(correction="spa")
    with pytest.raises(ValidationError):
        _spec(trait="binary", pthresh=1.5)


def test_build_graph__binary_shards_carry_the_correction() -> None:
    graph = build_graph(_spec(trait="binary", correction="spa"), _datasets(), python="/py")
    for job in graph.by_step(Step.STEP2):
        assert "--spa" in job.argv and "--bt" in job.argv
    assert "--bt" in graph["step1"].argv and "--spa" not in graph["step1"].argv
