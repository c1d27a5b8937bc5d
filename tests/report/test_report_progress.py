"""The report's progress display, the cases/controls it reads from step 2 logs, and ``gwasflow --help``."""

from __future__ import annotations

from pathlib import Path

import pytest

from gwasflow.cli import DESCRIPTION, main
from gwasflow.report.html import write_report
from gwasflow.report.pages import case_control_counts
from gwasflow.report.progress import PlainItemProgress
from tests.report.test_html import _run


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def start(self, description: str, total: int) -> None:
        self.calls.append(("start", total))

    def advance(self, what: str) -> None:
        self.calls.append(("advance", what))

    def close(self) -> None:
        self.calls.append(("close", None))


def test_write_report__progress_told_of_each_phenotype_then_the_pages_and_the_report(tmp_path: Path) -> None:
    rundir, store, graph = _run(tmp_path)
    recorder = _Recorder()
    write_report(rundir=rundir, store=store, run_id="run-1", graph=graph, progress=recorder)
    assert recorder.calls == [("start", 4), ("advance", "Y1"), ("advance", "Y2"), ("advance", "index.html"),
                              ("advance", "report.html"), ("close", None)]  # fmt: skip


def test_plain_item_progress__a_line_when_due_and_at_the_last_item(capsys: pytest.CaptureFixture[str]) -> None:
    progress = PlainItemProgress(every_s=3600)
    progress.start("report", 3)
    progress.advance("Y1")
    progress.advance("Y2")
    assert capsys.readouterr().err == ""
    progress.advance("report.html")
    assert capsys.readouterr().err == "report: 3/3 report.html\n"
    eager = PlainItemProgress(every_s=0)
    eager.start("report", 2)
    eager.advance("Y1")
    assert capsys.readouterr().err == "report: 1/2 Y1\n"


def test_case_control_counts__from_the_first_log_that_names_the_trait(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text(" * case-control counts for each trait:\n   - 'Y1': 121 cases and 379 controls\n")
    (tmp_path / "b.log").write_text(" * case-control counts for each trait:\n   - 'Y2': 115 cases and 385 controls\n"
                                    "   - 'Y1': 1 cases and 2 controls\n")  # fmt: skip
    logs = [tmp_path / "missing.log", tmp_path / "a.log", tmp_path / "b.log"]
    assert case_control_counts(logs, "Y1") == (121, 379)
    assert case_control_counts(logs, "Y2") == (115, 385)
    assert case_control_counts(logs, "Y3") is None


def test_main__help_shows_a_sentence_for_users(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert DESCRIPTION in out and "gwasflow demo" in out
    assert "dispatch" not in out and "handler" not in out
