from __future__ import annotations

from typing import Any

import pytest

from gwasflow.plan.commands import (
    FLAGS,
    flags_for,
    image_reference,
    launcher_for,
    missing_flags,
    parse_version,
    step1_flags,
    step2_flags,
)
from gwasflow.spec.model import EngineSpec, RunSpec


def _spec(**fields: Any) -> RunSpec:
    data: dict[str, Any] = {
        "name": "r",
        "datasets": [{"bed": "/d/x"}],
        "phenotypes": {"file": "/d/p.txt", "columns": ["Y1", "Y2"]},
        "workdir": "/w",
        "outdir": "/o",
    }
    data.update(fields)
    return RunSpec.model_validate(data)


def test_flags__every_emitted_flag_has_a_version() -> None:
    spec = _spec(covariates={"file": "/d/c.txt", "columns": ["V1"]})
    assert set(flags_for(spec)) <= set(FLAGS)
    for flag, version in FLAGS.items():
        assert flag.startswith("--")
        assert parse_version(version) >= (1, 0)


def test_flags__known_introductions() -> None:
    assert FLAGS["--range"] == "1.0.6.8"
    assert FLAGS["--gz"] == "1.0.5.6"
    assert FLAGS["--use-relative-path"] == "2.2"
    assert FLAGS["--step"] == "1.0"


@pytest.mark.parametrize(
    ("text", "want"),
    [("4.1.2", (4, 1, 2)), ("v4.1.2.gz", (4, 1, 2)), ("REGENIE v3.0.3", (3, 0, 3)), ("2.2", (2, 2))],
)
def test_parse_version__tolerates_decorations(text: str, want: tuple[int, ...]) -> None:
    assert parse_version(text) == want


def test_parse_version__no_number() -> None:
    with pytest.raises(ValueError, match="no version"):
        parse_version("latest")


@pytest.mark.parametrize(
    ("version", "flag", "missing"),
    [
        ("4.1.2", "--use-relative-path", False),
        ("3.0", "--use-relative-path", False),
        ("2.2.4", "--use-relative-path", False),
        ("2.2", "--use-relative-path", False),
        ("2.0.2", "--use-relative-path", True),
        ("1.0.6.8", "--range", False),
        ("1.0.6.7", "--range", True),
        ("1.0.6", "--range", True),
        ("1.0.10", "--range", False),  # numeric, not lexical, comparison
        ("v1.0.5.6.gz", "--gz", False),
        ("1.0.5.5", "--gz", True),
    ],
)
def test_missing_flags__version_comparison(version: str, flag: str, missing: bool) -> None:
    assert missing_flags(version, [flag]) == ([(flag, FLAGS[flag])] if missing else [])


def test_missing_flags__unknown_flags_ignored_and_duplicates_once() -> None:
    assert missing_flags("1.0", ["--range", "--made-up", "--range"]) == [("--range", "1.0.6.8")]


def test_launcher_for__three_engines() -> None:
    assert launcher_for(EngineSpec(), python="/py").argv(["--step", "1"]) == (
        "/py", "-m", "gwasflow", "regenie", "--step", "1",
    )  # fmt: skip
    binary = launcher_for(EngineSpec(kind="regenie", binary="/opt/regenie"))
    assert binary.argv(["--step", "2"]) == ("/opt/regenie", "--step", "2")
    assert binary.image is None
    image = launcher_for(EngineSpec(kind="regenie", image="ghcr.io/rgcgithub/regenie/regenie", version="4.1.2"))
    assert image.argv(["--step", "2"]) == ("regenie", "--step", "2")
    assert image.image == "ghcr.io/rgcgithub/regenie/regenie:v4.1.2"


def test_image_reference__keeps_explicit_tag_or_digest() -> None:
    assert image_reference("reg:5000/regenie", "4.1") == "reg:5000/regenie:v4.1"
    assert image_reference("regenie:v4.1.gz", "4.1") == "regenie:v4.1.gz"
    assert image_reference("regenie@sha256:ab", "4.1") == "regenie@sha256:ab"


def test_step1_flags__full_command() -> None:
    spec = _spec(covariates={"file": "/d/c.txt", "columns": ["V1", "V2"]}, step1={"bsize": 100})
    assert step1_flags(spec, genotypes=["--bed", "/d/x"], out="/w/step1/r", lowmem_prefix="/w/step1/tmp") == [
        "--step", "1", "--bed", "/d/x", "--phenoFile", "/d/p.txt", "--phenoColList", "Y1,Y2",
        "--covarFile", "/d/c.txt", "--covarColList", "V1,V2", "--bsize", "100",
        "--lowmem", "--lowmem-prefix", "/w/step1/tmp", "--threads", "1", "--out", "/w/step1/r",
    ]  # fmt: skip


def test_step1_flags__no_lowmem_no_covariates() -> None:
    flags = step1_flags(_spec(step1={"lowmem": False}), genotypes=["--bed", "/d/x"], out="/o", lowmem_prefix="/t")
    assert "--lowmem" not in flags and "--covarFile" not in flags


def test_step2_flags__shard_command() -> None:
    spec = _spec(step2={"gz": False, "bsize": 200}, engine={"threads": 4})
    flags = step2_flags(spec, genotypes=["--bed", "/d/x"], phenotypes=["Y2"], pred="/w/p.list", range_="2:5-9",
                        out="/w/s")
    assert flags == [
        "--step", "2", "--bed", "/d/x", "--phenoFile", "/d/p.txt", "--phenoColList", "Y2",
        "--bsize", "200", "--pred", "/w/p.list", "--range", "2:5-9", "--threads", "4", "--out", "/w/s",
    ]  # fmt: skip


def test_flags_for__skipped_step1_has_no_lowmem() -> None:
    spec = _spec(step1={"skip": True, "predictions": "/p.list"})
    assert "--lowmem" not in flags_for(spec)
    assert {"--range", "--pred", "--gz"} <= set(flags_for(spec))
