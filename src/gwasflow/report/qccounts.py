"""The QC stage's counts in a run's outputs: ``<outdir>/qc.tsv``, read back by the HTML report.

The ``qc`` job (``gwasflow qc``) writes ``<workdir>/qc/step1.qc.json``; the report job turns it into
``qc.tsv`` next to ``summary.tsv``, one ``step<TAB>removed<TAB>left`` row per stage, in plink2's order
(``mind`` leaves samples, the variant filters leave variants; the sample list of the spec last):

    step            removed  left
    variants_in     0        388
    samples_in      0        300
    mind            13       287
    ...
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from gwasflow.core.atomic import write_atomic
from gwasflow.qc.model import QcFilter

__all__ = ["DATASET_QC_DIR", "QC_TABLE_NAME", "QcRow", "qc_event_fields", "qc_rows", "read_dataset_qc_tables",
           "read_qc_table", "write_qc_table"]

QC_TABLE_NAME = "qc.tsv"
DATASET_QC_DIR = "qc"  # <outdir>/qc/<file label>.tsv: the per-dataset variant QC before step 2, same columns
_SAMPLE_FILTERS = frozenset({QcFilter.MIND})
_LIST = "sample_list"


@dataclass(frozen=True)
class QcRow:
    """One stage of the QC: how many it removed and how many variants (or samples) were left after it."""

    step: str
    removed: int
    left: int


def qc_rows(qc_json: Path) -> list[QcRow]:
    """The rows of ``qc.tsv`` from the ``.qc.json`` of ``gwasflow qc``; ValueError when it is malformed."""
    try:
        data = json.loads(qc_json.read_text())
        variants, samples = int(data["variants_in"]), int(data["samples_in"])
        removed = {QcFilter(k): int(v) for k, v in data["removed"].items()}
        listed = data.get("sample_list_removed")
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{qc_json}: not a gwasflow qc summary ({type(exc).__name__}: {exc})") from None
    rows = [QcRow("variants_in", 0, variants), QcRow("samples_in", 0, samples)]
    for name in QcFilter:
        if name not in removed:
            continue
        if name in _SAMPLE_FILTERS:
            samples -= removed[name]
            rows.append(QcRow(name.value, removed[name], samples))
        else:
            variants -= removed[name]
            rows.append(QcRow(name.value, removed[name], variants))
    if listed is not None:
        samples -= int(listed)
        rows.append(QcRow(_LIST, int(listed), samples))
    return rows


def qc_event_fields(rows: list[QcRow]) -> dict[str, object]:
    """The ``qc_counts`` event's fields: counts in, removed per stage, and left at the end."""
    stages = rows[2:]
    sample_steps = {f.value for f in _SAMPLE_FILTERS} | {_LIST}
    variant_rows = [r for r in rows[:1] + stages if r.step not in sample_steps]
    sample_rows = [r for r in rows[1:2] + stages if r.step in sample_steps or r.step == "samples_in"]
    return {"variants_in": rows[0].left, "samples_in": rows[1].left,
            "removed": {r.step: r.removed for r in stages},
            "variants_kept": variant_rows[-1].left, "samples_kept": sample_rows[-1].left}


def write_qc_table(rows: list[QcRow], path: Path) -> None:
    """Write ``qc.tsv`` atomically."""
    text = "step\tremoved\tleft\n" + "".join(f"{r.step}\t{r.removed}\t{r.left}\n" for r in rows)
    write_atomic(path, text)


def read_dataset_qc_tables(outdir: Path) -> dict[str, list[QcRow]]:
    """The per-dataset QC tables of a run (``<outdir>/qc/<label>.tsv``), by file label, in name order."""
    folder = outdir / DATASET_QC_DIR
    if not folder.is_dir():
        return {}
    return {path.name.removesuffix(".tsv"): read_qc_table(path) for path in sorted(folder.glob("*.tsv"))}


def read_qc_table(path: Path) -> list[QcRow]:
    """The rows of a ``qc.tsv`` (empty when there is none: the run had no QC)."""
    if not path.is_file():
        return []
    rows: list[QcRow] = []
    for line in path.read_text().splitlines()[1:]:
        step, removed, left = line.split("\t")
        rows.append(QcRow(step, int(removed), int(left)))
    return rows
