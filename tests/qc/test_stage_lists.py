"""Issue 12: the run's sample list applied to the QC keep list, and the QC counts as ``qc.tsv`` rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gwasflow.errors import EngineInputError
from gwasflow.qc.model import QcConfig, QcEngine, QcFilter, QcResult
from gwasflow.qc.stage import SampleList, apply_sample_list
from gwasflow.report.qccounts import QcRow, qc_event_fields, qc_rows, read_qc_table, write_qc_table

RESULT = QcResult(engine=QcEngine.BUILTIN, variant_ids=("rs1", "rs3"),
                  samples=(("F1", "I1"), ("F1", "I2"), ("F2", "I3")), n_variants_in=5, n_samples_in=4,
                  removed={QcFilter.MIND: 1, QcFilter.GENO: 2, QcFilter.PRUNE: 1})


def test_apply_sample_list__keep_and_remove(tmp_path: Path) -> None:
    listed = tmp_path / "list.txt"
    listed.write_text("F1 I2\nF2\tI3 extra\n\nF9 I9\n")
    kept = apply_sample_list(RESULT, SampleList(listed, keep=True))
    assert kept.samples == (("F1", "I2"), ("F2", "I3")) and kept.sample_list_removed == 1
    removed = apply_sample_list(RESULT, SampleList(listed, keep=False))
    assert removed.samples == (("F1", "I1"),) and removed.sample_list_removed == 2
    assert removed.to_json(QcConfig())["sample_list_removed"] == 2
    assert "sample_list_removed" not in RESULT.to_json(QcConfig())


def test_apply_sample_list__one_column_line_refused(tmp_path: Path) -> None:
    listed = tmp_path / "list.txt"
    listed.write_text("F1 I2\n\nI3\n")  # the blank line counts: the error names the file's own line 3
    with pytest.raises(EngineInputError, match=r"^--keep: .*list.txt: line 3: expected FID and IID$"):
        apply_sample_list(RESULT, SampleList(listed, keep=True))


def test_qc_rows__stages_in_order_with_what_is_left(tmp_path: Path) -> None:
    path = tmp_path / "qc.qc.json"
    path.write_text(json.dumps(apply_sample_list(RESULT, SampleList(_one(tmp_path), keep=False)).to_json(QcConfig())))
    rows = qc_rows(path)
    assert rows == [QcRow("variants_in", 0, 5), QcRow("samples_in", 0, 4), QcRow("mind", 1, 3),
                    QcRow("geno", 2, 3), QcRow("prune", 1, 2), QcRow("sample_list", 1, 2)]
    assert qc_event_fields(rows) == {"variants_in": 5, "samples_in": 4, "variants_kept": 2, "samples_kept": 2,
                                     "removed": {"mind": 1, "geno": 2, "prune": 1, "sample_list": 1}}
    table = tmp_path / "qc.tsv"
    write_qc_table(rows, table)
    assert table.read_text().splitlines()[:2] == ["step\tremoved\tleft", "variants_in\t0\t5"]
    assert read_qc_table(table) == rows
    assert read_qc_table(tmp_path / "absent.tsv") == []


def test_qc_rows__malformed_json_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.qc.json"
    path.write_text('{"variants_in": 3}')
    with pytest.raises(ValueError, match=r"bad.qc.json: not a gwasflow qc summary"):
        qc_rows(path)


def _one(tmp_path: Path) -> Path:
    path = tmp_path / "one.txt"
    path.write_text("F1 I1\n")
    return path
