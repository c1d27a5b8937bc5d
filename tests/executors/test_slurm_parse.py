"""Parsers of Slurm output, on text captured from a real Slurm 22.05 (``tests/executors/captured/``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gwasflow.executors.slurm_parse import (
    expand_job_ids,
    parse_duration_s,
    parse_exit_code,
    parse_max_array_size,
    parse_memory_mb,
    parse_sacct,
    parse_sbatch,
    parse_squeue,
)

CAPTURED = Path(__file__).parent / "captured"


def _read(name: str) -> str:
    return (CAPTURED / name).read_text()


def test_parse_sbatch__plain_and_with_cluster() -> None:
    assert parse_sbatch(_read("sbatch_parsable.txt")) == "13"
    assert parse_sbatch(_read("sbatch_parsable_cluster.txt")) == "14"


@pytest.mark.parametrize("name", ["sbatch_array_too_big.txt", "sbatch_mem_unsatisfiable.txt"])
def test_parse_sbatch__error_text_raises(name: str) -> None:
    with pytest.raises(ValueError, match="no job id"):
        parse_sbatch(_read(name))
    with pytest.raises(ValueError):
        parse_sbatch("")


def test_parse_sacct__outcomes_of_plain_jobs_and_array_tasks() -> None:
    jobs = parse_sacct(_read("sacct_mixed.txt"))
    assert (jobs["2"].state, jobs["2"].exit_code, jobs["2"].signal) == ("OUT_OF_MEMORY", 0, 125)
    assert jobs["3"].state == "TIMEOUT" and jobs["3"].elapsed_s == 78.0
    assert (jobs["4"].state, jobs["4"].state_detail) == ("CANCELLED", "by 0")
    assert (jobs["5"].state, jobs["5"].signal) == ("FAILED", 9)
    assert (jobs["1_3"].state, jobs["1_3"].exit_code) == ("FAILED", 3)
    assert [jobs[f"1_{i}"].state for i in (0, 1, 2, 4, 5)] == ["COMPLETED"] * 5
    assert jobs["1_0"].max_rss_mb == pytest.approx(228 / 1024)  # from the .batch step
    assert jobs["1_0"].cpu_s == pytest.approx(0.003)
    assert "1_0.batch" not in jobs


def test_parse_sacct__range_of_unstarted_tasks_expands() -> None:
    pending = parse_sacct(_read("sacct_pending_array.txt"))
    assert sorted(pending) == ["12_0", "12_1", "12_2", "12_3"]
    assert {j.state for j in pending.values()} == {"PENDING"}
    cancelled = parse_sacct(_read("sacct_mixed.txt"))
    assert [cancelled[f"12_{i}"].state for i in range(3)] == ["CANCELLED"] * 3


def test_parse_sacct__runner_outcomes() -> None:
    jobs = parse_sacct(_read("sacct_runner_outcomes.txt"))
    assert (jobs["27_0"].state, jobs["27_0"].exit_code) == ("FAILED", 124)  # stopped by the task runner
    assert jobs["27_0"].max_rss_mb == pytest.approx(9276 / 1024)
    assert jobs["28_0"].state == "OUT_OF_MEMORY"


def test_parse_sacct__ignores_short_and_empty_lines() -> None:
    assert parse_sacct("\n|||\nonly|two\n") == {}


def test_parse_squeue__running_pending_and_finished() -> None:
    jobs = parse_squeue(_read("squeue_running_array.txt"))
    assert (jobs["31_0"].state, jobs["31_1"].state) == ("RUNNING", "RUNNING")
    assert [jobs[f"31_{i}"].reason for i in range(2, 6)] == ["JobArrayTaskLimit"] * 4
    assert jobs["28_0"].state == "OUT_OF_MEMORY" and jobs["3"].state == "TIMEOUT"
    assert jobs["6_3"].state == "FAILED"


@pytest.mark.parametrize(
    ("text", "want"),
    [("13", ["13"]), ("13_4", ["13_4"]), ("13_[0-2]", ["13_0", "13_1", "13_2"]), ("13_[4-5%2]", ["13_4", "13_5"]),
     ("13_[1,3-4]", ["13_1", "13_3", "13_4"]), ("13_[7]", ["13_7"])],
)  # fmt: skip
def test_expand_job_ids__ranges(text: str, want: list[str]) -> None:
    assert expand_job_ids(text) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [("00:00:01", 1.0), ("00:01:18", 78.0), ("1-02:03:04", 93784.0), ("00:00.206", 0.206), ("02:03", 123.0),
     ("", None), ("INVALID", None), ("x:y", None)],
)  # fmt: skip
def test_parse_duration_s__formats(text: str, want: float | None) -> None:
    assert parse_duration_s(text) == (pytest.approx(want) if want is not None else None)


@pytest.mark.parametrize(
    ("text", "want"), [("228K", 228 / 1024), ("0", 0.0), ("1.5G", 1536.0), ("300M", 300.0), ("", None), ("9Q", None)]
)
def test_parse_memory_mb__units(text: str, want: float | None) -> None:
    assert parse_memory_mb(text) == (pytest.approx(want) if want is not None else None)


def test_parse_exit_code__halves() -> None:
    assert parse_exit_code("0:125") == (0, 125)
    assert parse_exit_code("3:0") == (3, 0)
    assert parse_exit_code("") == (0, 0)


def test_parse_max_array_size__from_scontrol_show_config() -> None:
    assert parse_max_array_size(_read("scontrol_show_config.txt")) == 1001
    assert parse_max_array_size("ClusterName = x\n") is None
