"""The QC stage as one call: choose the engine, select, publish the lists step 1 reads.

Outputs for an output prefix ``O`` (each written to a temporary name, then renamed; all three are
computed before the first is written):

* ``O.snplist``: kept variant ids, one per line, file order (regenie ``--extract``);
* ``O.keep``: kept samples, ``FID IID`` per line, file order (regenie ``--keep``);
* ``O.qc.json``: engine, thresholds, counts in and kept, and the number each filter removed.

The planner's ``qc`` job before step 1 calls :func:`run_qc_stage` (or ``gwasflow qc``) and passes
``--extract O.snplist --keep O.keep`` to step 1. A run's own sample list (``--keep`` or ``--remove``
file of ``FID IID`` lines) is applied to ``O.keep`` (:func:`apply_sample_list`), since regenie takes
one ``--keep`` and refuses ``--keep`` with ``--remove``; the QC statistics are those of every sample.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from gwasflow.core.atomic import write_atomic
from gwasflow.qc.model import GenotypeFormat, QcConfig, QcEngine, QcResult
from gwasflow.regenie.io.lists import read_sample_list

__all__ = ["EngineChoice", "SampleList", "apply_sample_list", "output_paths", "run_qc", "run_qc_stage",
           "write_qc_outputs"]

EngineChoice = QcEngine | None  # None: plink2 when it is on PATH, else the built-in engine


def run_qc(prefix: str, config: QcConfig, engine: EngineChoice = None,
           kind: GenotypeFormat = GenotypeFormat.BED, *, threads: int | None = None) -> QcResult:
    """Select variants and samples of ``PREFIX.bed/.bim/.fam`` (or .pgen) with the chosen (or available) engine;
    ``threads`` caps plink2's (the built-in engine uses one)."""
    from gwasflow.qc.plink2 import find_plink2, run_plink2_qc

    if engine is None:
        engine = QcEngine.PLINK2 if find_plink2() else QcEngine.BUILTIN
    if engine is QcEngine.PLINK2:
        return run_plink2_qc(prefix, config, kind, threads=threads)
    from gwasflow.qc.filters import run_builtin_qc

    return run_builtin_qc(prefix, config, kind)


@dataclasses.dataclass(frozen=True)
class SampleList:
    """A run's sample list: keep only (``keep=True``) or leave out the ``FID IID`` lines of ``path``."""

    path: Path
    keep: bool


def apply_sample_list(result: QcResult, samples: SampleList) -> QcResult:
    """``result`` with its kept samples restricted to (or purged of) the list's; the count it removed is
    ``sample_list_removed``."""
    listed = read_sample_list([str(samples.path)], "--keep" if samples.keep else "--remove")
    kept = tuple(s for s in result.samples if (s in listed) == samples.keep)
    return dataclasses.replace(result, samples=kept, sample_list_removed=len(result.samples) - len(kept))


def output_paths(out_prefix: Path) -> dict[str, Path]:
    """The stage's output files for ``out_prefix``: ``snplist``, ``keep`` and ``json``."""
    return {"snplist": Path(f"{out_prefix}.snplist"), "keep": Path(f"{out_prefix}.keep"),
            "json": Path(f"{out_prefix}.qc.json")}


def write_qc_outputs(result: QcResult, config: QcConfig, out_prefix: Path) -> dict[str, Path]:
    """Publish ``result`` under ``out_prefix`` (see the module docstring); return the paths."""
    paths = output_paths(out_prefix)
    texts = {
        "snplist": "".join(f"{v}\n" for v in result.variant_ids),
        "keep": "".join(f"{fid}\t{iid}\n" for fid, iid in result.samples),
        "json": json.dumps(result.to_json(config), indent=1) + "\n",
    }
    for key, path in paths.items():
        write_atomic(path, texts[key])
    return paths


def run_qc_stage(prefix: str, config: QcConfig, out_prefix: Path, engine: EngineChoice = None,
                 kind: GenotypeFormat = GenotypeFormat.BED, *, threads: int | None = None,
                 samples: SampleList | None = None) -> QcResult:
    """:func:`run_qc`, then :func:`apply_sample_list` (with ``samples``), then :func:`write_qc_outputs`."""
    result = run_qc(prefix, config, engine, kind, threads=threads)
    if samples is not None:
        result = apply_sample_list(result, samples)
    write_qc_outputs(result, config, out_prefix)
    return result
