"""The machine's check, merge and report jobs (``python -m gwasflow.export.sfn.finish``), run here on
shard results written to a temporary folder as regenie writes them."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gwasflow.core.states import Step
from gwasflow.export.sfn.finish import main
from gwasflow.export.sfn.manifest import build_manifest
from gwasflow.plan.build import build_graph
from gwasflow.plan.meta import DatasetMeta
from gwasflow.plan.model import JobGraph
from tests.export import sfn_fixtures as fx

HEADER = "CHROM GENPOS ID ALLELE0 ALLELE1 A1FREQ N TEST BETA SE CHISQ LOG10P EXTRA\n"
POSITIONS = {"a": {"1": [1, 2, 3, 4, 5], "2": [1, 2, 3, 4]}, "b": {"3": [7, 9]}}


def _plan(tmp_path: Path) -> tuple[JobGraph, Path]:
    """The small plan with its workspace under ``tmp_path``, every shard's results written, and its plan.json."""
    run = fx.spec(workspace={"kind": "local"}, workdir=str(tmp_path / "work"), outdir=str(tmp_path / "out"))
    metas = []
    for label, chroms in POSITIONS.items():
        chroms_of = np.array([c for c, ps in chroms.items() for _ in ps])
        pos = np.array([p for ps in chroms.values() for p in ps], dtype=np.int64)
        metas.append(DatasetMeta(label, f"/in/{label}", 100, len(pos), chroms_of, pos))
    graph = build_graph(run, metas, python="python3")
    for job in graph.by_step(Step.STEP2):
        dataset, chrom = str(job.meta["dataset"]), str(job.meta["chrom"])
        rows = [p for p in POSITIONS[dataset][chrom] if job.meta["start"] <= p <= job.meta["end"]]
        for out in job.outputs:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            with gzip.open(out, "wt") as handle:
                handle.write(HEADER + "".join(f"{chrom} {p} v{chrom}_{p} A C 0.1 100 ADD 0.5 0.1 25 6.2 NA\n"
                                              for p in rows))  # fmt: skip
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(build_manifest(run, graph).plan))
    return graph, plan


def _rows(path: Path) -> list[str]:
    with gzip.open(path, "rt") as handle:
        return handle.read().splitlines()[1:]


def test_main__check_names_a_missing_shard_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    graph, plan = _plan(tmp_path)
    assert main(["check", "--plan", str(plan), "--datasets", '["a", "b"]']) == 0
    assert "every output of 6 shard(s) present" in capsys.readouterr().out
    gone = Path(graph.by_step(Step.STEP2)[-1].outputs[1])  # dataset b's Y2
    gone.unlink()
    assert main(["check", "--plan", str(plan), "--datasets", '["a", "b"]']) == 1
    assert capsys.readouterr().err.strip() == f"gwasflow finish check: 1 step 2 output(s) missing, first: {gone}"
    assert main(["check", "--plan", str(plan), "--datasets", '["a"]']) == 0  # b not run: not checked


def test_main__merge_then_report_write_results_and_summary(tmp_path: Path) -> None:
    _, plan = _plan(tmp_path)
    assert main(["merge", "--plan", str(plan), "--datasets", '["a", "b"]']) == 0
    merged = _rows(tmp_path / "out" / "results" / "Y1.regenie.gz")
    assert [tuple(r.split("\t")[:2]) for r in merged] == [("1", "1"), ("1", "2"), ("1", "3"), ("1", "4"), ("1", "5"),
                                                          ("2", "1"), ("2", "2"), ("2", "3"), ("2", "4"),
                                                          ("3", "7"), ("3", "9")]  # fmt: skip
    assert (tmp_path / "out" / "results" / "Y2.regenie.gz.tbi").is_file()
    assert main(["report", "--plan", str(plan), "--datasets", '["a", "b"]', "--skip-step1", "true"]) == 0
    summary = (tmp_path / "out" / "summary.tsv").read_text().splitlines()
    assert [line.split("\t")[:2] for line in summary[1:]] == [["Y1", "11"], ["Y2", "11"]]
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Y1" in html and "Y2" in html and "data:image/png;base64," in html  # each phenotype's plots
    assert "regenie 4.1.2" in html  # the engine, from the spec in plan.json
    assert _step_row(html, "step1") == ["step1", "1", "0", "1"]  # jobs, succeeded, pending: step 1 was skipped
    assert _step_row(html, "step2") == ["step2", "6", "6", "0"]
    assert main(["report", "--plan", str(plan), "--datasets", '["a", "b"]', "--skip-step1", "false"]) == 0
    assert _step_row((tmp_path / "out" / "report.html").read_text(), "step1") == ["step1", "1", "1", "0"]


def _step_row(html: str, step: str) -> list[str]:
    """The first four cells of a step's row in the report's metrics table."""
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        cells = [re.sub(r"<[^>]+>|\s+", "", c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
        if cells[:1] == [step]:
            return cells[:4]
    raise AssertionError(f"no row for {step}")


def test_main__merge_of_one_dataset_skips_the_row_count_check(tmp_path: Path) -> None:
    _, plan = _plan(tmp_path)
    assert main(["merge", "--plan", str(plan), "--datasets", '["b"]']) == 0
    assert [r.split("\t")[1] for r in _rows(tmp_path / "out" / "results" / "Y1.regenie.gz")] == ["7", "9"]


def test_main__bad_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, plan = _plan(tmp_path)
    assert main(["check", "--plan", str(plan), "--datasets", '["c"]']) == 2
    assert capsys.readouterr().err.strip() == "gwasflow finish check: datasets: unknown c; known: a, b"
    assert main(["check", "--plan", str(plan), "--datasets", '"a"']) == 2
    (tmp_path / "bad.json").write_text("{}")
    assert main(["check", "--plan", str(tmp_path / "bad.json"), "--datasets", "[]"]) == 2
    assert "not a gwasflow plan.json" in capsys.readouterr().err


def test_main__runs_as_the_machine_runs_it(tmp_path: Path) -> None:
    _, plan = _plan(tmp_path)
    argv = [sys.executable, "-m", "gwasflow.export.sfn.finish", "check", "--plan", str(plan), "--datasets", '["a"]']
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "every output of 5 shard(s) present" in done.stdout


def test_main__predictions_copies_a_prediction_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "old" / "fit_pred.list"
    source.parent.mkdir()
    source.write_text("Y1 /fsx/data/old/fit_1.loco\nY2 /fsx/data/old/fit_2.loco\n")
    target = tmp_path / "work" / "step1" / "biobank_pred.list"
    assert main(["predictions", "--from", str(source), "--to", str(target)]) == 0
    assert target.read_text() == source.read_text() and not list(target.parent.glob(".*"))
    (tmp_path / "bad.list").write_text("not a list at all\n")
    assert main(["predictions", "--from", str(tmp_path / "bad.list"), "--to", str(target)]) == 2
    assert "not a prediction list" in capsys.readouterr().err
    assert target.read_text() == source.read_text()  # the earlier copy stays
    assert main(["predictions", "--from", str(source)]) == 2
