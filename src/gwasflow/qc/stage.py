"""The QC stage as one call: choose the engine, select, publish the lists step 1 reads.

Outputs for an output prefix ``O`` (each written to a temporary name, then renamed; all three are
computed before the first is written):

* ``O.snplist``: kept variant ids, one per line, file order (regenie ``--extract``);
* ``O.keep``: kept samples, ``FID IID`` per line, file order (regenie ``--keep``);
* ``O.qc.json``: engine, thresholds, counts in and kept, and the number each filter removed.

The planner's ``qc`` job before step 1 calls :func:`run_qc_stage` (or ``gwasflow qc``) and passes
``--extract O.snplist --keep O.keep`` to step 1.
"""

from __future__ import annotations

import json
from pathlib import Path

from gwasflow.qc.model import GenotypeFormat, QcConfig, QcEngine, QcResult
from gwasflow.storage.atomic import write_atomic

__all__ = ["EngineChoice", "output_paths", "run_qc", "run_qc_stage", "write_qc_outputs"]

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
                 kind: GenotypeFormat = GenotypeFormat.BED, *, threads: int | None = None) -> QcResult:
    """:func:`run_qc`, then :func:`write_qc_outputs`."""
    result = run_qc(prefix, config, engine, kind, threads=threads)
    write_qc_outputs(result, config, out_prefix)
    return result
